// The Grafana dashboard and the Prometheus alert rules refer to metrics by name, as text: a renamed metric
// would leave an empty panel or an alert that can never fire. These tests tie both files to the names
// src/ops/metrics.ts really exports, and run promtool on the rules and their unit tests.
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { createMetrics, exportedMetricNames } from '../../src/ops/metrics.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DASHBOARD_FILE = 'config/grafana/connect-profile-resolver.json';
const ALERTS_FILE = 'config/prometheus/alerts.yml';
const ALERT_TESTS_FILE = 'config/prometheus/alerts.test.yml';
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
// Series Prometheus itself adds to every scrape target.
const PROMETHEUS_SERIES = ['up'];

// ---------------------------------------------------------------------------------------------------------------
// Metric names in PromQL

const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression (or Grafana panel query) selects: every identifier in metric position,
 * that is not a function, keyword, label name, label value, grouping label, range or Grafana variable; plus
 * anything shaped like one of our names (/cpr_[a-z0-9_]+/) anywhere, so a name hidden in a string
 * (`{__name__="cpr_..."}`) is caught too.
 */
function metricNamesIn(expr: string): string[] {
  const names = new Set<string>(expr.match(/\bcpr_[a-z0-9_]+/g) ?? []);
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // strings: label values, le, printf formats
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ') // label lists
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ') // Grafana variables ($__rate_interval, ${datasource})
    .replace(/\boffset\s+-?\w+/gi, ' ');
  // a whole identifier, not part of a number (1e3) and not a function call
  for (const m of bare.matchAll(/(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()/g)) {
    if (!PROMQL_WORDS.has(m[0].toLowerCase())) names.add(m[0]);
  }
  return [...names].sort();
}

interface Expression {
  where: string;
  expr: string;
}

/** One line per metric name in `expressions` that is not in `known`, naming where it is used. */
function unknownMetricNames(expressions: Expression[], known: Iterable<string>): string[] {
  const allowed = new Set(known);
  return expressions.flatMap(({ where, expr }) =>
    metricNamesIn(expr)
      .filter((name) => !allowed.has(name))
      .map((name) => `${where}: ${name}`),
  );
}

let exported: string[] | undefined;
async function knownNames(): Promise<string[]> {
  exported ??= await exportedMetricNames(createMetrics());
  return exported;
}

function readRepoFile(file: string): string {
  return readFileSync(path.join(REPO_ROOT, file), 'utf8');
}

// ---------------------------------------------------------------------------------------------------------------
// The dashboard

interface Target {
  refId?: unknown;
  expr?: unknown;
  datasource?: unknown;
}
interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  datasource?: unknown;
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name?: unknown;
  type?: unknown;
  query?: unknown;
  datasource?: unknown;
}
interface Dashboard {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

function readDashboard(): Dashboard {
  return JSON.parse(readRepoFile(DASHBOARD_FILE)) as Dashboard;
}

/** Every panel, including those inside collapsed rows. */
function allPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

function queryPanels(dashboard: Dashboard): Panel[] {
  return allPanels(dashboard).filter((p) => p.type !== 'row');
}

/** The PromQL of a query variable: `label_values(<selector>, <label>)` selects <selector>. */
function variableExpression(query: unknown): string | undefined {
  const text = typeof query === 'string' ? query : (query as { query?: unknown } | undefined)?.query;
  if (typeof text !== 'string') return undefined;
  const labelValues = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/s.exec(text);
  if (labelValues) return labelValues[1];
  if (/^\s*label_values\(\s*\w+\s*\)\s*$/.test(text)) return ''; // label values of any series
  return /^\s*query_result\((.*)\)\s*$/s.exec(text)?.[1] ?? text;
}

function dashboardExpressions(dashboard: Dashboard): Expression[] {
  const fromPanels = queryPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${String(p.title)}" query ${String(t.refId)}`, expr: String(t.expr) })),
  );
  const fromVariables = (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable $${String(v.name)}`, expr: variableExpression(v.query) ?? '' }));
  return [...fromPanels, ...fromVariables];
}

// ---------------------------------------------------------------------------------------------------------------
// The alert rules

interface Rule {
  alert?: string;
  record?: string;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
interface RuleFile {
  groups?: { name?: string; rules?: Rule[] }[];
}
interface RuleTests {
  tests?: { alert_rule_test?: { alertname?: string; exp_alerts?: unknown[] }[] }[];
}

function readAlerts(): RuleFile {
  return parse(readRepoFile(ALERTS_FILE)) as RuleFile;
}

function allRules(file: RuleFile): Rule[] {
  return (file.groups ?? []).flatMap((g) => g.rules ?? []);
}

function alertExpressions(file: RuleFile): Expression[] {
  return allRules(file).map((r) => ({ where: `rule ${r.alert ?? r.record ?? '?'}`, expr: String(r.expr) }));
}

// ---------------------------------------------------------------------------------------------------------------
// promtool

function findPromtool(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'promtool');
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const bin = findPromtool();
  if (!bin) {
    expect.fail(
      '`promtool` is not on PATH: these tests check the alert rules with it. `npm test` runs scripts/ensure-tools.sh ' +
        'first, which installs it (Debian package prometheus); run `bash scripts/ensure-tools.sh`, or put promtool on PATH.',
    );
  }
  const run = spawnSync(bin, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

// ---------------------------------------------------------------------------------------------------------------

describe('observability config', () => {
  describe('the metric-name checker', () => {
    it('finds the metric names of an expression, not its functions, labels, label values or variables', () => {
      // Arrange
      const expr =
        'histogram_quantile(0.99, sum by (route, le) (rate(cpr_http_request_duration_seconds_bucket{job="$job", route="/v1/resolve", le=~"1e3|+Inf"}[$__rate_interval])))' +
        ' / ignoring (route) group_left () sum without (instance) (up{job="x"} offset 5m) > bool 1e3 and on (job) absent(process_cpu_seconds_total)';

      // Act
      const names = metricNamesIn(expr);

      // Assert
      expect(names).to.deep.equal(['cpr_http_request_duration_seconds_bucket', 'process_cpu_seconds_total', 'up']);
    });

    it('when an expression names a metric the service does not export, reports it with where it is used', async () => {
      // Arrange
      const known = await knownNames();
      const expressions = [
        { where: 'panel "ok"', expr: 'sum(rate(cpr_http_requests_total[5m]))' },
        { where: 'panel "typo"', expr: 'sum(rate(cpr_made_up_total{job="x"}[5m])) / sum(rate(cpr_http_requests_total[5m]))' },
        { where: 'panel "unprefixed"', expr: 'rate(process_cpu_seconds_total[5m])' },
        { where: 'panel "in a string"', expr: 'count({__name__="cpr_also_made_up"})' },
      ];

      // Act
      const unknown = unknownMetricNames(expressions, known);

      // Assert
      expect(unknown).to.deep.equal([
        'panel "typo": cpr_made_up_total',
        'panel "unprefixed": process_cpu_seconds_total',
        'panel "in a string": cpr_also_made_up',
      ]);
    });
  });

  describe(`the Grafana dashboard (${DASHBOARD_FILE})`, () => {
    it('parses as a dashboard with a uid, a title and panels', () => {
      // Act
      const dashboard = readDashboard();

      // Assert
      expect(dashboard.uid).to.be.a('string').and.not.be.empty;
      expect(dashboard.title).to.be.a('string').and.not.be.empty;
      expect(dashboard.schemaVersion).to.be.a('number').and.be.at.least(36);
      const ids = allPanels(dashboard).map((p) => p.id);
      expect(new Set(ids).size, 'panel ids are unique').to.equal(ids.length);
      expect(queryPanels(dashboard)).to.have.length.above(10);
    });

    it('asks for its Prometheus data source with a `datasource` variable that every panel and query uses', () => {
      // Arrange
      const dashboard = readDashboard();

      // Act
      const variable = dashboard.templating?.list?.find((v) => v.name === 'datasource');

      // Assert
      expect(variable, 'a templating variable named datasource').to.deep.include({ type: 'datasource', query: 'prometheus' });
      for (const panel of queryPanels(dashboard)) {
        const name = `panel "${String(panel.title)}"`;
        expect(panel.type, name).to.be.oneOf(['timeseries', 'stat']);
        expect(panel.datasource, name).to.deep.equal(DATASOURCE);
        expect(panel.targets, name).to.be.an('array').that.is.not.empty;
        for (const target of panel.targets ?? []) {
          expect(target.datasource, `${name} query ${String(target.refId)}`).to.deep.equal(DATASOURCE);
          expect(target.expr, `${name} query ${String(target.refId)}`).to.be.a('string').and.not.be.empty;
        }
      }
      for (const v of (dashboard.templating?.list ?? []).filter((x) => x.type === 'query')) {
        expect(v.datasource, `variable $${String(v.name)}`).to.deep.equal(DATASOURCE);
      }
    });

    it('queries only metrics the service exports', async () => {
      // Arrange
      const expressions = dashboardExpressions(readDashboard());

      // Act
      const unknown = unknownMetricNames(expressions, [...(await knownNames()), ...PROMETHEUS_SERIES]);

      // Assert
      expect(expressions.flatMap((e) => metricNamesIn(e.expr)), 'metric names found in the panels').to.have.length.above(20);
      expect(unknown, 'metric names in the dashboard that src/ops/metrics.ts does not export').to.deep.equal([]);
    });

    it('when a panel queries a metric the service does not export, the check reports it', async () => {
      // Arrange: the real dashboard with one query broken
      const dashboard = readDashboard();
      const panel = queryPanels(dashboard)[0]!;
      const target = panel.targets![0]!;
      target.expr = String(target.expr).replace(/cpr_[a-z0-9_]+/, 'cpr_made_up_total');

      // Act
      const unknown = unknownMetricNames(dashboardExpressions(dashboard), [...(await knownNames()), ...PROMETHEUS_SERIES]);

      // Assert
      expect(unknown).to.deep.equal([`panel "${String(panel.title)}" query ${String(target.refId)}: cpr_made_up_total`]);
    });

    it('shows every metric the service defines (process metrics aside)', async () => {
      // Arrange
      const known = await knownNames();
      const used = new Set(dashboardExpressions(readDashboard()).flatMap((e) => metricNamesIn(e.expr)));
      const histograms = new Set(known.filter((n) => n.endsWith('_bucket')).map((n) => n.slice(0, -'_bucket'.length)));
      const SERIES = /_(bucket|sum|count)$/;
      const families = known.filter((n) => !/^cpr_(nodejs|process)_/.test(n) && !(SERIES.test(n) && histograms.has(n.replace(SERIES, ''))));

      // Act
      const missing = families.filter((f) => !used.has(f) && !['_bucket', '_sum', '_count'].some((suffix) => used.has(f + suffix)));

      // Assert
      expect(families, 'the service metrics').to.include.members(['cpr_http_requests_total', 'cpr_record_queue_depth']);
      expect(missing, `metrics without a panel in ${DASHBOARD_FILE}`).to.deep.equal([]);
    });
  });

  describe(`the alert rules (${ALERTS_FILE})`, () => {
    it('has the alerts the runbooks promise, each with for, severity, summary, description and runbook', () => {
      // Arrange
      const rules = allRules(readAlerts());

      // Act
      const alerts = rules.filter((r) => r.alert !== undefined);

      // Assert
      expect(alerts.map((a) => a.alert)).to.include.members([
        'ConnectProfileResolverFallbackRatioHigh',
        'ConnectProfileResolverResolveLatencyNearBudget',
        'ConnectProfileResolverAwsThrottling',
        'ConnectProfileResolverDeadLetters',
        'ConnectProfileResolverRecordQueueNotDraining',
        'ConnectProfileResolverRedisErrors',
        'ConnectProfileResolverRequestsRefused',
        'ConnectProfileResolverQuotaShareSaturated',
        'ConnectProfileResolverIdvKeyLocked',
        'ConnectProfileResolverIdvFailureRatioHigh',
        'ConnectProfileResolverProfileEventsBehind',
        'ConnectProfileResolverProfileEventStreamFailing',
      ]);
      for (const alert of alerts) {
        const name = String(alert.alert);
        expect(alert.for, `${name}: for`).to.be.a('string').and.match(/^\d+[smh]$/);
        expect(alert.labels?.severity, `${name}: labels.severity`).to.be.oneOf(['critical', 'warning', 'info']);
        for (const key of ['summary', 'description', 'runbook']) {
          expect(alert.annotations?.[key], `${name}: annotations.${key}`).to.be.a('string').and.not.be.empty;
        }
      }
    });

    it('uses only metrics the service exports (and Prometheus’s `up`)', async () => {
      // Arrange
      const expressions = alertExpressions(readAlerts());

      // Act
      const unknown = unknownMetricNames(expressions, [...(await knownNames()), ...PROMETHEUS_SERIES]);

      // Assert
      expect(expressions.flatMap((e) => metricNamesIn(e.expr)), 'metric names found in the rules').to.have.length.above(5);
      expect(unknown, 'metric names in the alert rules that src/ops/metrics.ts does not export').to.deep.equal([]);
    });

    it('when a rule uses a metric the service does not export, the check reports it', async () => {
      // Arrange: the real rules with one expression broken
      const file = readAlerts();
      const rule = allRules(file).find((r) => String(r.expr).includes('cpr_'))!;
      rule.expr = String(rule.expr).replace(/cpr_[a-z0-9_]+/, 'cpr_made_up_total');

      // Act
      const unknown = unknownMetricNames(alertExpressions(file), [...(await knownNames()), ...PROMETHEUS_SERIES]);

      // Assert
      expect(unknown).to.deep.equal([`rule ${rule.alert}: cpr_made_up_total`]);
    });

    it(`has, in ${ALERT_TESTS_FILE}, a case that fires each alert and one that does not`, () => {
      // Arrange
      const alerts = allRules(readAlerts()).flatMap((r) => (r.alert ? [r.alert] : []));
      const cases = ((parse(readRepoFile(ALERT_TESTS_FILE)) as RuleTests).tests ?? []).flatMap((t) => t.alert_rule_test ?? []);

      // Act
      const untested = alerts.flatMap((alert) => {
        const mine = cases.filter((c) => c.alertname === alert);
        return [
          ...(mine.some((c) => (c.exp_alerts ?? []).length > 0) ? [] : [`${alert}: no case where it fires`]),
          ...(mine.some((c) => (c.exp_alerts ?? []).length === 0) ? [] : [`${alert}: no case where it stays quiet`]),
        ];
      });

      // Assert
      expect(untested).to.deep.equal([]);
    });
  });

  describe('promtool', function () {
    this.timeout(60_000);

    it(`accepts the rules: promtool check rules ${ALERTS_FILE}`, () => {
      // Act
      const run = promtool('check', 'rules', ALERTS_FILE);

      // Assert
      expect(run.status, run.output).to.equal(0);
    });

    it(`passes the rules' unit tests: promtool test rules ${ALERT_TESTS_FILE}`, () => {
      // Act
      const run = promtool('test', 'rules', ALERT_TESTS_FILE);

      // Assert
      expect(run.status, run.output).to.equal(0);
      expect(run.output).to.include('SUCCESS');
    });

    it('parses every dashboard query as PromQL (Grafana variables filled in)', () => {
      // Arrange: each query as a recording rule, the one place promtool parses PromQL offline
      const expressions = dashboardExpressions(readDashboard()).filter((e) => e.expr.trim() !== '');
      const fill = (expr: string): string =>
        expr.replace(/\$__(?:rate_interval|interval|range)\b/g, '5m').replace(/\$\{\w+\}|\$\w+/g, 'connect-profile-resolver');
      const rules = { groups: [{ name: 'dashboard', rules: expressions.map((e, i) => ({ record: `dashboard:query_${i}`, expr: fill(e.expr) })) }] };
      const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-promql-'));
      const file = path.join(dir, 'dashboard-queries.yml');
      writeFileSync(file, stringify(rules));

      try {
        // Act
        const run = promtool('check', 'rules', file);

        // Assert
        expect(run.status, `${run.output}\n(rule N is the Nth of: ${expressions.map((e) => e.where).join('; ')})`).to.equal(0);
        expect(run.output).to.include(`${expressions.length} rules found`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
