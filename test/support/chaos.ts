// The chaos drill shared by the e2e chaos test and `npm run bench -- chaos`: incidents on their own
// Deployments arrive while the operator (or whichever replica leads) is SIGKILLed from outside at
// random moments and started again. Afterwards every incident must be Resolved and every Deployment
// must have exactly one new ReplicaSet: nothing repeated, nothing forgotten.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AppsV1Api,
  CoordinationV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { eventually } from '../../hack/localenv/wait.ts';
import type { IncidentClient } from './incidents.ts';

/** An operator replica the drill can kill and start again. */
export interface ChaosReplica {
  readonly name: string;
  readonly running: boolean;
  kill(): void;
  restart(): Promise<void>;
}

export interface ChaosOptions {
  kc: KubeConfig;
  incidents: IncidentClient;
  /** The Lease namespace (the operators' --namespace). */
  leaseNamespace: string;
  replicas: ChaosReplica[];
  incidentCount: number;
  kills: number;
  /** Pause between kills, drawn uniformly from this range (ms). */
  killGapMs?: [number, number];
  random?: () => number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  kills: number;
  incidents: number;
  resolved: number;
  /** Deployments whose ReplicaSet count is not exactly 2 (the original and one restart). */
  wrongRevisions: Record<string, number>;
  /** Incidents with more or fewer than one successful attempt. */
  wrongAttempts: Record<string, number>;
  durationMs: number;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const {
    kc,
    incidents,
    replicas,
    incidentCount,
    kills,
    random = Math.random,
    log = () => undefined,
  } = options;
  const [gapMin, gapMax] = options.killGapMs ?? [300, 1500];
  const started = Date.now();
  const names = Array.from({ length: incidentCount }, (_, i) => `chaos-${i}`);
  const apps = kc.makeApiClient(AppsV1Api);
  // minReadySeconds stretches each rollout over a couple of kills.
  await Promise.all(
    names.map(async (name) => {
      await incidents.deployment(name, 1);
      await apps.patchNamespacedDeployment(
        { name, namespace: incidents.namespace, body: { spec: { minReadySeconds: 2 } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    }),
  );
  log(`${incidentCount} Deployments ready`);

  // Incidents arrive over the first two thirds of the kills, so kills land on every stage of them.
  const expectedDurationMs = kills * ((gapMin + gapMax) / 2 + 1_500);
  const arrivals = (async () => {
    for (const [i, name] of names.entries()) {
      await incidents.create(name, {
        target: { kind: 'Deployment', name },
        actions: [{ type: 'rolloutRestart' }],
      });
      if (i < names.length - 1) await sleep((expectedDurationMs * 2) / 3 / names.length);
    }
  })();

  const leases = kc.makeApiClient(CoordinationV1Api);
  const leader = async (): Promise<ChaosReplica> => {
    if (replicas.length === 1 && replicas[0]) return replicas[0];
    return eventually(
      'a leader to kill',
      async () => {
        const holder = (
          await leases.readNamespacedLease({ name: 'selfheal-leader', namespace: options.leaseNamespace })
        ).spec?.holderIdentity;
        return replicas.find((r) => r.running && holder?.startsWith(`${r.name}-`));
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  };
  // Each replica's latest restart must come up. An earlier one that the drill killed again before it
  // was ready (a replica that took the lease while still syncing is a leader like any other) was
  // superseded by the drill itself, so its readiness wait failing is expected, not a fault.
  const latestRestart = new Map<ChaosReplica, Promise<void>>();
  for (let k = 0; k < kills; k++) {
    await sleep(gapMin + random() * (gapMax - gapMin));
    const victim = await leader();
    victim.kill();
    await eventually(`${victim.name} to die`, () => !victim.running, { timeoutMs: 10_000, intervalMs: 20 });
    log(`kill ${k + 1}/${kills}: ${victim.name}`);
    const restart = victim.restart();
    latestRestart.set(victim, restart);
    restart.catch((error: unknown) => {
      if (latestRestart.get(victim) === restart) return;
      log(`${victim.name}: a restart killed before it was ready (${String(error).split('\n')[0]})`);
    });
    // One replica: wait for it. Two: the other takes over meanwhile; the next kill finds the leader.
    if (replicas.length === 1) await restart;
  }
  await Promise.all([arrivals, ...latestRestart.values()]);

  const final = await Promise.all(
    names.map((name) =>
      incidents
        .waitFor(name, 'Resolved', (i) => i.status?.phase === 'Resolved', 120_000)
        .catch(() => incidents.get(name)),
    ),
  );
  const wrongRevisions: Record<string, number> = {};
  const wrongAttempts: Record<string, number> = {};
  for (const [i, name] of names.entries()) {
    const revisions = await incidents.templateRevisions(name);
    if (revisions !== 2) wrongRevisions[name] = revisions;
    const succeeded = final[i]?.status?.attempts?.filter((a) => a.result === 'Succeeded').length ?? 0;
    if (succeeded !== 1) wrongAttempts[name] = succeeded;
  }
  return {
    kills,
    incidents: incidentCount,
    resolved: final.filter((i) => i.status?.phase === 'Resolved').length,
    wrongRevisions,
    wrongAttempts,
    durationMs: Date.now() - started,
  };
}
