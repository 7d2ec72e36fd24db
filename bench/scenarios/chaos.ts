// Chaos: the drill of test/support/chaos.ts (runChaos) with its sizes as parameters. Incidents on
// their own Deployments arrive while the operator (or, with several replicas, whichever leads) is
// SIGKILLed at random moments and started again; every incident must end Resolved with exactly one
// successful attempt, and every Deployment must have exactly one new ReplicaSet. A run that breaks
// either promise throws (after logging what it saw), so the runner reports the scenario failed.
import { runChaos } from '../../test/support/chaos.ts';
import { IncidentClient } from '../../test/support/incidents.ts';
import { withBenchEnv } from '../lib/env.ts';
import { fmt } from '../lib/stats.ts';
import { intParam, type Scenario } from '../scenario.ts';

const NAMESPACE = 'chaos';

const scenario: Scenario = {
  name: 'chaos',
  description:
    'random SIGKILLs of the (leading) operator while incidents arrive: nothing repeated, nothing forgotten',
  params: {
    incidents: 'incidents, each on its own Deployment (default 30)',
    kills: 'SIGKILLs (default 30)',
    replicas: 'operator replicas electing a leader (default 1)',
  },
  async run(ctx) {
    const incidentCount = intParam(ctx, 'incidents', 30, 3);
    const kills = intParam(ctx, 'kills', 30, 2);
    const replicaCount = intParam(ctx, 'replicas', 1);
    return withBenchEnv('chaos', {}, ctx.log, async (env) => {
      await env.namespace(NAMESPACE);
      const names = Array.from({ length: replicaCount }, (_, i) => `chaos-${i}`);
      // The chaos e2e test's settings: short leases so a new leader takes over within the drill.
      const operators = await Promise.all(
        names.map((name) =>
          env.operator(
            [
              `--namespace=${NAMESPACE}`,
              `--identity=${name}`,
              '--storm-max-incidents=1000',
              '--default-max-per-hour=100',
              '--lease-duration=3s',
              '--renew-deadline=2s',
              '--retry-period=500ms',
            ],
            name,
          ),
        ),
      );
      const result = await runChaos({
        kc: env.kc,
        incidents: new IncidentClient(env.kc, NAMESPACE),
        leaseNamespace: NAMESPACE,
        replicas: operators.map((operator, i) => ({
          name: names[i] ?? '',
          get running() {
            return operator.running;
          },
          kill: () => operator.kill(),
          restart: () => operator.restart(),
        })),
        incidentCount,
        kills,
        log: ctx.log,
      });
      const wrongRevisions = Object.keys(result.wrongRevisions).length;
      const wrongAttempts = Object.keys(result.wrongAttempts).length;
      const rows = [
        {
          replicas: replicaCount,
          incidents: result.incidents,
          kills: result.kills,
          resolved: result.resolved,
          'Deployments without exactly one restart': wrongRevisions,
          'incidents without exactly one successful attempt': wrongAttempts,
          'duration s': fmt(result.durationMs / 1000),
        },
      ];
      if (wrongRevisions || wrongAttempts || result.resolved !== result.incidents)
        throw new Error(
          `the drill broke its promise: ${JSON.stringify({ ...rows[0], wrong: { revisions: result.wrongRevisions, attempts: result.wrongAttempts } })}`,
        );
      return { rows, json: { replicas: replicaCount, ...result } };
    });
  },
};
export default scenario;
