/**
 * The Kubernetes manifests (k8s/) and the image (k8s/Dockerfile), checked
 * offline: no cluster, no Docker engine.
 *
 * Each overlay is rendered with `kubectl kustomize` (or `kustomize build`),
 * and every object is checked against the Kubernetes API schemas of the
 * kubernetes-models package in two passes:
 *  - its JSON-schema validate(): types, formats, required fields. It accepts
 *    fields the schema does not know (a misspelled optional field passes);
 *  - a strict pass: each object becomes a typed object literal in a
 *    TypeScript program against the same package's declarations, where an
 *    unknown field is an excess-property error and a wrong type an
 *    assignment error.
 * Then what sluice relies on: ports, probes, the drain budget against the
 * grace period, the security context, the Services, the HPA and the PDBs,
 * and the effective sluice config of every pod (its ConfigMap file plus its
 * SLUICE_* environment) through sluice's own schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import YAML from 'yaml';
import { Namespace, type INamespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet, type IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { configFromEnv, resolveConfig, type SluiceConfig } from '../../src/app/config.js';

/** The repository: this file runs as dist/test/k8s/manifests.test.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OVERLAYS = ['origin', 'edge', 'dev'] as const;
type Overlay = (typeof OVERLAYS)[number];
/** Components (kind: Component) came with kustomize v3.7, the `labels` field with v4.1. */
const MIN_KUSTOMIZE: [number, number] = [4, 1];

// ---------------------------------------------------------------- rendering

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The renderer on this machine: kubectl's built-in kustomize, else a kustomize binary. */
const renderer = ((): { describe: string; render(dir: string): string } => {
  const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let version: string | undefined;
  let render: ((dir: string) => string) | undefined;
  let describe = '';
  try {
    const v = JSON.parse(run('kubectl', ['version', '--client', '-o', 'json'])) as { kustomizeVersion?: string; clientVersion?: { gitVersion?: string } };
    version = v.kustomizeVersion;
    render = (dir) => run('kubectl', ['kustomize', dir]);
    describe = `kubectl ${v.clientVersion?.gitVersion ?? '?'}, kustomize ${version ?? 'unknown'}`;
  } catch {
    try {
      version = run('kustomize', ['version']).trim().replace(/^.*?(v\d+\.\d+\.\d+).*$/s, '$1');
      render = (dir) => run('kustomize', ['build', dir]);
      describe = `kustomize ${version}`;
    } catch {
      // neither: every render fails below, naming what is needed
    }
  }
  return {
    describe,
    render(dir: string): string {
      if (!render) throw new Error('rendering k8s/ needs kubectl (kustomize v4.1 or newer inside) or kustomize on PATH: docs/kubernetes.md');
      const m = /^v(\d+)\.(\d+)/.exec(version ?? '');
      const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
      if (major < MIN_KUSTOMIZE[0] || (major === MIN_KUSTOMIZE[0] && minor < MIN_KUSTOMIZE[1])) {
        throw new Error(`${describe}: k8s/ needs kustomize v${MIN_KUSTOMIZE.join('.')} or newer (components, labels): docs/kubernetes.md`);
      }
      return render(dir);
    },
  };
})();

const renders = new Map<Overlay, K8sObject[]>();
function rendered(overlay: Overlay): K8sObject[] {
  let objects = renders.get(overlay);
  if (!objects) {
    const docs = YAML.parseAllDocuments(renderer.render(join(ROOT, 'k8s', 'overlays', overlay)));
    objects = docs.map((doc, i) => {
      assert.equal(doc.errors.length, 0, `${overlay} document ${i}: ${doc.errors.join('; ')}`);
      const obj = doc.toJS() as K8sObject;
      assert.ok(obj && typeof obj.kind === 'string' && typeof obj.metadata?.name === 'string', `${overlay} document ${i} is an object with kind and name`);
      return obj;
    });
    renders.set(overlay, objects);
  }
  return objects;
}

// ---------------------------------------------------------------- schema checks

/** The kinds the manifests may use: apiVersion/kind -> model class and its declared type. An unmapped kind fails. */
const MODELS: Record<string, { model: new (data: never) => { validate(): void }; module: string; type: string }> = {
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace', type: 'INamespace' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap', type: 'IConfigMap' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment', type: 'IDeployment' },
  'apps/v1/StatefulSet': { model: StatefulSet, module: 'kubernetes-models/apps/v1/StatefulSet', type: 'IStatefulSet' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    model: HorizontalPodAutoscaler,
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
};

const label = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;

/**
 * Every schema problem of each object, by label: unmapped kind, validate()
 * errors, and the strict pass's unknown fields and wrong types. One
 * TypeScript program checks all of them: `export const o3: IService = {...}`.
 */
function schemaProblems(objects: K8sObject[]): Map<string, string[]> {
  const problems = new Map<string, string[]>(objects.map((o) => [label(o), []]));
  const typed: { obj: K8sObject; entry: (typeof MODELS)[string] }[] = [];
  for (const obj of objects) {
    const entry = MODELS[`${obj.apiVersion}/${obj.kind}`];
    if (!entry) {
      problems.get(label(obj))!.push(`${obj.apiVersion} ${obj.kind} is not in the test's model table`);
      continue;
    }
    try {
      new entry.model(structuredClone(obj) as never).validate();
    } catch (err) {
      problems.get(label(obj))!.push(`validate(): ${(err as Error).message}`);
    }
    typed.push({ obj, entry });
  }
  if (typed.length === 0) return problems;

  const imports = [...new Set(typed.map(({ entry }) => `import type { ${entry.type} } from '${entry.module}';`))];
  const lines = [...imports];
  const owner: string[] = []; // source line -> object label
  for (const [i, { obj, entry }] of typed.entries()) {
    const body = `export const o${i}: ${entry.type} = ${JSON.stringify(obj, null, 2)};`.split('\n');
    for (const line of body) {
      owner[lines.length] = label(obj);
      lines.push(line);
    }
  }
  const source = lines.join('\n') + '\n';
  // A file beside this test's source, so node_modules resolves as for the test itself.
  const fileName = join(ROOT, 'test', 'k8s', '__rendered-manifests__.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName ? ts.createSourceFile(name, source, languageVersion) : getSourceFile.call(host, name, languageVersion, ...rest);
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  host.readFile = (name) => (name === fileName ? source : readFile.call(host, name));
  const program = ts.createProgram([fileName], options, host);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file?.fileName !== fileName || d.start === undefined) throw new Error(`strict check setup: ${text}`);
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const where = owner[line];
    if (!where) throw new Error(`strict check: ${text} (line ${line + 1}, outside any object)`);
    problems.get(where)!.push(`strict: ${text} (${lines[line]!.trim()})`);
  }
  return problems;
}

function assertSchemaValid(objects: K8sObject[]): void {
  const bad = [...schemaProblems(objects)].filter(([, p]) => p.length > 0);
  if (bad.length > 0) assert.fail(bad.map(([name, p]) => `${name}:\n  ${p.join('\n  ')}`).join('\n'));
}

// ---------------------------------------------------------------- helpers

const ofKind = <T>(objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind) as unknown as T[];
const named = <T extends { metadata?: { name?: string } }>(list: T[], name: string, what: string): T => {
  const found = list.find((o) => o.metadata?.name === name);
  assert.ok(found, `${what} ${name} is rendered`);
  return found;
};
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

type Workload = IDeployment | IStatefulSet;
const workloads = (objects: K8sObject[]): Workload[] => [...ofKind<IDeployment>(objects, 'Deployment'), ...ofKind<IStatefulSet>(objects, 'StatefulSet')];
const podSpec = (w: Workload): IPodSpec => w.spec!.template.spec!;
const isSluice = (c: IContainer) => /^sluice(:|@|$)/.test(c.image ?? '');

/** A probe's or Service's port, by number or by the container port's name. */
function containerPortNumber(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function httpProbe(c: IContainer, probe: IProbe | undefined, what: string): { path: string; port: number } {
  assert.ok(probe?.httpGet, `${c.name}: ${what} is an httpGet probe`);
  const port = containerPortNumber(c, probe.httpGet.port);
  assert.ok(port, `${c.name}: ${what} port ${probe.httpGet.port} is a container port`);
  return { path: probe.httpGet.path ?? '/', port };
}

/** CPU quantity ("2", "500m") in cores. */
function cpuCores(q: string | number | undefined): number {
  if (typeof q === 'number') return q;
  assert.ok(q, 'a CPU quantity');
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/**
 * The environment the kubelet gives a container: downward-API values for a
 * sample pod, resource limits with their divisor (rounded up), and $(VAR)
 * references to earlier entries expanded.
 */
function containerEnv(w: Workload, c: IContainer): Record<string, string> {
  const podName = w.kind === 'StatefulSet' ? `${w.metadata!.name}-0` : `${w.metadata!.name}-5d8c7b9f4-x2k7q`;
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    let value: string;
    if (e.value !== undefined) {
      value = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, name: string) => env[name] ?? ref);
    } else if (e.valueFrom?.fieldRef) {
      const field = e.valueFrom.fieldRef.fieldPath;
      const known: Record<string, string> = { 'metadata.name': podName, 'metadata.namespace': w.metadata!.namespace ?? 'default', 'status.podIP': '10.1.2.3' };
      assert.ok(field in known, `${c.name}: env ${e.name} reads ${field}, which this test does not know`);
      value = known[field]!;
    } else if (e.valueFrom?.resourceFieldRef) {
      const { resource, divisor } = e.valueFrom.resourceFieldRef;
      assert.equal(resource, 'limits.cpu', `${c.name}: env ${e.name} reads ${resource}, which this test does not know`);
      value = String(Math.ceil(cpuCores(c.resources?.limits?.cpu) / cpuCores(divisor ?? '1')));
    } else {
      assert.fail(`${c.name}: env ${e.name} has neither value nor a known valueFrom`);
    }
    env[e.name] = value;
  }
  return env;
}

/** The rendered ConfigMap mounted at /etc/sluice and the file sluice reads from it. */
function configFile(objects: K8sObject[], w: Workload, c: IContainer): Record<string, unknown> {
  const args = c.args ?? [];
  const at = args.indexOf('--config');
  assert.ok(at >= 0, `${w.metadata!.name}: sluice is started with --config`);
  const path = args[at + 1]!;
  const mount = c.volumeMounts?.find((m) => path.startsWith(m.mountPath + '/'));
  assert.ok(mount, `${w.metadata!.name}: ${path} is on a mounted volume`);
  const volume = podSpec(w).volumes?.find((v) => v.name === mount.name);
  assert.ok(volume?.configMap?.name, `${w.metadata!.name}: ${mount.name} is a ConfigMap volume`);
  const cm = named(ofKind<IConfigMap>(objects, 'ConfigMap'), volume.configMap.name, 'ConfigMap');
  const text = cm.data?.[posix.relative(mount.mountPath, path)];
  assert.ok(text, `${cm.metadata!.name} holds ${path}`);
  const file = YAML.parse(text) as Record<string, unknown>;
  // The file alone is a valid config (unknown keys throw), before any environment.
  resolveConfig(file);
  return file;
}

/** What sluice in this container runs with: its config file, then its SLUICE_* environment. */
function effectiveConfig(objects: K8sObject[], w: Workload, c: IContainer): SluiceConfig {
  return resolveConfig(configFile(objects, w, c), configFromEnv(containerEnv(w, c)));
}

/** A Service of the render that an in-cluster URL's host names (short name or FQDN), exposing its port. */
function serviceFor(objects: K8sObject[], url: string, defaultPort: number): IService {
  const u = new URL(url);
  const svc = named(ofKind<IService>(objects, 'Service'), u.hostname.split('.')[0]!, `Service of ${url}`);
  const port = Number(u.port || defaultPort);
  assert.ok(svc.spec?.ports?.some((p) => p.port === port), `${svc.metadata!.name} exposes ${port} for ${url}`);
  return svc;
}

// ---------------------------------------------------------------- per-overlay checks

function checkOverlay(overlay: Overlay): void {
  const objects = rendered(overlay);
  assertSchemaValid(objects);

  // One namespace, shared labels.
  const [ns, ...moreNs] = ofKind<INamespace>(objects, 'Namespace');
  assert.ok(ns && moreNs.length === 0, 'one Namespace');
  for (const o of objects) {
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, ns.metadata!.name, `${label(o)} is in namespace ${ns.metadata!.name}`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'sluice', `${label(o)} carries app.kubernetes.io/part-of=sluice`);
  }

  const all = workloads(objects);
  const sluicePods = all.filter((w) => podSpec(w).containers.some(isSluice));
  assert.ok(sluicePods.length > 0, 'some workload runs sluice');

  for (const w of all) {
    const spec = podSpec(w);
    const name = w.metadata!.name!;
    assert.equal(spec.enableServiceLinks, false, `${name}: enableServiceLinks false`);
    assert.ok(selects(w.spec!.selector.matchLabels, w.spec!.template.metadata?.labels), `${name}: its selector matches its pod template`);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      const where = `${name}/${c.name}`;
      const sc = c.securityContext ?? {};
      const pod = spec.securityContext ?? {};
      assert.equal(sc.runAsNonRoot ?? pod.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.notEqual(sc.runAsUser ?? pod.runAsUser ?? 1, 0, `${where}: not uid 0`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation false`);
      assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}: capabilities drop ALL`);
      assert.equal((sc.seccompProfile ?? pod.seccompProfile)?.type, 'RuntimeDefault', `${where}: seccompProfile RuntimeDefault`);
      for (const r of ['cpu', 'memory']) {
        assert.ok(c.resources?.requests?.[r] !== undefined, `${where}: requests.${r}`);
        assert.ok(c.resources?.limits?.[r] !== undefined, `${where}: limits.${r}`);
      }
      assert.ok(c.readinessProbe && c.livenessProbe, `${where}: readiness and liveness probes`);
    }
  }

  for (const w of sluicePods) {
    const name = w.metadata!.name!;
    const spec = podSpec(w);
    const annotations = w.spec!.template.metadata?.annotations ?? {};
    assert.equal(annotations['prometheus.io/scrape'], 'true', `${name}: prometheus.io/scrape`);
    for (const c of spec.containers.filter(isSluice)) {
      const config = effectiveConfig(objects, w, c);
      const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.containerPort, p]));
      assert.equal(ports[config.rtmp.port]?.name, 'rtmp', `${name}: containerPort rtmp ${config.rtmp.port}`);
      assert.equal(ports[config.http.port]?.name, 'http', `${name}: containerPort http ${config.http.port}`);
      assert.equal(ports[config.admin.port]?.name, 'admin', `${name}: containerPort admin ${config.admin.port}`);
      assert.deepEqual([config.rtmp.port, config.http.port, config.admin.port], [1935, 8080, 8081]);
      assert.equal(annotations['prometheus.io/port'], String(config.admin.port), `${name}: prometheus.io/port is the admin port`);
      assert.equal(annotations['prometheus.io/path'], '/metrics', `${name}: prometheus.io/path`);
      assert.deepEqual(httpProbe(c, c.readinessProbe, 'readinessProbe'), { path: '/readyz', port: config.admin.port });
      assert.deepEqual(httpProbe(c, c.livenessProbe, 'livenessProbe'), { path: '/healthz', port: config.admin.port });
      // The admin listener must take the kubelet's probes on the pod address.
      assert.equal(config.admin.host, '0.0.0.0', `${name}: admin.host binds the pod address`);

      // SIGTERM: /readyz 503, ReconnectRequest and its wait, then the sessions' grace; a preStop sleep comes first.
      const preStop = c.lifecycle?.preStop;
      assert.ok(!preStop || (preStop.sleep && !preStop.exec && !preStop.httpGet), `${name}: a preStop hook, if any, is a sleep the grace period can count`);
      const preStopMs = (preStop?.sleep?.seconds ?? 0) * 1000;
      const drainMs = preStopMs + config.cluster.drainDelayMs + config.cluster.reconnectWaitMs + config.cluster.shutdownGraceMs;
      const graceS = spec.terminationGracePeriodSeconds ?? 30;
      // Past the drain, sluice gives its workers 3 s more before it exits on its own (src/cli.ts):
      // the kubelet's SIGKILL must not come first.
      const marginMs = 3000;
      assert.ok(graceS * 1000 >= drainMs + marginMs, `${name}: terminationGracePeriodSeconds ${graceS} covers the ${drainMs} ms drain + ${marginMs} ms`);
      assert.ok(config.cluster.drainDelayMs > 0, `${name}: /readyz turns 503 before the listeners close`);

      const env = containerEnv(w, c);
      assert.equal(c.env?.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath, 'status.podIP', `${name}: POD_IP from the downward API`);
      assert.equal(c.env?.find((e) => e.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `${name}: POD_NAME from the downward API`);
      assert.equal(config.cluster.workers, Math.ceil(cpuCores(c.resources?.limits?.cpu)), `${name}: one worker per CPU of the limit (${env.SLUICE_CLUSTER__WORKERS})`);
      assert.ok(config.cluster.redis.url, `${name}: cluster.redis.url is set`);
    }
  }

  // Every Service selects some pod of the render and targets its ports.
  for (const svc of ofKind<IService>(objects, 'Service')) {
    const pods = all.filter((w) => selects(svc.spec?.selector, w.spec!.template.metadata?.labels));
    assert.ok(pods.length > 0, `Service ${svc.metadata!.name} selects a rendered workload`);
    for (const p of svc.spec?.ports ?? []) {
      for (const w of pods) {
        const target = p.targetPort ?? p.port;
        assert.ok(podSpec(w).containers.some((c) => containerPortNumber(c, target) !== undefined), `Service ${svc.metadata!.name} port ${p.name}: ${target} is a port of ${w.metadata!.name}`);
      }
    }
  }
  // Every PDB selects a workload's pods, and every sluice workload has one.
  const pdbs = ofKind<IPodDisruptionBudget>(objects, 'PodDisruptionBudget');
  for (const pdb of pdbs) {
    assert.ok(all.some((w) => selects(pdb.spec?.selector?.matchLabels, w.spec!.template.metadata?.labels)), `PDB ${pdb.metadata!.name} selects a workload's pods`);
    assert.ok(pdb.spec?.maxUnavailable !== undefined || pdb.spec?.minAvailable !== undefined, `PDB ${pdb.metadata!.name} sets a budget`);
  }
  for (const w of sluicePods) {
    assert.ok(pdbs.some((pdb) => selects(pdb.spec?.selector?.matchLabels, w.spec!.template.metadata?.labels)), `${w.metadata!.name} has a PodDisruptionBudget`);
  }
}

function checkOrigin(objects: K8sObject[]): void {
  const sts = named(ofKind<IStatefulSet>(objects, 'StatefulSet'), 'sluice-origin', 'StatefulSet');
  const c = podSpec(sts).containers.find(isSluice)!;
  const config = effectiveConfig(objects, sts, c);
  assert.equal(config.mode, 'origin');
  const headless = named(ofKind<IService>(objects, 'Service'), sts.spec!.serviceName!, "the StatefulSet's serviceName");
  assert.equal(headless.spec?.clusterIP, 'None', `${headless.metadata!.name} is headless`);
  assert.ok(selects(headless.spec?.selector, sts.spec!.template.metadata?.labels), `${headless.metadata!.name} selects the origin pods`);
  // The advertised address is this pod's DNS name under the headless Service.
  const ns = sts.metadata!.namespace!;
  assert.equal(config.cluster.advertise, `rtmp://${sts.metadata!.name}-0.${headless.metadata!.name}.${ns}.svc.cluster.local:${config.rtmp.port}`);
  assert.ok(headless.spec?.ports?.some((p) => p.port === config.rtmp.port), `${headless.metadata!.name} has the RTMP port`);
  // Encoders reach the origins through a Service with a virtual IP.
  const ingest = ofKind<IService>(objects, 'Service').filter(
    (s) => s.spec?.clusterIP !== 'None' && selects(s.spec?.selector, sts.spec!.template.metadata?.labels) && s.spec?.ports?.some((p) => p.port === 1935),
  );
  assert.equal(ingest.length, 1, 'one Service for publishers on 1935');
  assert.ok(['ClusterIP', 'LoadBalancer', undefined].includes(ingest[0]!.spec?.type));
}

function checkEdge(objects: K8sObject[]): void {
  const dep = named(ofKind<IDeployment>(objects, 'Deployment'), 'sluice-edge', 'Deployment');
  const c = podSpec(dep).containers.find(isSluice)!;
  const config = effectiveConfig(objects, dep, c);
  assert.equal(config.mode, 'edge');
  assert.ok(config.edge.origins.length > 0, 'edge.origins is the static fallback');
  // Players: one LoadBalancer Service with RTMP and HTTP-FLV/WS-FLV.
  const lb = ofKind<IService>(objects, 'Service').filter((s) => s.spec?.type === 'LoadBalancer' && selects(s.spec?.selector, dep.spec!.template.metadata?.labels));
  assert.equal(lb.length, 1, 'one LoadBalancer Service selects the edges');
  const ports = (lb[0]!.spec?.ports ?? []).map((p) => [p.port, containerPortNumber(c, p.targetPort ?? p.port)]);
  assert.deepEqual(ports.sort(), [[1935, config.rtmp.port], [8080, config.http.port]], 'the edge Service exposes 1935 and 8080 onto the container ports');
  // The HPA owns the edge count and scales on CPU.
  const [hpa, ...more] = ofKind<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler');
  assert.ok(hpa && more.length === 0, 'one HPA');
  assert.deepEqual(hpa.spec?.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata!.name });
  assert.ok(hpa.spec?.metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization'), 'HPA on CPU utilization');
  assert.equal(dep.spec!.replicas, undefined, 'the Deployment leaves replicas to the HPA');
  assert.equal(dep.spec!.strategy?.rollingUpdate?.maxUnavailable, 0, 'rolling updates add before they remove');
}

test(`the overlays render (${renderer.describe || 'no renderer found'})`, () => {
  for (const overlay of OVERLAYS) assert.ok(rendered(overlay).length > 0, overlay);
});

test('k8s/overlays/origin: schema-valid, an origin StatefulSet behind a headless Service', () => {
  checkOverlay('origin');
  checkOrigin(rendered('origin'));
  assert.equal(workloads(rendered('origin')).length, 1);
});

test('k8s/overlays/edge: schema-valid, edges behind a LoadBalancer on 1935 and 8080, with HPA and PDB', () => {
  checkOverlay('edge');
  checkEdge(rendered('edge'));
  assert.equal(workloads(rendered('edge')).length, 1);
});

test('k8s/overlays/dev: origin + edge + Redis, and every in-cluster URL names a rendered Service', () => {
  const objects = rendered('dev');
  checkOverlay('dev');
  checkOrigin(objects);
  checkEdge(objects);
  const redis = named(ofKind<IDeployment>(objects, 'Deployment'), 'sluice-redis', 'Deployment');
  const args = podSpec(redis).containers[0]!.args ?? [];
  assert.deepEqual(args.slice(0, 4), ['--save', '', '--appendonly', 'no'], 'Redis persistence off');
  assert.match(podSpec(redis).containers[0]!.image ?? '', /^redis:7/);
  for (const w of workloads(objects).filter((x) => podSpec(x).containers.some(isSluice))) {
    const config = effectiveConfig(objects, w, podSpec(w).containers.find(isSluice)!);
    const redisSvc = serviceFor(objects, config.cluster.redis.url!, 6379);
    assert.ok(selects(redisSvc.spec?.selector, redis.spec!.template.metadata?.labels), `${w.metadata!.name}: the Redis URL reaches the Redis pod`);
    for (const origin of config.edge.origins) {
      const svc = serviceFor(objects, origin, 1935);
      const origins = named(ofKind<IStatefulSet>(objects, 'StatefulSet'), 'sluice-origin', 'StatefulSet');
      assert.ok(selects(svc.spec?.selector, origins.spec!.template.metadata?.labels), `${origin} reaches the origin pods`);
    }
  }
});

test('the schema check fails a misspelled field, a wrong type and an unmapped kind', () => {
  const edge = named(ofKind<IDeployment>(rendered('edge'), 'Deployment'), 'sluice-edge', 'Deployment');
  const variant = (name: string, change: (c: Record<string, unknown>) => void): K8sObject => {
    const obj = structuredClone(edge) as unknown as K8sObject;
    obj.metadata.name = name;
    change((obj as unknown as IDeployment).spec!.template.spec!.containers[0] as unknown as Record<string, unknown>);
    return obj;
  };
  const rename = (o: Record<string, unknown>, from: string, to: string) => {
    o[to] = o[from];
    delete o[from];
  };
  const objects = [
    variant('misspelled-required', (c) => rename((c.ports as Record<string, unknown>[])[0]!, 'containerPort', 'containerPrt')),
    variant('misspelled-optional', (c) => rename(c, 'readinessProbe', 'readinesProbe')),
    variant('wrong-type', (c) => ((c.ports as Record<string, unknown>[])[0]!.containerPort = '1935')),
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'unmapped' } },
  ];
  const problems = schemaProblems(objects);
  const of = (name: string) => problems.get(name)!.join('\n');
  // containerPort is required: validate() and the strict pass both catch its misspelling.
  assert.match(of('Deployment/misspelled-required'), /validate\(\):.*required property containerPort/);
  assert.match(of('Deployment/misspelled-required'), /strict:.*'"containerPrt"' does not exist/);
  // An optional field misspelled passes validate() (the schemas allow unknown fields); the strict pass fails it.
  assert.doesNotMatch(of('Deployment/misspelled-optional'), /validate\(\)/);
  assert.match(of('Deployment/misspelled-optional'), /strict:.*'"readinesProbe"' does not exist in type 'IContainer'/);
  assert.match(of('Deployment/wrong-type'), /validate\(\):.*containerPort must be integer/);
  assert.match(of('Deployment/wrong-type'), /strict:.*not assignable to type 'number'/);
  assert.match(of('Ingress/unmapped'), /not in the test's model table/);
  // The rendered object itself is clean, so these problems are the mutations'.
  assert.deepEqual(schemaProblems([edge as unknown as K8sObject]).get('Deployment/sluice-edge'), []);
});

// ---------------------------------------------------------------- Dockerfile

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string | undefined;
  image: string;
  steps: Instruction[];
}

/** Instructions with their continuation lines joined, comments dropped, grouped by FROM. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^\s*(#|$)/.test(lines[i]!)) continue;
    const start = i;
    let joined = lines[i]!;
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i]!)) continue;
      joined = joined.replace(/\\\s*$/, ' ') + lines[i]!.trim();
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(joined);
    assert.ok(m, `Dockerfile line ${start + 1}: an instruction`);
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 };
    if (ins.op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(f, `Dockerfile line ${ins.line}: FROM image [AS name]`);
      stages.push({ image: f[1]!, name: f[2], steps: [] });
    } else {
      assert.ok(stages.length > 0, `Dockerfile line ${ins.line}: ${ins.op} before FROM`);
      stages[stages.length - 1]!.steps.push(ins);
    }
  }
  return stages;
}

/** .dockerignore rules in order (the last match wins); a rule that matches a folder covers what is under it. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const ch = pattern[i]!;
        if (ch === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            re += '(?:.*/)?';
          } else re += '.*';
        } else if (ch === '*') re += '[^/]*';
        else if (ch === '?') re += '[^/]';
        else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path) => {
    const parts = posix.normalize(path).split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (rule.re.test(parts.slice(0, n).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

function filesUnder(rel: string): string[] {
  const abs = join(ROOT, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'));
}

const jsonArgs = (ins: Instruction | undefined): string[] => {
  assert.ok(ins, 'instruction present');
  const v = JSON.parse(ins.args) as unknown;
  assert.ok(Array.isArray(v) && v.every((s) => typeof s === 'string'), `Dockerfile line ${ins.line}: ${ins.op} in JSON (exec) form`);
  return v as string[];
};

test('k8s/Dockerfile: two stages, production dependencies only, non-root, health check, entrypoint in the build output', () => {
  const stages = parseDockerfile(readFileSync(join(ROOT, 'k8s', 'Dockerfile'), 'utf8'));
  const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };
  const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };

  assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
  const runtime = stages[stages.length - 1]!;
  const build = stages.find((s) => s.steps.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args)));
  assert.ok(build?.name && build !== runtime, 'a named build stage runs `npm run build`');
  assert.ok(pkg.scripts.build, 'package.json has a build script');
  assert.ok(build.steps.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args) && !/--omit=dev/.test(i.args)), 'the build stage installs the dev dependencies');
  assert.ok(
    runtime.steps.some((i) => i.op === 'RUN' && /\bnpm (ci|prune)\b.*--omit=dev/.test(i.args)),
    'the runtime stage holds production dependencies only (npm ci/prune --omit=dev)',
  );
  const nodeMajor = /\d+/.exec(pkg.engines.node)![0];
  for (const s of stages) assert.match(s.image, new RegExp(`^node:${nodeMajor}\\b`), `stage ${s.name ?? s.image} is on Node ${nodeMajor} (package.json engines)`);

  // Nothing but the npm registry is reached: no downloads of our own.
  for (const s of stages) {
    for (const i of s.steps) {
      assert.doesNotMatch(`${i.op} ${i.args}`, /\b(curl|wget|git clone)\b|^ADD\s+(\S+\s+)*https?:/, `Dockerfile line ${i.line} downloads nothing`);
      assert.notEqual(i.op, 'ADD', `Dockerfile line ${i.line}: COPY, not ADD`);
    }
  }

  // Every COPY from the context exists and is not left out by .dockerignore; every --from names an earlier stage.
  for (const [index, s] of stages.entries()) {
    for (const i of s.steps.filter((x) => x.op === 'COPY')) {
      const words = i.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const sources = paths.slice(0, -1);
      assert.ok(sources.length > 0, `Dockerfile line ${i.line}: COPY source and destination`);
      if (from) {
        assert.ok(stages.slice(0, index).some((p) => p.name === from), `Dockerfile line ${i.line}: --from=${from} is an earlier stage`);
        continue;
      }
      for (const src of sources) {
        assert.ok(existsSync(join(ROOT, src)), `Dockerfile line ${i.line}: ${src} exists in the repository`);
        for (const file of filesUnder(src)) assert.equal(ignored(file), false, `Dockerfile line ${i.line}: ${file} is not excluded by .dockerignore`);
      }
    }
  }
  for (const heavy of ['node_modules', 'dist', '.git', 'node_modules/yaml/package.json']) assert.equal(ignored(heavy), true, `.dockerignore leaves out ${heavy}`);

  // The entrypoint is tsc's output for src/cli.ts, copied from the build stage's WORKDIR.
  const outFile = (src: string) => posix.join(tsconfig.compilerOptions.outDir, posix.relative(tsconfig.compilerOptions.rootDir, src)).replace(/\.ts$/, '.js');
  const cli = outFile('src/cli.ts');
  assert.equal(cli, 'dist/src/cli.js');
  assert.ok(existsSync(join(ROOT, 'src', 'cli.ts')));
  const entry = jsonArgs(runtime.steps.filter((i) => i.op === 'ENTRYPOINT').pop());
  assert.deepEqual(entry, ['node', cli]);
  assert.deepEqual(jsonArgs(runtime.steps.filter((i) => i.op === 'CMD').pop()), ['serve']);
  const workdir = (s: Stage) => s.steps.filter((i) => i.op === 'WORKDIR').pop()?.args ?? '/';
  const copied = runtime.steps
    .filter((i) => i.op === 'COPY' && i.args.includes(`--from=${build.name}`))
    .map((i) => i.args.split(/\s+/).filter((w) => !w.startsWith('--')))
    .map(([src, dest]) => ({ src: posix.relative(workdir(build), src!), dest: posix.relative(workdir(runtime), posix.resolve(workdir(runtime), dest!)) }));
  assert.ok(
    copied.some(({ src, dest }) => src === dest && (cli === src || cli.startsWith(src + '/'))),
    `the runtime stage copies ${cli} from ${build.name}:${workdir(build)} to the same place under its WORKDIR (${JSON.stringify(copied)})`,
  );

  // Runs as the image's node user, never root.
  const user = runtime.steps.filter((i) => i.op === 'USER').pop()?.args;
  assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user} is not root`);
  const defaults = resolveConfig({});
  const exposed = new Set(runtime.steps.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.replace(/\/tcp$/, ''))));
  for (const port of [defaults.rtmp.port, defaults.http.port, defaults.admin.port]) assert.ok(exposed.has(port), `EXPOSE ${port}`);
  const health = runtime.steps.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(health, 'a HEALTHCHECK');
  assert.match(health.args, new RegExp(`CMD .*node.*http://127\\.0\\.0\\.1:${defaults.admin.port}/healthz`), 'HEALTHCHECK asks /healthz on the admin port with node');
});
