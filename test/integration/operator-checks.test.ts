import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { eventually } from '../../hack/localenv/wait.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

// No tenant input can hold a worker or the shutdown: verification checks run off the reconcile path,
// within an install ceiling the CRD and the code both enforce. Proven with the operator run as users
// run it, against endpoints that accept a connection and never answer.
const kc = kubeConfigFor('integration');
const HUNG = 5;
let namespace: string;
let incidents: IncidentClient;
let operator: OperatorProcess;

/** A loopback socket that accepts connections and never answers: each check to it holds one open. */
class BlackHole {
  readonly sockets = new Set<Socket>();
  accepted = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      this.accepted++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      // Read (and drop) what comes, so that the client's end of the connection is seen.
      socket.resume();
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return `http://127.0.0.1:${address.port}/health`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const hole = new BlackHole();
let holeUrl: string;

/** The API server's refusal message, or undefined when it accepted the object. */
async function refusal(operation: Promise<unknown>): Promise<string | undefined> {
  try {
    await operation;
    return undefined;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as {
      message?: string;
    };
    return body.message ?? '';
  }
}

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'checks');
  incidents = new IncidentClient(kc, namespace);
  holeUrl = await hole.listen();
  await Promise.all(
    [...Array.from({ length: HUNG }, (_, i) => `hung-${i}`), 'ordinary'].map((name) =>
      incidents.deployment(name),
    ),
  );
  operator = await OperatorProcess.start('integration', {
    name: 'checks',
    args: [
      `--namespace=${namespace}`,
      '--identity=checks',
      '--storm-max-incidents=1000',
      '--default-cooldown=0s',
      // Fewer slots than hung checks: the pool and its share per namespace are what protects others.
      '--check-concurrency=4',
      '--check-concurrency-per-namespace=2',
    ],
  });
});
afterAll(async () => {
  await operator.stop();
  await hole.close();
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe('no tenant input can hold a worker or the shutdown', () => {
  it('refuses a check timeout over the 30 s ceiling with the CRD message', async () => {
    const message = await refusal(
      incidents.create('too-patient', {
        target: { kind: 'Deployment', name: 'ordinary' },
        actions: [{ type: 'rolloutRestart' }],
        verification: {
          http: { url: holeUrl, timeout: '500h', interval: '1s', holdFor: '1s', expectedStatus: 200 },
          holdFor: '15m',
          alertResolved: false,
          timeout: '10m',
        },
      }),
    );
    expect(message).toContain('spec.verification.http.timeout');
    expect(message).toContain('must be at most 30s');
  });

  it('checks that never answer hold no worker: a new incident resolves at once, and SIGTERM ends the operator in seconds', async () => {
    for (let i = 0; i < HUNG; i++)
      await incidents.create(`hung-${i}`, {
        target: { kind: 'Deployment', name: `hung-${i}` },
        actions: [{ type: 'rolloutRestart' }],
        verification: {
          http: { url: holeUrl, timeout: '30s', interval: '1s', holdFor: '1s', expectedStatus: 200 },
          holdFor: '15m',
          alertResolved: false,
          timeout: '10m',
        },
      });
    // Every hung incident's checks are in flight, each holding a connection to the black hole.
    await eventually('checks holding connections', () => hole.sockets.size >= 2, { timeoutMs: 30_000 });
    await Promise.all(
      Array.from({ length: HUNG }, (_, i) =>
        incidents.waitFor(`hung-${i}`, 'Verifying', (inc) => inc.status?.phase === 'Verifying'),
      ),
    );

    const started = Date.now();
    await incidents.create('ordinary', {
      target: { kind: 'Deployment', name: 'ordinary' },
      actions: [{ type: 'rolloutRestart' }],
    });
    await incidents.waitForPhase('ordinary', 'Resolved', 30_000);
    const resolvedInMs = Date.now() - started;
    expect(resolvedInMs).toBeLessThan(15_000);
    // The hung ones are still where they were, their checks pending or failing, never passed.
    for (let i = 0; i < HUNG; i++) expect((await incidents.get(`hung-${i}`)).status?.phase).toBe('Verifying');
    expect((await operator.get('/healthz')).status).toBe(200);

    // Measured from outside: SIGTERM with checks in flight, and the process gone.
    await eventually('a check in flight', () => hole.sockets.size > 0, { timeoutMs: 5_000 });
    const signalled = Date.now();
    await operator.stop();
    const stoppedInMs = Date.now() - signalled;
    expect(stoppedInMs).toBeLessThan(10_000);
    // It ended itself (exit 0 after "stopped"), not by the harness's SIGKILL after its grace period.
    await eventually('the exit code', () => operator.exitCode !== null, { timeoutMs: 2_000 });
    expect(operator.exitCode).toBe(0);
    expect(operator.logLines().some((line) => line.msg === 'stopped')).toBe(true);
    await eventually('the checks to let go of their connections', () => hole.sockets.size === 0, {
      timeoutMs: 5_000,
    });
  });
});
