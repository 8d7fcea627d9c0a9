import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { loadConfig } from '../../src/config/index.js';
import { settings } from '../../src/config/schema.js';
import { RECORD_THREAD_HEAP_MB } from '../../src/backends/record-thread.js';
import { ConfigError } from '../../src/errors.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MANIFEST_DIR = join(REPO_ROOT, 'config/kubernetes');
const KUSTOMIZATION = 'kustomization.yaml';
const KUSTOMIZATION_TYPE = 'kustomize.config.k8s.io/v1beta1/Kustomization';
const APP_NAME = 'connect-profile-resolver';
/** Read by node itself, not by the service's configuration schema. */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS']);

type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string };

interface Manifest {
  file: string;
  index: number;
  object: KubeObject;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A kubernetes-models class: the constructor fills in apiVersion/kind, validate() throws on a schema violation. */
type ModelClass<T = { validate(): void }> = new (data: never) => T;

const MODELS: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/**
 * Parses every document of a YAML stream the way the Kubernetes API machinery does: YAML 1.1
 * (sigs.k8s.io/yaml), where an unquoted `yes` or `on` is a boolean, not the string yaml@2 reads by default.
 */
function parseManifests(file: string, text: string): Manifest[] {
  const manifests: Manifest[] = [];
  parseAllDocuments(text, { version: '1.1', uniqueKeys: true }).forEach((doc, index) => {
    if (doc.errors.length > 0) throw new Error(`${file}#${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const object: unknown = doc.toJS();
    if (object === null || object === undefined) return; // an empty document (a trailing ---)
    if (typeof object !== 'object' || Array.isArray(object)) throw new Error(`${file}#${index}: not a mapping`);
    const { apiVersion, kind } = object as Record<string, unknown>;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new Error(`${file}#${index}: no apiVersion or kind`);
    manifests.push({ file, index, object: object as KubeObject });
  });
  return manifests;
}

/** Validates one object against the schema of its apiVersion and kind; throws for a kind without one. */
function validateManifest(object: KubeObject): void {
  const type = `${object.apiVersion}/${object.kind}`;
  if (type === KUSTOMIZATION_TYPE) return; // no schema in kubernetes-models: see the kustomization tests
  const Model = MODELS[type];
  if (!Model) throw new Error(`no schema for ${type}: add its kubernetes-models class to MODELS`);
  new Model(object as never).validate();
}

function manifestFiles(): string[] {
  return readdirSync(MANIFEST_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

function loadAll(): Manifest[] {
  return manifestFiles().flatMap((file) => parseManifests(file, readFileSync(join(MANIFEST_DIR, file), 'utf8')));
}

function selects(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  const matchLabels = Object.entries(selector?.matchLabels ?? {});
  const expressions = selector?.matchExpressions ?? [];
  // an empty selector selects everything (PDB) or nothing (Service): either way, not this app's pods
  if (matchLabels.length + expressions.length === 0) return false;
  return (
    matchLabels.every(([k, v]) => have[k] === v) &&
    expressions.every(({ key, operator, values = [] }) => {
      const value = have[key];
      switch (operator) {
        case 'In':
          return value !== undefined && values.includes(value);
        case 'NotIn':
          return value === undefined || !values.includes(value);
        case 'Exists':
          return value !== undefined;
        case 'DoesNotExist':
          return value === undefined;
        default:
          throw new Error(`unknown selector operator ${operator}`);
      }
    })
  );
}

function bytes(quantity: string | number | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(quantity));
  if (!m) throw new Error(`not a memory quantity: ${String(quantity)}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

describe('Kubernetes manifests (config/kubernetes)', () => {
  const manifests = loadAll();

  function only<T>(kind: string, Model: ModelClass<T>): T {
    const found = manifests.filter((m) => m.object.kind === kind);
    expect(found.map((m) => `${m.file}#${m.index}`), `exactly one ${kind}`).to.have.lengthOf(1);
    return new Model(found[0]!.object as never);
  }

  const deployment = () => only('Deployment', Deployment);
  const podSpec = () => deployment().spec!.template.spec!;
  const container = () => {
    const containers = podSpec().containers;
    expect(containers, 'one container').to.have.lengthOf(1);
    return containers[0]!;
  };
  const podLabels = () => deployment().spec!.template.metadata!.labels;
  const service = () => only('Service', Service);
  const exampleSecret = () => only('Secret', Secret);

  /** The container's environment: every variable it gets, with its literal value where the manifests hold one. */
  function environment(): Map<string, { value: string | undefined; from: string }> {
    const env = new Map<string, { value: string | undefined; from: string }>();
    const add = (name: string, value: string | undefined, from: string) => {
      const before = env.get(name);
      expect(before, `${name} set by both ${before?.from} and ${from}`).to.equal(undefined);
      env.set(name, { value, from });
    };
    const configMap = (name: string) => {
      const cm = only('ConfigMap', ConfigMap);
      expect(cm.metadata?.name, 'the ConfigMap the container reads').to.equal(name);
      return cm.data ?? {};
    };
    const secretKeys = (name: string) => {
      const secret = exampleSecret();
      expect(secret.metadata?.name, 'the Secret the container reads (secret.example.yaml)').to.equal(name);
      return Object.keys({ ...secret.data, ...secret.stringData });
    };
    const c = container();
    for (const source of c.envFrom ?? []) {
      const prefix = source.prefix ?? '';
      if (source.configMapRef) {
        for (const [k, v] of Object.entries(configMap(source.configMapRef.name!))) add(prefix + k, v, `ConfigMap ${source.configMapRef.name}`);
      } else if (source.secretRef) {
        for (const k of secretKeys(source.secretRef.name!)) add(prefix + k, undefined, `Secret ${source.secretRef.name}`);
      } else {
        expect.fail(`unsupported envFrom ${JSON.stringify(source)}`);
      }
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom;
      if (!ref) {
        add(e.name, e.value ?? '', 'the Deployment');
      } else if (ref.configMapKeyRef) {
        const data = configMap(ref.configMapKeyRef.name!);
        expect(data, `ConfigMap key of ${e.name}`).to.have.property(ref.configMapKeyRef.key);
        add(e.name, data[ref.configMapKeyRef.key], `ConfigMap ${ref.configMapKeyRef.name}`);
      } else if (ref.secretKeyRef) {
        expect(secretKeys(ref.secretKeyRef.name!), `Secret key of ${e.name}`).to.include(ref.secretKeyRef.key);
        add(e.name, undefined, `Secret ${ref.secretKeyRef.name}`);
      } else {
        expect.fail(`unsupported valueFrom of ${e.name}`);
      }
    }
    return env;
  }

  describe('schema', () => {
    it('finds manifests to check', () => {
      expect(manifests.filter((m) => m.object.kind !== 'Kustomization')).to.not.be.empty;
    });

    for (const { file, index, object } of manifests.filter((m) => m.file !== KUSTOMIZATION)) {
      const name = (object.metadata as { name?: string } | undefined)?.name;
      it(`${file}#${index} (${object.kind} ${name}) is valid for ${object.apiVersion}`, () => {
        validateManifest(object);
      });
    }

    it('rejects a Deployment whose replicas is not a number', () => {
      // Arrange
      const original = manifests.find((m) => m.object.kind === 'Deployment')!.object;
      const broken = structuredClone(original);
      (broken.spec as Record<string, unknown>).replicas = 'three';
      const fixed = structuredClone(original);
      (fixed.spec as Record<string, unknown>).replicas = 3;

      // Act / Assert
      expect(() => validateManifest(broken)).to.throw(/replicas/);
      expect(() => validateManifest(fixed)).to.not.throw();
    });

    it('rejects a ServiceMonitor whose interval is not a Prometheus duration', () => {
      const broken = structuredClone(manifests.find((m) => m.object.kind === 'ServiceMonitor')!.object);
      (broken.spec as { endpoints: Array<Record<string, unknown>> }).endpoints[0]!.interval = '15 seconds';

      expect(() => validateManifest(broken)).to.throw(/interval/);
    });

    it('refuses a kind it has no schema for', () => {
      const ingress = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'x' } };

      expect(() => validateManifest(ingress)).to.throw(/no schema for networking\.k8s\.io\/v1\/Ingress/);
    });

    it('reads YAML as Kubernetes does: an unquoted yes in ConfigMap data is a boolean and is rejected', () => {
      const [configMap] = parseManifests('inline.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  FLAG: yes\n');

      expect(() => validateManifest(configMap!.object)).to.throw(/data/);
    });
  });

  describe('kustomization', () => {
    const kustomization = () => {
      const found = manifests.filter((m) => m.file === KUSTOMIZATION);
      expect(found, KUSTOMIZATION).to.have.lengthOf(1);
      expect(`${found[0]!.object.apiVersion}/${found[0]!.object.kind}`).to.equal(KUSTOMIZATION_TYPE);
      return found[0]!.object as KubeObject & { resources?: unknown };
    };

    it('lists every manifest file, each once, and no example', () => {
      // Arrange
      const expected = manifestFiles().filter((f) => f !== KUSTOMIZATION && !f.endsWith('.example.yaml'));

      // Act
      const { resources } = kustomization();

      // Assert
      expect(resources).to.be.an('array');
      expect([...(resources as string[])].sort()).to.deep.equal(expected);
      for (const r of resources as string[]) expect(existsSync(join(MANIFEST_DIR, r)), r).to.equal(true);
    });

    it('leaves the example Secret out, so applying the kustomization cannot overwrite the real one', () => {
      expect(manifestFiles()).to.include('secret.example.yaml');
      expect(kustomization().resources).to.not.include('secret.example.yaml');
    });
  });

  describe('objects', () => {
    it('every object carries the app name label and no namespace', () => {
      for (const { file, index, object } of manifests.filter((m) => m.file !== KUSTOMIZATION)) {
        const metadata = object.metadata as { labels?: Record<string, string>; namespace?: string } | undefined;
        expect(metadata?.labels?.['app.kubernetes.io/name'], `${file}#${index}`).to.equal(APP_NAME);
        expect(metadata?.namespace, `${file}#${index} namespace`).to.equal(undefined);
      }
    });

    it('the Deployment selects its own pod template', () => {
      expect(selects(deployment().spec!.selector, podLabels())).to.equal(true);
    });

    it('the Service selects the pods and sends port 80 to the named container port http', () => {
      // Act
      const spec = service().spec!;
      const port = spec.ports?.find((p) => p.port === 80);

      // Assert
      expect(spec.type ?? 'ClusterIP').to.equal('ClusterIP');
      expect(selects({ matchLabels: spec.selector }, podLabels())).to.equal(true);
      expect(port, 'a Service port 80').to.not.equal(undefined);
      expect(port!.name).to.equal('http');
      expect(port!.targetPort).to.equal('http');
      expect(container().ports?.map((p) => p.name)).to.include('http');
    });

    it('the HPA scales the Deployment between at least 3 replicas and more on CPU utilisation', () => {
      // Act
      const hpa = only('HorizontalPodAutoscaler', HorizontalPodAutoscaler).spec!;
      const cpu = hpa.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');

      // Assert
      expect(hpa.scaleTargetRef).to.deep.include({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment().metadata!.name });
      expect(hpa.minReplicas).to.be.at.least(3);
      expect(hpa.maxReplicas).to.be.greaterThan(hpa.minReplicas!);
      expect(cpu?.resource?.target.type).to.equal('Utilization');
      expect(cpu?.resource?.target.averageUtilization).to.be.within(1, 100);
      // a fixed count would fight the HPA on every apply
      expect(deployment().spec!.replicas, 'Deployment spec.replicas (the HPA owns it)').to.equal(undefined);
    });

    it('the PDB covers the pods and lets exactly one go at a time at the HPA minimum', () => {
      // Arrange
      const pdb = only('PodDisruptionBudget', PodDisruptionBudget).spec!;
      const minReplicas = only('HorizontalPodAutoscaler', HorizontalPodAutoscaler).spec!.minReplicas!;

      // Act
      const { maxUnavailable, minAvailable } = pdb;
      expect(typeof (maxUnavailable ?? minAvailable), 'an absolute number, not a percentage').to.equal('number');
      const evictable = maxUnavailable !== undefined ? (maxUnavailable as number) : minReplicas - (minAvailable as number);

      // Assert
      expect(selects(pdb.selector, podLabels())).to.equal(true);
      expect(evictable, 'pods a drain may evict at once').to.equal(1);
    });

    it('the ServiceMonitor selects the Service and scrapes /metrics on its metrics port, which sends to the container port METRICS_PORT', () => {
      // Act
      const monitor = only('ServiceMonitor', ServiceMonitor);
      const servicePorts = service().spec!.ports!;
      const containerPort = container().ports!.find((p) => p.name === 'metrics');

      // Assert
      expect(monitor.metadata?.labels?.release, 'label the Prometheus of kube-prometheus-stack selects by').to.equal('prometheus');
      expect(selects(monitor.spec.selector, service().metadata?.labels)).to.equal(true);
      expect(monitor.spec.endpoints).to.not.be.empty;
      for (const endpoint of monitor.spec.endpoints ?? []) {
        // the main port answers 404 for /metrics: the scrape goes to the metrics listener
        expect(endpoint.port).to.equal('metrics');
        expect(servicePorts.find((p) => p.name === endpoint.port)?.targetPort).to.equal('metrics');
        expect(endpoint.path).to.equal('/metrics');
        expect(endpoint.interval).to.equal('15s');
      }
      expect(containerPort, 'a container port named metrics').to.not.equal(undefined);
      expect(environment().get('METRICS_PORT')?.value).to.equal(String(containerPort!.containerPort));
    });

    it('the pods run as the IRSA ServiceAccount', () => {
      const account = only('ServiceAccount', ServiceAccount);

      expect(podSpec().serviceAccountName).to.equal(account.metadata?.name);
      expect(account.metadata?.annotations?.['eks.amazonaws.com/role-arn']).to.match(/^arn:aws:iam::\d{12}:role\/.+$/);
    });

    it('the pods spread across zones', () => {
      const zone = podSpec().topologySpreadConstraints?.find((t) => t.topologyKey === 'topology.kubernetes.io/zone');

      expect(zone, 'a topology spread constraint on topology.kubernetes.io/zone').to.not.equal(undefined);
      expect(selects(zone!.labelSelector, podLabels())).to.equal(true);
    });
  });

  describe('container', () => {
    it('probes /healthz (startup, liveness) and /readyz (readiness) on the named port http', () => {
      // Act
      const c = container();

      // Assert
      expect(c.startupProbe?.httpGet).to.deep.include({ path: '/healthz', port: 'http' });
      expect(c.livenessProbe?.httpGet).to.deep.include({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe?.httpGet).to.deep.include({ path: '/readyz', port: 'http' });
      expect(c.livenessProbe).to.include({ periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 });
      expect(c.readinessProbe).to.include({ periodSeconds: 5, failureThreshold: 2 });
    });

    it('the process listens on the port the probes and the Service use', () => {
      const http = container().ports!.find((p) => p.name === 'http')!;

      expect(environment().get('PORT')?.value).to.equal(String(http.containerPort));
    });

    it('the termination grace period covers the preStop sleep and the SHUTDOWN_GRACE_MS drain', () => {
      // Arrange
      const preStop = container().lifecycle?.preStop;
      expect(preStop, 'a preStop hook').to.not.equal(undefined);
      const command = preStop!.exec?.command ?? [];
      const sleepSeconds =
        preStop!.sleep !== undefined
          ? preStop!.sleep.seconds
          : /^(\/(usr\/)?bin\/)?sleep$/.test(command[0] ?? '') && command.length === 2
            ? Number(command[1])
            : NaN;
      expect(sleepSeconds, `preStop sleeps (${JSON.stringify(preStop)})`).to.be.greaterThan(0);
      const graceMs = environment().get('SHUTDOWN_GRACE_MS')?.value;
      expect(graceMs, 'SHUTDOWN_GRACE_MS set in the manifests').to.be.a('string');

      // Act
      const needed = sleepSeconds + Number(graceMs) / 1000;

      // Assert
      expect(podSpec().terminationGracePeriodSeconds).to.be.at.least(needed);
    });

    it('runs non-root as node (1000), read-only, without privilege escalation, capabilities or an unconfined seccomp', () => {
      // Act
      const c = container().securityContext!;
      const pod = podSpec().securityContext ?? {};

      // Assert
      expect(c.runAsNonRoot ?? pod.runAsNonRoot).to.equal(true);
      expect(c.runAsUser ?? pod.runAsUser).to.equal(1000);
      expect(c.readOnlyRootFilesystem).to.equal(true);
      expect(c.allowPrivilegeEscalation).to.equal(false);
      expect(c.capabilities?.drop).to.deep.equal(['ALL']);
      expect(c.capabilities?.add ?? []).to.be.empty;
      expect((c.seccompProfile ?? pod.seccompProfile)?.type).to.equal('RuntimeDefault');
      expect(c.privileged ?? false).to.equal(false);
    });

    it('has a writable emptyDir at /tmp on the read-only root filesystem', () => {
      const mount = container().volumeMounts?.find((m) => m.mountPath === '/tmp');

      expect(mount, 'a volume mounted at /tmp').to.not.equal(undefined);
      expect(podSpec().volumes?.find((v) => v.name === mount!.name)?.emptyDir).to.not.equal(undefined);
    });

    it('requests CPU and memory, limits memory but not CPU, and keeps the V8 heaps (main and record thread) under the memory limit', () => {
      // Arrange
      const { requests = {}, limits = {} } = container().resources ?? {};
      const nodeOptions = environment().get('NODE_OPTIONS')?.value ?? '';
      const heap = /--max-old-space-size=(\d+)/.exec(nodeOptions);

      // Act
      const limit = bytes(limits.memory);

      // Assert
      expect(requests).to.have.all.keys('cpu', 'memory');
      expect(limits, 'no CPU limit (throttling)').to.not.have.property('cpu');
      expect(bytes(requests.memory)).to.be.at.most(limit);
      expect(heap, `NODE_OPTIONS --max-old-space-size (got ${JSON.stringify(nodeOptions)})`).to.not.equal(null);
      expect((Number(heap![1]) + RECORD_THREAD_HEAP_MB) * 2 ** 20, 'both heaps at most 80% of the memory limit').to.be.at.most(0.8 * limit);
    });
  });

  describe('environment', () => {
    const settingNames = new Set(Object.keys(settings));
    const validators = new Map<string, { safeParse(v: unknown): { success: boolean } }>(Object.entries(settings));

    it('names only settings of src/config/schema.ts (and NODE_OPTIONS)', () => {
      const unknown = [...environment().keys()].filter((n) => !settingNames.has(n) && !RUNTIME_VARIABLES.has(n));

      expect(unknown).to.deep.equal([]);
    });

    it('every literal value passes its setting validator', () => {
      for (const [name, { value, from }] of environment()) {
        if (value === undefined || RUNTIME_VARIABLES.has(name)) continue;
        expect(validators.get(name)!.safeParse(value).success, `${name}=${JSON.stringify(value)} (${from})`).to.equal(true);
      }
    });

    it('keeps secrets in the Secret, not in the ConfigMap or the Deployment', () => {
      const env = environment();

      for (const name of ['REDIS_URL', 'AUTH_TOKENS', 'IDENTITY_HASH_SECRET', 'DATA_KEYS', 'ADMIN_TOKENS']) {
        expect(env.get(name)?.from, name).to.match(/^Secret /);
      }
    });

    it('with real secret values, loads as a production configuration agreeing with the manifests', () => {
      // Arrange
      const secrets: Record<string, string> = {
        REDIS_URL: 'rediss://:password@redis.example.test:6379',
        AUTH_TOKENS: 'token-aaaaaaaaaaaaaaaaaaaaaaaa',
        IDENTITY_HASH_SECRET: 'identity-hash-secret-bbbbbbbbbbbb',
        DATA_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
        ADMIN_TOKENS: 'admin-token-cccccccccccccccccccc',
      };
      const env: Record<string, string> = {};
      for (const [name, { value }] of environment()) {
        const v = value ?? secrets[name];
        expect(v, `a stand-in for ${name}`).to.be.a('string');
        env[name] = v!;
      }

      // Act
      const config = loadConfig(env, REPO_ROOT);

      // Assert
      expect(config.nodeEnv).to.equal('production');
      expect(config.port).to.equal(container().ports!.find((p) => p.name === 'http')!.containerPort);
      expect(config.metricsPort).to.equal(container().ports!.find((p) => p.name === 'metrics')!.containerPort);
      expect(config.redis.mode).to.equal('single');
      expect(config.resolveDeadlineMs).to.equal(2000);
    });

    it("the example Secret's placeholders fail start-up, so an applied example cannot serve", () => {
      // Arrange
      const secret = exampleSecret();
      const env: Record<string, string> = { ...secret.stringData };
      for (const [name, { value }] of environment()) if (value !== undefined) env[name] = value;

      // Act
      let error: unknown;
      try {
        loadConfig(env, REPO_ROOT);
      } catch (err) {
        error = err;
      }

      // Assert
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).message).to.include('AUTH_TOKENS').and.to.include('IDENTITY_HASH_SECRET').and.to.include('DATA_KEYS');
    });
  });
});
