// Alert to action: distinct alerts, each for its own Deployment, sent open loop at fixed rates to
// selfheal's webhook; the latency is from the POST to the restart being visible on a watch of the
// Deployment (a new restartedAt on its pod template). In the same run, at the same rates and on the
// same Deployments: the floor (one bare strategic-merge PATCH of the same annotation, its round trip
// and when the watch shows it) and the baseline (adnanh/webhook running `kubectl rollout restart`
// for Alertmanager's payload), measured the same way.
import { WebhookRunner } from '../lib/baseline.ts';
import { restartIfExited, withBenchEnv } from '../lib/env.ts';
import { alertFor, createDeployments, deploymentsSettled, pad, restartPolicy } from '../lib/fixtures.ts';
import { HttpClient, type Reply } from '../lib/http.ts';
import { openLoop, settledWithin } from '../lib/load.ts';
import { fmt, ratio, summarize, type Summary } from '../lib/stats.ts';
import { percentilePlot } from '../lib/svg.ts';
import { DeploymentWatcher, IncidentWatcher, RESTARTED_AT } from '../lib/watch.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { intParam, listParam, type Row, type Scenario } from '../scenario.ts';

const NAMESPACE = 'bench';
const SYSTEMS = ['floor', 'selfheal', 'baseline'] as const;
type System = (typeof SYSTEMS)[number];

interface SystemRun {
  system: System;
  rate: number;
  sent: number;
  sendRate: number;
  maxLagMs: number;
  /** Requests not answered 2xx (or not answered at all). */
  errors: number;
  /** The baseline's hook scripts that failed (kubectl exited non-zero), in this round. */
  hookFailures?: number;
  firstError?: string;
  /** Set when the operator had exited before this round (and was started again): its exit code. */
  operatorExitedBefore?: number;
  /** POST (or PATCH) → restart visible on the watch, ms, for the restarts seen. */
  restart: Summary;
  restartsSeen: number;
  /** The request's own round trip, ms. */
  reply: Summary;
  restartMs: number[];
  replyMs: number[];
}

const round1 = (values: number[]) => values.map((v) => Math.round(v * 10) / 10);

const scenario: Scenario = {
  name: 'alert-to-action',
  description:
    'alert POST → restart visible on a watch of the Deployment, at fixed rates: selfheal, the bare PATCH floor and webhook+kubectl',
  params: {
    alerts: 'distinct alerts (and Deployments) per rate and system (default 1000)',
    rates: 'alerts per second, comma-separated (default 20,100,500)',
    systems: 'which of floor, selfheal, baseline to run, comma-separated (default all three)',
  },
  async run(ctx) {
    const count = intParam(ctx, 'alerts', 1000, 10);
    const rates = listParam(ctx, 'rates', [20, 100, 500], [20, 100]);
    const systems = (ctx.params.systems?.split(',') ?? SYSTEMS) as System[];
    const unknown = systems.filter((s) => !(SYSTEMS as readonly string[]).includes(s));
    if (unknown.length)
      throw new Error(`--systems: unknown ${unknown.join(', ')}; use ${SYSTEMS.join(', ')}`);
    return withBenchEnv('alert-to-action', {}, ctx.log, async (env) => {
      const names = Array.from({ length: count }, (_, i) => `app-${pad(i, 4)}`);
      await env.namespace(NAMESPACE);
      await env.namespace('selfheal-system');
      const deployments = new DeploymentWatcher(env.api, NAMESPACE);
      await deployments.start();
      env.defer(() => deployments.stop());
      await createDeployments(env.api, NAMESPACE, names);
      await deploymentsSettled(deployments, names);
      ctx.log(`${count} Deployments (replicas: 0) ready`);

      // Later rounds restart the same Deployments: no cooldown, a large hourly budget, and the
      // storm breaker out of reach, or the guards (not the speed) would decide.
      const operator = await env.operator(['--namespace=selfheal-system', '--storm-max-incidents=100000']);
      await restartPolicy(env, NAMESPACE);
      const baseline = await WebhookRunner.start(env);
      const incidents = new IncidentWatcher(env.api, NAMESPACE);
      await incidents.start();
      env.defer(() => incidents.stop());

      const webhookUrl = new URL(operator.webhookUrl);
      const baselineUrl = new URL(baseline.url);
      const restartPatch = (name: string) =>
        env.api.request(
          'PATCH',
          `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`,
          { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } },
          { contentType: 'application/strategic-merge-patch+json' },
        );

      const runs: SystemRun[] = [];
      for (const rate of rates) {
        for (const system of SYSTEMS.filter((s) => systems.includes(s))) {
          // A distinct alert per round: the same signal back soon after a fix would be a recurrence.
          const alerts = names.map((name) => alertFor(NAMESPACE, name, { round: `r${rate}` }));
          // Fresh connections each round: a kept-alive one the server closed while idle between rounds
          // would fail its next request (ECONNRESET), which says nothing about the system measured.
          const url = system === 'selfheal' ? webhookUrl : baselineUrl;
          const client = new HttpClient({ base: url.origin, maxSockets: 512 });
          const send = (i: number): Promise<Reply> =>
            system === 'floor'
              ? restartPatch(names[i] ?? '')
              : client.request('POST', url.pathname, alerts[i] ?? '');
          // Each system is measured on its own: an operator the previous round's load made lose its
          // lease (and exit) is restarted first, and the run says so.
          const operatorRestarted =
            system === 'selfheal' ? await restartIfExited(operator, ctx.log) : undefined;
          const restarts = names.map((name) => deployments.nextRestart(name));
          const hookFailuresBefore = baseline.failures();
          const load = await openLoop(count, rate, send);
          client.close();
          const seen = await settledWithin(restarts, (ctx.smoke ? 30_000 : 120_000) + (count / rate) * 3_000);
          deployments.assertHealthy();
          const ok = load.sent.filter((s) => s.result && s.result.status >= 200 && s.result.status < 300);
          const failed = load.sent.find((s) => !ok.includes(s));
          const restartMs = load.sent.flatMap((s) => {
            const at = seen[s.index];
            return at === undefined ? [] : [at - s.sentAt];
          });
          const replyMs = ok.map((s) => s.result?.ms ?? NaN);
          const run: SystemRun = {
            system,
            rate,
            sent: load.sent.length,
            sendRate: load.sendRate,
            maxLagMs: load.maxLagMs,
            errors: load.sent.length - ok.length,
            ...(failed
              ? {
                  firstError:
                    failed.error ??
                    `HTTP ${failed.result?.status ?? 0}: ${failed.result?.body.slice(0, 300) ?? ''}`,
                }
              : {}),
            restart: summarize(restartMs),
            restartsSeen: restartMs.length,
            reply: summarize(replyMs),
            ...(operatorRestarted === undefined ? {} : { operatorExitedBefore: operatorRestarted }),
            restartMs: round1(restartMs),
            replyMs: round1(replyMs),
          };
          runs.push(run);
          ctx.log(
            `${rate}/s ${system}: ${run.restartsSeen}/${count} restarts seen, p50 ${fmt(run.restart.p50)} ms, p99 ${fmt(run.restart.p99)} ms, ${run.errors} errors`,
          );

          // Quiet before the next round: incidents done, hook scripts ended, rollouts caught up.
          if (system === 'selfheal') {
            const created = ok.flatMap((s) => {
              const body = JSON.parse(s.result?.body ?? '{}') as { alerts?: { incident?: string }[] };
              return body.alerts?.[0]?.incident ?? [];
            });
            await eventually(
              `${created.length} incidents of round ${rate}/s to finish`,
              () => {
                incidents.assertHealthy();
                return incidents.count(['Resolved', 'Closed', 'Escalated'], created) === created.length;
              },
              { timeoutMs: 300_000, intervalMs: 250 },
            );
          }
          if (system === 'baseline') {
            await baseline.idle();
            run.hookFailures = baseline.failures() - hookFailuresBefore;
          }
          await deploymentsSettled(deployments, names);
        }
      }
      const phases: Record<string, number> = {};
      for (const s of incidents.seen.values())
        phases[s.phase ?? 'none'] = (phases[s.phase ?? 'none'] ?? 0) + 1;

      const rows: Row[] = [];
      const plots: { file: string; svg: string }[] = [];
      for (const rate of rates) {
        const of = (system: System) => runs.find((r) => r.rate === rate && r.system === system);
        const [floor, sh, base] = [of('floor'), of('selfheal'), of('baseline')];
        for (const r of [sh, base, floor]) {
          if (!r) continue;
          rows.push({
            rate: `${rate}/s`,
            system:
              r.system === 'floor'
                ? 'floor (bare PATCH)'
                : r.system === 'baseline'
                  ? 'baseline (webhook+kubectl)'
                  : 'selfheal',
            sent: r.sent,
            'sent/s': fmt(r.sendRate),
            errors: r.errors + (r.hookFailures ?? 0),
            'restarts seen': r.restartsSeen,
            'to restart p50 ms': fmt(r.restart.p50),
            'p90 ms': fmt(r.restart.p90),
            'p99 ms': fmt(r.restart.p99),
            'max ms': fmt(r.restart.max),
            'reply p50 ms': fmt(r.reply.p50),
            'reply p99 ms': fmt(r.reply.p99),
          });
        }
        if (sh && floor)
          rows.push({
            rate: `${rate}/s`,
            system: 'selfheal / floor PATCH round trip',
            'to restart p50 ms': ratio(sh.restart.p50, floor.reply.p50),
            'p99 ms': ratio(sh.restart.p99, floor.reply.p99),
          });
        if (sh && floor && base) {
          rows.push({
            rate: `${rate}/s`,
            system: 'selfheal / baseline',
            'to restart p50 ms': ratio(sh.restart.p50, base.restart.p50),
            'p99 ms': ratio(sh.restart.p99, base.restart.p99),
          });
          plots.push({
            file: `${rate}-per-s.svg`,
            svg: percentilePlot({
              title: `alert → restart visible on a watch, ${count} alerts at ${rate}/s`,
              unit: 'ms',
              series: [
                { label: 'selfheal', values: sh.restartMs, color: '#1f77b4' },
                { label: 'webhook+kubectl', values: base.restartMs, color: '#d62728' },
                { label: 'bare PATCH (reply)', values: floor.replyMs, color: '#2ca02c' },
                { label: 'bare PATCH (watch)', values: floor.restartMs, color: '#98df8a' },
              ],
            }),
          });
        }
      }
      return {
        rows,
        plots,
        json: {
          alerts: count,
          rates,
          order: SYSTEMS,
          incidentPhases: phases,
          operatorArgs: ['--storm-max-incidents=100000'],
          policyGuards: { maxAttempts: 3, cooldown: '0s', maxPerHour: 100 },
          runs,
        },
      };
    });
  },
};
export default scenario;
