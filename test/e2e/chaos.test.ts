import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { runChaos } from '../support/chaos.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';

// Crash safety from outside the process: SIGKILL at random moments, no fault hooks. Every incident
// ends Resolved and every Deployment gets exactly one new ReplicaSet, with one replica and with two
// replicas electing a leader (then the leader is the one killed).
const kc = kubeConfigFor('e2e');
const namespaces: string[] = [];
let operators: OperatorProcess[] = [];

afterEach(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
});
afterAll(async () => {
  await Promise.all(namespaces.map((name) => kc.makeApiClient(CoreV1Api).deleteNamespace({ name })));
});

async function drill(replicaCount: number) {
  const namespace = await createTestNamespace(kc, `chaos-${replicaCount}`);
  namespaces.push(namespace);
  const names = Array.from({ length: replicaCount }, (_, i) => `chaos-${replicaCount}-${i}`);
  operators = await Promise.all(
    names.map((name) =>
      OperatorProcess.start('e2e', {
        name,
        args: [
          `--namespace=${namespace}`,
          `--identity=${name}`,
          '--storm-max-incidents=1000',
          '--default-max-per-hour=100',
          '--lease-duration=3s',
          '--renew-deadline=2s',
          '--retry-period=500ms',
        ],
      }),
    ),
  );
  const replicas = operators.map((o, i) => ({
    name: names[i] ?? '',
    get running() {
      return o.running;
    },
    kill: () => o.kill(),
    restart: () => o.restart(),
  }));
  return runChaos({
    kc,
    incidents: new IncidentClient(kc, namespace),
    leaseNamespace: namespace,
    replicas,
    incidentCount: 30,
    kills: 30,
    log: (line) => process.stderr.write(`[chaos ${replicaCount}] ${line}\n`),
  });
}

describe('random SIGKILLs from outside', () => {
  it.each([1, 2])(
    'with %i replica(s): 30 incidents through 30 kills, each fixed by exactly one restart',
    async (count) => {
      const result = await drill(count);
      expect(result.wrongRevisions).toEqual({});
      expect(result.wrongAttempts).toEqual({});
      expect(result.resolved).toBe(30);
      expect(result.kills).toBe(30);
    },
  );
});
