// Duplicate storm: the same alert (one fingerprint, one start time) delivered many times by several
// concurrent senders, as Alertmanager HA pairs and their retries deliver it. Counted afterwards:
// Incidents created and rollouts made (the Deployment's generation, which only a new pod template
// moves), for selfheal and for the baseline (webhook+kubectl), each on a Deployment of its own.
import { WebhookRunner } from '../lib/baseline.ts';
import { withBenchEnv } from '../lib/env.ts';
import { alertFor, createDeployments, deploymentsSettled, restartPolicy } from '../lib/fixtures.ts';
import { HttpClient, type Reply } from '../lib/http.ts';
import { closedLoop } from '../lib/load.ts';
import { fmt, summarize } from '../lib/stats.ts';
import { percentilePlot } from '../lib/svg.ts';
import { DeploymentWatcher, IncidentWatcher } from '../lib/watch.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { intParam, type Row, type Scenario } from '../scenario.ts';

const NAMESPACE = 'storm';

const scenario: Scenario = {
  name: 'duplicate-storm',
  description:
    'one alert delivered many times by concurrent senders: incidents and rollouts, selfheal vs webhook+kubectl',
  params: {
    deliveries: 'deliveries of the one alert (default 1000)',
    senders: 'concurrent senders (default 3: an HA pair of Alertmanagers and a retry)',
  },
  async run(ctx) {
    const deliveries = intParam(ctx, 'deliveries', 1000, 30);
    const senders = intParam(ctx, 'senders', 3);
    return withBenchEnv('duplicate-storm', {}, ctx.log, async (env) => {
      await env.namespace(NAMESPACE);
      await env.namespace('selfheal-system');
      const deployments = new DeploymentWatcher(env.api, NAMESPACE);
      await deployments.start();
      env.defer(() => deployments.stop());
      const targets = { selfheal: 'api-selfheal', baseline: 'api-baseline' } as const;
      await createDeployments(env.api, NAMESPACE, Object.values(targets));
      await deploymentsSettled(deployments, Object.values(targets));
      const operator = await env.operator(['--namespace=selfheal-system']);
      // Guards that would let a second incident restart again: only deduplication may stop it.
      await restartPolicy(env, NAMESPACE);
      const baseline = await WebhookRunner.start(env);
      const incidents = new IncidentWatcher(env.api, NAMESPACE);
      await incidents.start();
      env.defer(() => incidents.stop());

      const results = [];
      for (const system of ['selfheal', 'baseline'] as const) {
        const url = new URL(system === 'selfheal' ? operator.webhookUrl : baseline.url);
        const client = new HttpClient({ base: url.origin, maxSockets: senders });
        env.defer(() => client.close());
        // One firing: the same labels, fingerprint and start time in every delivery.
        const body = alertFor(NAMESPACE, targets[system], {}, { startsAt: new Date().toISOString() });
        const generationBefore = deployments.state.get(targets[system])?.generation ?? 0;
        const restartsBefore = deployments.state.get(targets[system])?.restarts ?? 0;
        const invocationsBefore = baseline.invocations();
        const load = await closedLoop(deliveries, senders, (): Promise<Reply> =>
          client.request('POST', url.pathname, body),
        );
        if (system === 'selfheal') {
          await eventually(
            'the storm incident to finish',
            () => {
              incidents.assertHealthy();
              return (
                incidents.seen.size > 0 &&
                incidents.count(['Resolved', 'Closed', 'Escalated']) === incidents.seen.size
              );
            },
            { timeoutMs: 120_000, intervalMs: 250 },
          );
        } else await baseline.idle();
        await deploymentsSettled(deployments, [targets[system]]);
        const state = deployments.state.get(targets[system]);
        const ok = load.sent.filter((s) => s.result && s.result.status >= 200 && s.result.status < 300);
        const replyMs = ok.map((s) => s.result?.ms ?? NaN);
        const outcomes: Record<string, number> = {};
        if (system === 'selfheal')
          for (const s of ok) {
            const result =
              (JSON.parse(s.result?.body ?? '{}') as { alerts?: { result?: string }[] }).alerts?.[0]
                ?.result ?? '?';
            outcomes[result] = (outcomes[result] ?? 0) + 1;
          }
        results.push({
          system,
          deliveries: load.sent.length,
          accepted: ok.length,
          deliveriesPerSecond: load.completionRate,
          outcomes,
          incidents: system === 'selfheal' ? incidents.seen.size : 0,
          kubectlRuns: system === 'baseline' ? baseline.invocations() - invocationsBefore : 0,
          hookFailures: system === 'baseline' ? baseline.failures() : 0,
          rollouts: (state?.generation ?? 0) - generationBefore,
          restartsSeen: (state?.restarts ?? 0) - restartsBefore,
          reply: summarize(replyMs),
          replyMs: replyMs.map((v) => Math.round(v * 10) / 10),
        });
        ctx.log(
          `${system}: ${ok.length}/${deliveries} accepted, ${(state?.generation ?? 0) - generationBefore} rollouts`,
        );
      }
      const rows: Row[] = results.map((r) => ({
        system: r.system === 'baseline' ? 'baseline (webhook+kubectl)' : 'selfheal',
        deliveries: r.deliveries,
        senders,
        accepted: r.accepted,
        'deliveries/s': fmt(r.deliveriesPerSecond),
        'incidents created': r.system === 'selfheal' ? r.incidents : '-',
        'kubectl runs': r.system === 'baseline' ? `${r.kubectlRuns} (${r.hookFailures} failed)` : '-',
        rollouts: r.rollouts,
        'reply p50 ms': fmt(r.reply.p50),
        'reply p99 ms': fmt(r.reply.p99),
      }));
      return {
        rows,
        json: { deliveries, senders, results },
        plots: [
          {
            file: 'replies.svg',
            svg: percentilePlot({
              title: `webhook replies: one alert ${deliveries} times from ${senders} senders`,
              unit: 'ms',
              series: results.map((r) => ({
                label: r.system === 'selfheal' ? 'selfheal' : 'webhook+kubectl',
                values: r.replyMs,
                color: r.system === 'selfheal' ? '#1f77b4' : '#d62728',
              })),
            }),
          },
        ],
      };
    });
  },
};
export default scenario;
