import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { httpsGet } from './https.ts';
import { ManagedProcess, processesMarkedFor, type ProcessSpec } from './process.ts';
import type { ToolPaths } from './tools.ts';
import { freePorts, eventually } from './wait.ts';

export interface ControlPlaneInfo {
  kubeconfig: string;
  server: string;
  caFile: string;
  token: string;
  logs: Record<string, string>;
  /** The API server's audit log of writes (JSON lines, one per request). */
  auditLog: string;
}

/**
 * What the API server audits: every write, at Metadata level (who, which user agent, what object,
 * when received, the response code), written synchronously so that a test reads it in order. With
 * `auditReads`, reads too (get, list, watch): what the API-economy benchmark counts per user agent.
 */
const auditPolicyFor = (auditReads: boolean) => ({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: auditReads
    ? [{ level: 'Metadata' }]
    : [
        { level: 'Metadata', verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'] },
        { level: 'None' },
      ],
});

/**
 * etcd, kube-apiserver (RBAC on, bearer-token admin), kube-controller-manager, kube-scheduler and
 * kwok as local processes, the way envtest and kwokctl's binary runtime run them. kwok plays the
 * kubelet for the fake nodes, so pods become Ready and rollouts complete.
 */
export class ControlPlane {
  readonly info: ControlPlaneInfo;
  private readonly processes: Map<string, ManagedProcess>;
  private readonly kubectl: string;
  private readonly nodeCount: number;

  private constructor(
    info: ControlPlaneInfo,
    processes: Map<string, ManagedProcess>,
    kubectl: string,
    nodeCount: number,
  ) {
    this.info = info;
    this.processes = processes;
    this.kubectl = kubectl;
    this.nodeCount = nodeCount;
  }

  static async create(
    dir: string,
    tools: ToolPaths,
    { nodes = 2, auditReads = false }: { nodes?: number; auditReads?: boolean } = {},
  ): Promise<ControlPlane> {
    const pki = join(dir, 'pki');
    const logs = join(dir, 'logs');
    for (const d of [pki, logs, join(dir, 'etcd')]) mkdirSync(d, { recursive: true });
    const [etcdPort, peerPort, apiPort, cmPort, schedPort, kwokPort] = await freePorts(6);
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(pki, 'tokens.csv'), `${token},selfheal-admin,selfheal-admin,system:masters\n`, {
      mode: 0o600,
    });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(pki, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));

    const server = `https://127.0.0.1:${apiPort}`;
    const caFile = join(pki, 'apiserver.crt'); // written by kube-apiserver itself (self-signed, in --cert-dir)
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(server, caFile, token), { mode: 0o600 });
    const auditPolicy = join(pki, 'audit-policy.yaml');
    writeFileSync(auditPolicy, stringify(auditPolicyFor(auditReads)));
    const auditLog = join(logs, 'audit.log');

    const bin = tools.binaries;
    const spec = (name: string, command: string, args: string[]): ProcessSpec => ({
      name,
      command,
      args,
      logFile: join(logs, `${name}.log`),
    });
    const specs = [
      spec('etcd', bin.etcd, [
        '--name=selfheal',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=selfheal=http://127.0.0.1:${peerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]),
      spec('kube-apiserver', bin['kube-apiserver'], [
        `--etcd-servers=http://127.0.0.1:${etcdPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${pki}`,
        `--token-auth-file=${join(pki, 'tokens.csv')}`,
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.96.0.0/24',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${join(pki, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
        '--allow-privileged=true',
        '--profiling=false',
        `--audit-policy-file=${auditPolicy}`,
        `--audit-log-path=${auditLog}`,
        '--audit-log-format=json',
        '--audit-log-mode=blocking',
        '--audit-log-maxsize=200',
      ]),
      spec('kube-controller-manager', bin['kube-controller-manager'], [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${cmPort}`,
        `--cert-dir=${join(pki, 'controller-manager')}`,
        `--service-account-private-key-file=${join(pki, 'sa.key')}`,
        `--root-ca-file=${caFile}`,
        '--profiling=false',
      ]),
      spec('kube-scheduler', bin['kube-scheduler'], [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${schedPort}`,
        `--cert-dir=${join(pki, 'scheduler')}`,
        '--profiling=false',
      ]),
      spec('kwok', bin.kwok, [
        `--kubeconfig=${kubeconfig}`,
        `--config=${tools.kwokStages}`,
        '--manage-all-nodes=true',
        `--server-address=127.0.0.1:${kwokPort}`,
        '--node-ip=127.0.0.1',
        '--cidr=10.244.0.0/16',
      ]),
    ];
    const processes = new Map(specs.map((s) => [s.name, new ManagedProcess(s, dir)]));
    const info: ControlPlaneInfo = {
      kubeconfig,
      server,
      caFile,
      token,
      logs: Object.fromEntries(specs.map((s) => [s.name, s.logFile])),
      auditLog,
    };
    return new ControlPlane(info, processes, bin.kubectl, nodes);
  }

  private process(name: string): ManagedProcess {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no control-plane process named ${name}`);
    return p;
  }

  async start(): Promise<void> {
    this.process('etcd').start();
    await this.startApiServer();
    for (const name of ['kube-controller-manager', 'kube-scheduler', 'kwok']) this.process(name).start();
    this.ensureNodes();
    await eventually(
      `${this.nodeCount} Ready kwok nodes`,
      async () => (await this.readyNodeCount()) >= this.nodeCount,
      { timeoutMs: 60_000, intervalMs: 300, check: () => this.assertAlive() },
    );
    await eventually(
      'the default ServiceAccount',
      async () => (await this.get('/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
      {
        timeoutMs: 60_000,
        check: () => this.assertAlive(),
      },
    );
  }

  /** Starts the API server and waits until /readyz says ok. */
  private async startApiServer(): Promise<void> {
    const apiserver = this.process('kube-apiserver');
    apiserver.start();
    await eventually('kube-apiserver /readyz', async () => (await this.get('/readyz')).status === 200, {
      timeoutMs: 90_000,
      intervalMs: 250,
      check: () => {
        this.process('etcd').assertAlive();
        apiserver.assertAlive();
      },
    });
  }

  assertAlive(): void {
    for (const p of this.processes.values()) p.assertAlive();
  }

  /** Stops in reverse order of start: nodes' kubelet stand-in first, etcd last. */
  async stop(): Promise<void> {
    for (const p of [...this.processes.values()].reverse()) await p.stop();
  }

  private get(path: string) {
    const ca = existsSync(this.info.caFile) ? readFileSync(this.info.caFile, 'utf8') : '';
    if (!ca) return Promise.resolve({ status: 0, body: '' });
    return httpsGet(this.info.server + path, { ca, token: this.info.token });
  }

  private async readyNodeCount(): Promise<number> {
    const res = await this.get('/api/v1/nodes');
    if (res.status !== 200) return 0;
    const list = JSON.parse(res.body) as {
      items: { status?: { conditions?: { type: string; status: string }[] } }[];
    };
    return list.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
  }

  private ensureNodes(): void {
    const nodes = Array.from({ length: this.nodeCount }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: `kwok-node-${i}`,
        labels: { 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux', type: 'kwok' },
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: {},
    }));
    execFileSync(this.kubectl, ['--kubeconfig', this.info.kubeconfig, 'apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
  }
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'selfheal-local', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: 'selfheal-admin', user: { token } }],
    contexts: [
      {
        name: 'selfheal-local',
        context: { cluster: 'selfheal-local', user: 'selfheal-admin', namespace: 'default' },
      },
    ],
    'current-context': 'selfheal-local',
  });
}

type ControlPlaneBinary = 'kube-apiserver' | 'kube-controller-manager';

function controlPlanePid(stateDir: string, binary: ControlPlaneBinary): number {
  const pid = processesMarkedFor(stateDir).find((p) =>
    readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0]?.endsWith(binary),
  );
  if (pid === undefined) throw new Error(`no ${binary} is running for ${stateDir}`);
  return pid;
}

/**
 * SIGKILLs a control-plane process (an abrupt crash, not a graceful drain) and returns how to start
 * it again with the same flags. A zombie left for its parent (the process that started it) to reap
 * counts as gone.
 */
async function killControlPlaneProcess(
  stateDir: string,
  info: ControlPlaneInfo,
  binary: ControlPlaneBinary,
): Promise<() => ManagedProcess> {
  const pid = controlPlanePid(stateDir, binary);
  const [command = '', ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  process.kill(pid, 'SIGKILL');
  const gone = () =>
    !existsSync(`/proc/${pid}`) ||
    readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') === true;
  await eventually(`${binary} to exit`, gone, { timeoutMs: 30_000, intervalMs: 100 });
  return () => {
    const restarted = new ManagedProcess(
      { name: binary, command, args, logFile: info.logs[binary] ?? '/dev/null' },
      stateDir,
    );
    restarted.start();
    return restarted;
  };
}

/**
 * Freezes the kube-apiserver of a running local environment (SIGSTOP): connections stay open and
 * requests queue in the kernel, unanswered, as with a hung API server or a partition that drops
 * nothing. Returns the function that thaws it (SIGCONT).
 */
export function freezeApiServer(stateDir: string): () => void {
  const pid = controlPlanePid(stateDir, 'kube-apiserver');
  process.kill(pid, 'SIGSTOP');
  return () => process.kill(pid, 'SIGCONT');
}

/**
 * Kills the kube-apiserver of a running local environment from any process (a test worker, not
 * only the one that started it) and returns a function that starts it again with the same flags,
 * waits until it is ready, and restarts the controller-manager. Outage tests use it.
 */
export async function stopApiServer(stateDir: string, info: ControlPlaneInfo): Promise<() => Promise<void>> {
  const startApiServer = await killControlPlaneProcess(stateDir, info, 'kube-apiserver');
  return async () => {
    const apiserver = startApiServer();
    const ca = readFileSync(info.caFile, 'utf8');
    await eventually(
      'kube-apiserver /readyz after restart',
      async () => (await httpsGet(`${info.server}/readyz`, { ca, token: info.token })).status === 200,
      {
        timeoutMs: 90_000,
        check: () => apiserver.assertAlive(),
      },
    );
    // The controller-manager outlived the outage with caches that lag the restarted API server for
    // minutes under load (its ReplicaSet syncs fail "read version ... is not as new as written
    // version" and back off), stalling the rollouts of every later test of the tier. A fresh one
    // starts from a consistent list, as it would after the node restart such an outage often is.
    (await killControlPlaneProcess(stateDir, info, 'kube-controller-manager'))();
  };
}
