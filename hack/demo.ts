// The live demo (hack/demo.sh): a local cluster, the CRDs, the operator, a Deployment and a manual P2
// Incident against it, remediated before your eyes. Everything stays running afterwards to explore.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../src/api/group.ts';
import type { Incident } from '../src/api/incident.ts';
import { installCrds } from './localenv/crds.ts';
import { DEFAULT_STATE_DIR, LocalEnv } from './localenv/env.ts';
import { ManagedProcess } from './localenv/process.ts';
import { locateTools, REPO_ROOT } from './localenv/tools.ts';
import { eventually, freePort } from './localenv/wait.ts';

const NAMESPACE = 'demo';
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold('==>')} ${s}`);
const started = Date.now();
const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;

step(
  'starting a local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes)',
);
const env = await LocalEnv.start(DEFAULT_STATE_DIR);
const kubeconfig = env.info.kubeconfig;
const kubectl = locateTools().binaries.kubectl;
const run = (args: string[], input?: string) =>
  execFileSync(kubectl, args, {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    encoding: 'utf8',
    ...(input ? { input } : {}),
  });
console.log(`${clock()} cluster up; kubeconfig ${kubeconfig}`);

step('installing the selfheal CRDs (Incident, RemediationPolicy)');
installCrds(kubeconfig);
console.log(
  run(['get', 'crd', '-l', '', '-o', 'name'])
    .split('\n')
    .filter((l) => l.includes(GROUP))
    .join('\n'),
);

const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
for (const name of ['selfheal-system', NAMESPACE])
  await core.createNamespace({ body: { metadata: { name } } });

step(`creating Deployment ${NAMESPACE}/api with 3 replicas`);
const apps = kc.makeApiClient(AppsV1Api);
const labels = { app: 'api' };
await apps.createNamespacedDeployment({
  namespace: NAMESPACE,
  body: {
    metadata: { name: 'api', labels },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'api', image: 'example.com/api:1.4.2' }] },
      },
    },
  },
});
await eventually(
  'the api Deployment to be available',
  async () =>
    (await apps.readNamespacedDeployment({ name: 'api', namespace: NAMESPACE })).status?.availableReplicas ===
    3,
);
console.log(run(['-n', NAMESPACE, 'get', 'deployment,replicaset']));

step('starting the operator (node src/main.ts), leader election on');
const healthPort = await freePort();
const webhookPort = await freePort();
const webhookUrl = `http://127.0.0.1:${webhookPort}/webhook/alertmanager`;
const tokenFile = join(env.info.stateDir, 'webhook-token');
writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
const operatorLog = join(env.info.stateDir, 'operator.log');
const operator = new ManagedProcess(
  {
    name: 'selfheal',
    command: process.execPath,
    args: [
      join(REPO_ROOT, 'src', 'main.ts'),
      `--kubeconfig=${kubeconfig}`,
      `--health-address=127.0.0.1:${healthPort}`,
      `--webhook-address=127.0.0.1:${webhookPort}`,
      `--webhook-token-file=${tokenFile}`,
      '--namespace=selfheal-system',
    ],
    logFile: operatorLog,
  },
  env.info.stateDir,
);
operator.start();
await eventually(
  'the operator to be ready',
  async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.ok === true,
  {
    timeoutMs: 30_000,
    check: () => operator.assertAlive(),
  },
);
console.log(
  `${clock()} operator ready; health and metrics on http://127.0.0.1:${healthPort}; log ${operatorLog}`,
);

step(`declaring a P2 incident: kubectl apply -n ${NAMESPACE} -f deploy/samples/incident-manual.yaml`);
process.stdout.write(
  run(['apply', '-n', NAMESPACE, '-f', join(REPO_ROOT, 'deploy', 'samples', 'incident-manual.yaml')]),
);

step('watching the incident');
const objects = kc.makeApiClient(CustomObjectsApi);
let shown = 0;
const final = await eventually(
  'the incident to be resolved',
  async () => {
    const incident = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NAMESPACE,
      plural: 'incidents',
      name: 'api-degraded',
    })) as Incident;
    const timeline = incident.status?.timeline ?? [];
    for (const entry of timeline.slice(shown))
      console.log(`${clock()} ${entry.type.padEnd(18)} ${entry.message}`);
    shown = timeline.length;
    return incident.status?.phase === 'Resolved' && incident;
  },
  { timeoutMs: 120_000, intervalMs: 200, check: () => operator.assertAlive() },
);

step('result');
console.log(run(['-n', NAMESPACE, 'get', 'incidents', '-o', 'wide']));
console.log(run(['-n', NAMESPACE, 'get', 'replicasets']));
const attempt = final.status?.attempts?.[0];
console.log(`One restart (attempt ${attempt?.id ?? '?'}): ${attempt?.message ?? ''}`);

step(`a RemediationPolicy for alerts: DemoApiDown restarts the Deployment its "deployment" label names`);
await objects.createNamespacedCustomObject({
  group: GROUP,
  version: VERSION,
  namespace: NAMESPACE,
  plural: 'remediationpolicies',
  body: {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'RemediationPolicy',
    metadata: { name: 'demo-restart' },
    spec: {
      match: { alertName: 'DemoApiDown' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: [{ type: 'rolloutRestart' }],
      guards: { maxAttempts: 2, cooldown: '1m', maxPerHour: 10 },
    },
  },
});
const alertBody = JSON.stringify({
  version: '4',
  status: 'firing',
  receiver: 'selfheal',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'DemoApiDown', namespace: NAMESPACE, deployment: 'api', severity: 'error' },
      annotations: { summary: 'the api Deployment is down' },
      startsAt: '$(date -u +%Y-%m-%dT%H:%M:%SZ)',
      fingerprint: '$(date +%s)',
    },
  ],
});

step('try next');
console.log(`  export KUBECONFIG=${kubeconfig}
  alias kubectl=${kubectl}
  kubectl get inc -n ${NAMESPACE}                 # the incident, its phase and attempts
  kubectl describe inc api-degraded -n ${NAMESPACE}  # conditions, timeline and Events
  kubectl apply -n ${NAMESPACE} -f deploy/samples/  # more samples: policies and another incident
  curl -s http://127.0.0.1:${healthPort}/metrics | grep ^selfheal_

Send it an alert as Alertmanager would (webhook ${webhookUrl}, bearer token in ${tokenFile}):
  curl -s -X POST ${webhookUrl} \\
    -H "Authorization: Bearer $(cat ${tokenFile})" -H 'Content-Type: application/json' \\
    -d "${alertBody.replaceAll('"', '\\"')}"
  kubectl get inc -n ${NAMESPACE} -w               # a new incident, remediated (a cooldown of 1m applies)
  kubectl -n selfheal-system create configmap selfheal-pause --from-literal=reason=demo   # pause all automation
  kubectl -n selfheal-system delete configmap selfheal-pause                              # and resume
  npm run cluster -- stop                      # stop the cluster and the operator
The cluster and the operator keep running in the background.`);
