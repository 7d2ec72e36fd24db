// The live demo (hack/demo.sh): a local cluster, the CRDs, the operator (with local PagerDuty and
// Slack stand-ins and its status page), then, before your eyes: a manual incident remediated, an
// alert through the webhook remediated, and an incident automation cannot fix escalated to people,
// paged, acknowledged and resolved with the kubectl plugin. Everything stays running afterwards.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION } from '../src/api/group.ts';
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
const { kubeconfig, stateDir } = env.info;
const kubectl = locateTools().binaries.kubectl;
const toolEnv = {
  ...process.env,
  KUBECONFIG: kubeconfig,
  PATH: `${join(REPO_ROOT, 'bin')}:${process.env.PATH ?? ''}`,
};
const run = (command: string, args: string[], input?: string) =>
  execFileSync(command, args, { env: toolEnv, encoding: 'utf8', ...(input ? { input } : {}) });
const kubectlRun = (args: string[], input?: string) => run(kubectl, args, input);
console.log(`${clock()} cluster up; kubeconfig ${kubeconfig}`);

step('installing the selfheal CRDs (Incident, RemediationPolicy, StatusComponent)');
installCrds(kubeconfig);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
for (const name of ['selfheal-system', NAMESPACE])
  await core.createNamespace({ body: { metadata: { name } } });

async function deployment(name: string, replicas: number, minReadySeconds = 0): Promise<void> {
  const labels = { app: name };
  await apps.createNamespacedDeployment({
    namespace: NAMESPACE,
    body: {
      metadata: { name, labels },
      spec: {
        replicas,
        minReadySeconds,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name, image: `example.com/${name}:1.4.2` }] },
        },
      },
    },
  });
}
step(
  `creating Deployments ${NAMESPACE}/api (3 replicas) and ${NAMESPACE}/checkout (whose pods never become available in time)`,
);
await deployment('api', 3);
await deployment('checkout', 2, 300);
await eventually(
  'the api Deployment to be available',
  async () =>
    (await apps.readNamespacedDeployment({ name: 'api', namespace: NAMESPACE })).status?.availableReplicas ===
    3,
);
console.log(kubectlRun(['-n', NAMESPACE, 'get', 'deployment']));

step('starting local stand-ins for PagerDuty and Slack (they check every field, as the real ones would)');
const receiversInfo = join(stateDir, 'receivers.json');
const receiversLog = join(stateDir, 'receivers.log');
const receivers = new ManagedProcess(
  {
    name: 'receivers',
    command: process.execPath,
    args: [join(REPO_ROOT, 'hack', 'receivers.ts'), receiversInfo],
    logFile: receiversLog,
  },
  stateDir,
);
receivers.start();
const { pagerDutyUrl, routingKey, slackWebhookUrl } = await eventually(
  'the stand-ins to listen',
  () => {
    try {
      return JSON.parse(readFileSync(receiversInfo, 'utf8')) as {
        pagerDutyUrl: string;
        routingKey: string;
        slackWebhookUrl: string;
      };
    } catch {
      return undefined;
    }
  },
  { check: () => receivers.assertAlive() },
);
await core.createNamespacedSecret({
  namespace: NAMESPACE,
  body: { metadata: { name: 'pagerduty' }, stringData: { 'routing-key': routingKey } },
});
await core.createNamespacedSecret({
  namespace: NAMESPACE,
  body: { metadata: { name: 'slack' }, stringData: { 'webhook-url': slackWebhookUrl } },
});
console.log(
  `PagerDuty Events API at ${pagerDutyUrl}, Slack webhook ${slackWebhookUrl.replace(/\/[0-9a-f]+$/, '/…')}; what they receive: ${receiversLog}`,
);

step('starting the operator (node src/main.ts), leader election on, its status page on');
const healthPort = await freePort();
const webhookPort = await freePort();
const statusPagePort = await freePort();
const webhookUrl = `http://127.0.0.1:${webhookPort}/webhook/alertmanager`;
const tokenFile = join(stateDir, 'webhook-token');
writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
const operatorLog = join(stateDir, 'operator.log');
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
      `--status-page-address=127.0.0.1:${statusPagePort}`,
      // No namespace speaks on the public page unless the install opts it in.
      `--status-page-namespaces=${NAMESPACE}`,
      `--pagerduty-url=${pagerDutyUrl}`,
      '--namespace=selfheal-system',
      // The Slack stand-in listens on 127.0.0.1: a tenant URL may reach loopback only when allowed.
      '--egress-allow-loopback',
    ],
    logFile: operatorLog,
  },
  stateDir,
);
operator.start();
await eventually(
  'the operator to be ready',
  async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.ok === true,
  // It is ready in seconds; a first run on a machine still busy (a build, a test run) once took over 30.
  { timeoutMs: 90_000, check: () => operator.assertAlive() },
);
console.log(
  `${clock()} operator ready; metrics on http://127.0.0.1:${healthPort}/metrics; log ${operatorLog}`,
);

const readIncident = async (name: string) =>
  (await objects.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: NAMESPACE,
    plural: 'incidents',
    name,
  })) as Incident;
/** Prints the incident's timeline, and what the stand-ins received, as it grows, until `done`. */
async function follow(name: string, done: (i: Incident) => boolean, timeoutMs = 120_000): Promise<Incident> {
  let shown = 0;
  let received = 0;
  return eventually(
    `incident ${name}`,
    async () => {
      const incident = await readIncident(name).catch(() => undefined);
      const timeline = incident?.status?.timeline ?? [];
      for (const entry of timeline.slice(shown))
        console.log(`${clock()} ${entry.type.padEnd(18)} ${entry.message}`);
      shown = timeline.length;
      const lines = readFileSync(receiversLog, 'utf8').split('\n').filter(Boolean);
      for (const line of lines.slice(received)) console.log(`${clock()}   ${bold('received')} ${line}`);
      received = lines.length;
      return incident && done(incident) && incident;
    },
    { timeoutMs, intervalMs: 250, check: () => operator.assertAlive() },
  );
}

step(
  `1. declaring a P2 incident by hand: kubectl apply -n ${NAMESPACE} -f deploy/samples/incident-manual.yaml`,
);
process.stdout.write(
  kubectlRun(['apply', '-n', NAMESPACE, '-f', join(REPO_ROOT, 'deploy', 'samples', 'incident-manual.yaml')]),
);
const manual = await follow('api-degraded', (i) => i.status?.phase === 'Resolved');
console.log(`One restart (${manual.status?.attempts?.[0]?.id ?? '?'}), verified by kubectl's rollout rules.`);

step(
  '2. an alert, as Alertmanager sends it, under a RemediationPolicy that restarts the Deployment it names',
);
await objects.createNamespacedCustomObject({
  group: GROUP,
  version: VERSION,
  namespace: NAMESPACE,
  plural: 'remediationpolicies',
  body: {
    apiVersion: API_VERSION,
    kind: 'RemediationPolicy',
    metadata: { name: 'demo-restart' },
    spec: {
      match: { alertName: 'DemoApiDown' },
      // The alert names the Deployment; the selector says which Deployments an alert may name.
      target: { kind: 'Deployment', nameFromLabel: 'deployment', selector: { matchLabels: { app: 'api' } } },
      actions: [{ type: 'rolloutRestart' }],
      guards: { maxAttempts: 2, cooldown: '0s', maxPerHour: 10 },
      public: { message: 'Some requests to our API fail. We are looking into it.' },
    },
  },
});
const alert = (fingerprint: string) => ({
  version: '4',
  status: 'firing',
  receiver: 'selfheal',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'DemoApiDown', namespace: NAMESPACE, deployment: 'api', severity: 'error' },
      annotations: { summary: 'the api Deployment is down' },
      startsAt: new Date().toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      fingerprint,
    },
  ],
});
const token = readFileSync(tokenFile, 'utf8');
const answer = await fetch(webhookUrl, {
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify(alert('d0e1a2b3c4d5e6f7')),
});
const taken = (await answer.json()) as { alerts: { result: string; incident?: string }[] };
console.log(`POST ${webhookUrl} → ${answer.status}: ${JSON.stringify(taken.alerts)}`);
await follow(taken.alerts[0]?.incident ?? '', (i) => i.status?.phase === 'Resolved');

step(
  '3. a P1 that automation cannot fix: its restart never completes; level 1 is paged at once (a heads-up), then told it failed',
);
await objects.createNamespacedCustomObject({
  group: GROUP,
  version: VERSION,
  namespace: NAMESPACE,
  plural: 'incidents',
  body: {
    apiVersion: API_VERSION,
    kind: 'Incident',
    metadata: { name: 'checkout-down' },
    spec: {
      severity: 'P1',
      title: 'Checkout fails for every customer',
      target: { kind: 'Deployment', name: 'checkout' },
      actions: [{ type: 'rolloutRestart', rolloutRestart: { timeout: '8s' } }],
      escalation: {
        levels: [
          {
            after: '0s',
            receivers: [
              { name: 'oncall', type: 'pagerduty', secretRef: { name: 'pagerduty', key: 'routing-key' } },
              { name: 'incident-response', type: 'slack', secretRef: { name: 'slack', key: 'webhook-url' } },
            ],
          },
        ],
      },
    },
  },
});
await follow(
  'checkout-down',
  (i) =>
    (i.status?.notifications ?? []).some((n) => n.id.startsWith('escalated:') && n.state === 'Delivered') ||
    (i.status?.phase === 'Escalated' && (i.status.notifications ?? []).every((n) => n.state !== 'Pending')),
  180_000,
);

step('people take over with the kubectl plugin: kubectl incident ack, then resolve');
console.log(`$ kubectl incident ack checkout-down -n ${NAMESPACE} --by alice`);
process.stdout.write(
  run(join(REPO_ROOT, 'bin', 'kubectl-incident'), ['ack', 'checkout-down', '-n', NAMESPACE, '--by', 'alice']),
);
await follow('checkout-down', (i) =>
  (i.status?.notifications ?? []).some((n) => n.event === 'acknowledge' && n.state === 'Delivered'),
);
console.log(
  `$ kubectl incident resolve checkout-down -n ${NAMESPACE} --note "rolled back checkout to 1.4.1"`,
);
process.stdout.write(
  run(join(REPO_ROOT, 'bin', 'kubectl-incident'), [
    'resolve',
    'checkout-down',
    '-n',
    NAMESPACE,
    '--note',
    'rolled back checkout to 1.4.1',
  ]),
);
await follow('checkout-down', (i) =>
  (i.status?.notifications ?? []).some((n) => n.event === 'resolve' && n.state === 'Delivered'),
);
console.log(run(join(REPO_ROOT, 'bin', 'kubectl-incident'), ['show', 'checkout-down', '-n', NAMESPACE]));

step('result');
console.log(kubectlRun(['-n', NAMESPACE, 'get', 'incidents', '-o', 'wide']));

step('try next');
console.log(`  export KUBECONFIG=${kubeconfig} PATH=${join(REPO_ROOT, 'bin')}:$PATH
  alias kubectl=${kubectl}
  kubectl get inc -n ${NAMESPACE}                    # the incidents, their phase and attempts
  kubectl incident show checkout-down -n ${NAMESPACE} # checklist, timeline, deliveries
  kubectl describe inc api-degraded -n ${NAMESPACE}   # conditions and Events
  open http://127.0.0.1:${statusPagePort}/             # the public status page (summary.json, history.atom, badge.svg)
  tail -f ${receiversLog}    # what PagerDuty and Slack receive

Send it an alert as Alertmanager would (webhook ${webhookUrl}, bearer token in ${tokenFile}):
  curl -s -X POST ${webhookUrl} -H "Authorization: Bearer $(cat ${tokenFile})" \\
    -H 'Content-Type: application/json' -d '${JSON.stringify(alert('0123456789abcdef'))}'
  kubectl -n selfheal-system create configmap selfheal-pause --from-literal=reason=demo   # pause all automation
  kubectl -n selfheal-system delete configmap selfheal-pause                              # and resume
  npm run cluster -- stop                            # stop the cluster, the operator and the stand-ins
The cluster, the operator and the stand-ins keep running in the background.`);
