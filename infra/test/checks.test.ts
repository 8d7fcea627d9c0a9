import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolverStackProps } from '../lib/stack.js';
import { acknowledgements, RAW_FINDINGS } from '../lib/nag.js';
import { CFN_LINT, REPO, synthStack } from './support.js';

// The app's variants: a new domain linked to the instance (and the event stream, on by default); an existing
// domain, with stamping and a queue, without the event stream; HTTPS, the endpoints (Kinesis's too) and a scraper
const VARIANTS: Array<[string, Partial<ResolverStackProps>]> = [
  ['new domain, the event stream', {}],
  ['existing domain, stamping, queue, image built from the Dockerfile, no event stream', { image: undefined, existingDomain: true, profileEventShards: 0, existingDomainKeyArn: 'arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', stampContacts: true, sampleFlowQueueArn: 'arn:aws:connect:eu-west-2:111122223333:instance/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/queue/5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b' }],
  [
    'HTTPS with a private hosted zone record, the AWS endpoints, a metrics scraper',
    {
      certificateArn: 'arn:aws:acm:eu-west-2:111122223333:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      hostName: 'resolver.acme.internal',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      createVpcEndpoints: true,
      routeTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2'],
      metricsScraperSecurityGroupId: 'sg-0123456789abcdef0',
    },
  ],
];

interface Finding {
  rule: string;
  path: string;
}

/** `path` is `scope` or one of its descendants */
const inside = (path: string, scope: string): boolean => path === scope || path.startsWith(`${scope}/`);

/** cdk-nag's findings from the policy-validation report a failed synthesis leaves in the cloud assembly. */
function findingsOf(outdir: string): Finding[] {
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: Array<{ violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
  };
  return report.pluginReports.flatMap((r) => r.violations.flatMap((v) => v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath }))));
}

describe('the AWS CDK app (infra/): cdk-nag and cfn-lint', function () {
  this.timeout(120_000);

  describe("cdk-nag's AwsSolutions checks", () => {
    for (const [name, props] of VARIANTS) {
      it(`leave no finding unanswered (${name})`, () => {
        const { app } = synthStack(props, { nag: true });
        let failure: unknown;
        try {
          app.synth();
        } catch (err) {
          failure = err;
        }
        const findings = failure ? findingsOf(app.outdir) : [];
        expect(findings, String((failure as Error | undefined)?.message ?? '')).to.deep.equal([]);
        expect(failure).to.equal(undefined);
      });
    }

    it('each acknowledgement gives its reason and answers a finding that is there, and no finding goes unacknowledged (listed below)', () => {
      const seen = new Map<string, { path: string; id: string; reason: string }>();
      for (const [, props] of VARIANTS) {
        const { app, stack } = synthStack(props, { nag: true, context: { [RAW_FINDINGS]: true } });
        expect(() => quietly(() => app.synth()), 'without the acknowledgements the checks fail').to.throw();
        const findings = findingsOf(app.outdir);
        const acks = acknowledgements(stack);
        for (const f of findings) {
          const answer = acks.find((a) => a.id === f.rule && inside(f.path, a.path));
          expect(answer, `an acknowledgement of ${f.rule} at ${f.path}`).to.not.equal(undefined);
        }
        for (const a of acks) {
          expect(findings.some((f) => f.rule === a.id && inside(f.path, a.path)), `a finding for the acknowledgement of ${a.id} at ${a.path}`).to.equal(true);
          expect(a.reason.length, `the reason for ${a.id}`).to.be.greaterThan(40);
          seen.set(`${a.path} ${a.id}`, a);
        }
      }
      console.log('        acknowledged cdk-nag findings:');
      for (const a of seen.values()) console.log(`          ${a.id.replace(/\[.*?::/, '[')} on ${a.path.replace(/^ConnectProfileResolver\//, '')}: ${a.reason}`);
      expect(seen.size).to.be.greaterThan(0);
    });
  });

  it('infra/bin/app.ts synthesises from its context alone: offline, without credentials, cdk-nag passing, in the instance’s account and region', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-app-'));
    const context = {
      instanceArn: 'arn:aws:connect:eu-west-2:111122223333:instance/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      vpcId: 'vpc-0123456789abcdef0',
      privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2',
      availabilityZones: 'eu-west-2a,eu-west-2b',
      domainName: 'amazon-connect-acme',
      image: '111122223333.dkr.ecr.eu-west-2.amazonaws.com/connect-profile-resolver:0.1.0',
      lambdaBundleDir: join(REPO, 'infra/test/fixtures/lambda-bundle'),
      profileEventShards: '2',
    };
    // what `cdk synth` does: runs the app with the context and an output folder in the environment
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/bin/app.ts'], {
      cwd: REPO,
      encoding: 'utf8',
      // the CLI's profile defaults to another region than the instance's: the stack goes to the instance's
      env: { PATH: process.env.PATH ?? '', CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_VALIDATION: CFN_LINT ? 'false' : 'true', CDK_DEFAULT_REGION: 'us-east-1' },
    });
    expect(run.status, run.stderr.slice(-3000)).to.equal(0);
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { type: string; environment?: string }> };
    expect(manifest.artifacts.ConnectProfileResolver?.environment).to.equal('aws://111122223333/eu-west-2');
    const template = JSON.parse(readFileSync(join(outdir, 'ConnectProfileResolver.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::CustomerProfiles::Domain')).to.have.length(1);
    // a context value reaches its resource
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::Kinesis::Stream').map((r) => r.Properties?.ShardCount)).to.deep.equal([2]);
  });

  describe('cfn-lint on the synthesised templates', () => {
    if (!CFN_LINT) {
      // cfn-lint is a Python tool (pip install cfn-lint): where it is missing the run says so
      it('is not installed here: the templates are not linted (pip install cfn-lint); the CDK’s own template validation ran instead', () => {
        console.log('        cfn-lint not found: the CloudFormation templates were checked by the CDK’s built-in validation only');
      });
      return;
    }
    it(`finds nothing in any variant (${CFN_LINT})`, () => {
      const templates = VARIANTS.map(([, props]) => {
        const { app, stack } = synthStack(props);
        return join(app.synth().directory, stack.templateFile);
      });
      // W3005: the CDK writes a DependsOn beside a Ref to the same resource (its own template style, harmless)
      const run = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', ...templates], { encoding: 'utf8' });
      expect(run.stdout + run.stderr, 'cfn-lint output').to.equal('');
      expect(run.status).to.equal(0);
    });

    it('would report a broken template (the check can fail)', () => {
      const { app, stack } = synthStack();
      const file = join(app.synth().directory, stack.templateFile);
      const broken = JSON.parse(readFileSync(file, 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
      const redis = Object.values(broken.Resources).find((r) => r.Type === 'AWS::ElastiCache::ReplicationGroup')!;
      redis.Properties.NumNodeGroups = 'one';
      const copy = `${file}.broken.json`;
      writeFileSync(copy, JSON.stringify(broken));
      const run = spawnSync('cfn-lint', ['--', copy], { encoding: 'utf8' });
      expect(run.status).to.not.equal(0);
      expect(run.stdout).to.match(/E\d{4}/);
    });
  });
});

/** Runs `fn` without the CDK's report of the findings on the console (the test reads the report file). */
function quietly<T>(fn: () => T): T {
  const saved = { log: console.log, error: console.error, warn: console.warn };
  console.log = console.error = console.warn = () => undefined;
  try {
    return fn();
  } finally {
    Object.assign(console, saved);
  }
}

