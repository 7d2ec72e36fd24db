// Scale: many Incidents in the operator's cache. Filled with bare creates (the last `--burst` of
// them timed: the bare create rate of this API server, from as many senders as the alert burst
// uses), then: memory in steady state; a burst of distinct alerts through the webhook (intake rate,
// replies, and per incident the time from its creation to its first status write, both as a watch
// shows them); memory right after; the same alerts again (duplicates, which need no write); and a
// restart (time until /readyz says every cache is in sync, and until every incident was looked at).
// The incidents' targets do not exist, so each is looked at and escalated with one status write.
import { eventually } from '../../hack/localenv/wait.ts';
import type { OperatorProcess } from '../../test/support/operator.ts';
import { withBenchEnv } from '../lib/env.ts';
import { alertFor, heapOf, memoryOf, pad, restartPolicy } from '../lib/fixtures.ts';
import { HttpClient, type Reply } from '../lib/http.ts';
import { closedLoop, type LoadRun } from '../lib/load.ts';
import { fmt, summarize } from '../lib/stats.ts';
import { percentilePlot } from '../lib/svg.ts';
import { IncidentWatcher } from '../lib/watch.ts';
import { intParam, type Row, type Scenario } from '../scenario.ts';

const NAMESPACE = 'scale';
const BURST_ALERT = 'BenchBurst';
/** Every incident of a burst looked at within this long of its creation: the target of issue 9. */
const LOOK_TARGET_MS = 10_000;

const ok = (r: Reply | undefined) => r !== undefined && r.status >= 200 && r.status < 300;

function loadFigures(run: LoadRun<Reply>) {
  const replies = run.sent.filter((s) => ok(s.result)).map((s) => s.result?.ms ?? NaN);
  const failed = run.sent.find((s) => !ok(s.result));
  return {
    sent: run.sent.length,
    accepted: replies.length,
    errors: run.sent.length - replies.length,
    ...(failed
      ? {
          firstError:
            failed.error ?? `HTTP ${failed.result?.status ?? 0}: ${failed.result?.body.slice(0, 300) ?? ''}`,
        }
      : {}),
    perSecond: run.completionRate,
    reply: summarize(replies),
    replyMs: replies.map((v) => Math.round(v * 10) / 10),
  };
}

async function memory(operator: OperatorProcess) {
  const pid = operator.pid;
  if (pid === undefined) throw new Error('the operator is not running');
  return { ...memoryOf(pid), ...(await heapOf(operator)) };
}

/** Waits until the operator's incident work queue stays empty for `quietMs`. */
async function idle(operator: OperatorProcess, quietMs = 5_000, timeoutMs = 600_000): Promise<void> {
  let quietSince: number | undefined;
  await eventually(
    'the operator to go idle',
    async () => {
      const depth = await operator.metric('selfheal_workqueue_depth{controller="incidents"}');
      const now = performance.now();
      if (depth !== 0) quietSince = undefined;
      else quietSince ??= now;
      return quietSince !== undefined && now - quietSince >= quietMs;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

const scenario: Scenario = {
  name: 'scale',
  description:
    'many Incidents: memory, a burst of distinct alerts (intake vs bare creates, time to first look), duplicates, restart',
  params: {
    incidents: 'Incidents in the cache before the burst (default 10000)',
    burst: 'distinct alerts in the burst, and bare creates timed (default 3000)',
    duplicates: 'repeats of the burst alerts sent afterwards (default 6000)',
    senders: 'concurrent senders (default 50)',
  },
  async run(ctx) {
    const total = intParam(ctx, 'incidents', 10_000, 300);
    const burst = intParam(ctx, 'burst', 3_000, 100);
    const duplicates = intParam(ctx, 'duplicates', 6_000, 200);
    const senders = intParam(ctx, 'senders', 50, 10);
    if (burst > total) throw new Error(`--burst=${burst} cannot exceed --incidents=${total}`);
    return withBenchEnv('scale', {}, ctx.log, async (env) => {
      await env.namespace(NAMESPACE);
      await env.namespace('selfheal-system');
      const incidents = new IncidentWatcher(env.api, NAMESPACE);
      await incidents.start();
      env.defer(() => incidents.stop());
      // Defaults, as users run it (the storm breaker too: a burst like this one trips it).
      const operator = await env.operator(['--namespace=selfheal-system']);
      await restartPolicy(env, NAMESPACE, { name: 'burst', alertName: BURST_ALERT });
      const startMemory = await memory(operator);

      const create = (prefix: string) => (i: number) =>
        env.api.request('POST', `/apis/selfheal.dev/v1alpha1/namespaces/${NAMESPACE}/incidents`, {
          apiVersion: 'selfheal.dev/v1alpha1',
          kind: 'Incident',
          metadata: { name: `${prefix}-${pad(i, 5)}` },
          spec: {
            severity: 'P3',
            title: `scale filler ${i}`,
            target: { kind: 'Deployment', name: `missing-${i % 100}` },
            actions: [{ type: 'rolloutRestart' }],
          },
        });
      const fill = loadFigures(await closedLoop(total - burst, senders, create('filler')));
      const bare = loadFigures(await closedLoop(burst, senders, create('bare')));
      ctx.log(`${total} Incidents created; bare creates ${fmt(bare.perSecond)}/s from ${senders} senders`);
      if (fill.errors || bare.errors)
        throw new Error(`bare creates failed: ${fill.firstError ?? bare.firstError ?? ''}`);
      const lookedAt = () => [...incidents.seen.values()].filter((s) => s.firstStatusAt !== undefined).length;
      await eventually(`all ${total} incidents looked at`, () => lookedAt() >= total, {
        timeoutMs: 900_000,
        intervalMs: 500,
      });
      await idle(operator);
      const steady = await memory(operator);
      ctx.log(`steady: RSS ${fmt(steady.rssMB)} MB, heap used ${fmt(steady.heapUsedMB)} MB`);

      const webhookUrl = new URL(operator.webhookUrl);
      // Fresh connections per phase: one kept alive across a quiet wait may have been closed.
      const client = () => {
        const c = new HttpClient({ base: webhookUrl.origin, maxSockets: senders });
        env.defer(() => c.close());
        return c;
      };
      const webhook = client();
      const startsAt = new Date().toISOString();
      const alerts = Array.from({ length: burst }, (_, i) =>
        alertFor(NAMESPACE, `burst-${pad(i, 5)}`, {}, { alertName: BURST_ALERT, startsAt }),
      );
      const burstStarted = performance.now();
      const intake = loadFigures(
        await closedLoop(burst, senders, (i) =>
          webhook.request('POST', webhookUrl.pathname, alerts[i] ?? ''),
        ),
      );
      const created = [...incidents.seen.entries()].filter(([, s]) => s.addedAt >= burstStarted);
      await eventually(
        `the ${created.length} burst incidents looked at`,
        () => created.every(([, s]) => s.firstStatusAt !== undefined),
        {
          timeoutMs: 900_000,
          intervalMs: 250,
        },
      );
      const afterBurst = await memory(operator);
      const firstLook = created.map(([, s]) => (s.firstStatusAt ?? NaN) - s.addedAt);
      const look = summarize(firstLook);
      const lateLooks = firstLook.filter((ms) => ms > LOOK_TARGET_MS).length;
      ctx.log(
        `burst: ${fmt(intake.perSecond)}/s accepted, first look p99 ${fmt(look.p99)} ms, ${lateLooks} later than 10 s`,
      );
      await idle(operator);

      const repeater = client();
      const repeatRun = await closedLoop(duplicates, senders, (i) =>
        repeater.request('POST', webhookUrl.pathname, alerts[i % burst] ?? ''),
      );
      const repeats = loadFigures(repeatRun);
      const takenAsDuplicate = repeatRun.sent.filter(
        (s) =>
          ok(s.result) &&
          (JSON.parse(s.result?.body ?? '{}') as { alerts?: { result?: string }[] }).alerts?.[0]?.result ===
            'duplicate',
      ).length;
      const afterDuplicates = await memory(operator);
      const incidentsAfterDuplicates = incidents.seen.size;

      // Restart: SIGTERM, start again, time until /readyz (every cache synced) and until idle.
      await operator.stop();
      const restartedAt = performance.now();
      await operator.restart({ timeoutMs: 120_000, intervalMs: 50 });
      const syncMs = performance.now() - restartedAt;
      const synced = await memory(operator);
      await idle(operator, 5_000);
      const settleMs = performance.now() - restartedAt - 5_000;
      const afterRestart = await memory(operator);
      ctx.log(`restart: synced in ${fmt(syncMs)} ms, idle again after ${fmt(settleMs)} ms`);

      const rows: Row[] = [
        {
          measure: 'Incidents in the cache',
          value: incidentsAfterDuplicates,
          detail: `${total} before the burst`,
        },
        {
          measure: 'bare Incident creates/s',
          value: fmt(bare.perSecond),
          detail: `${burst} from ${senders} senders, p99 ${fmt(bare.reply.p99)} ms`,
        },
        {
          measure: 'distinct alerts accepted/s',
          value: fmt(intake.perSecond),
          detail: `${intake.accepted}/${burst}, ${intake.errors} errors, reply p50 ${fmt(intake.reply.p50)} ms p99 ${fmt(intake.reply.p99)} ms; ${fmt((intake.perSecond / bare.perSecond) * 100)}% of bare creates`,
        },
        {
          measure: 'duplicates accepted/s',
          value: fmt(repeats.perSecond),
          detail: `${takenAsDuplicate}/${duplicates} taken as duplicates, ${repeats.errors} errors, reply p50 ${fmt(repeats.reply.p50)} ms p99 ${fmt(repeats.reply.p99)} ms; ${incidentsAfterDuplicates - total - created.length} new incidents`,
        },
        {
          measure: 'burst: creation → first status write',
          value: `p99 ${fmt(look.p99)} ms`,
          detail: `p50 ${fmt(look.p50)} ms, max ${fmt(look.max)} ms; ${lateLooks} of ${created.length} later than 10 s`,
        },
        {
          measure: 'RSS at start, MB',
          value: fmt(startMemory.rssMB),
          detail: `heap used ${fmt(startMemory.heapUsedMB)} MB`,
        },
        {
          measure: 'RSS steady, MB',
          value: fmt(steady.rssMB),
          detail: `heap used ${fmt(steady.heapUsedMB)} of ${fmt(steady.heapTotalMB)} MB, external ${fmt(steady.externalMB)} MB; ${total} incidents`,
        },
        {
          measure: 'RSS right after the burst, MB',
          value: fmt(afterBurst.rssMB),
          detail: `peak ${fmt(afterBurst.peakRssMB)} MB, heap used ${fmt(afterBurst.heapUsedMB)} of ${fmt(afterBurst.heapTotalMB)} MB`,
        },
        {
          measure: 'RSS after the duplicates, MB',
          value: fmt(afterDuplicates.rssMB),
          detail: `peak ${fmt(afterDuplicates.peakRssMB)} MB`,
        },
        {
          measure: 'restart: synced (/readyz) in ms',
          value: fmt(syncMs),
          detail: `${incidentsAfterDuplicates} incidents; RSS then ${fmt(synced.rssMB)} MB`,
        },
        {
          measure: 'restart: every incident looked at again, ms',
          value: fmt(settleMs),
          detail: `RSS then ${fmt(afterRestart.rssMB)} MB, peak ${fmt(afterRestart.peakRssMB)} MB`,
        },
      ];
      return {
        rows,
        json: {
          total,
          burst,
          duplicates,
          senders,
          fill,
          bare,
          intake,
          repeats,
          firstLook: {
            ...look,
            lateLooks,
            targetMs: LOOK_TARGET_MS,
            samplesMs: firstLook.map((v) => Math.round(v)),
          },
          memory: { startMemory, steady, afterBurst, afterDuplicates, synced, afterRestart },
          restart: { syncMs, settleMs },
        },
        plots: [
          {
            file: 'latency.svg',
            svg: percentilePlot({
              title: `${total} incidents, then a burst of ${burst} alerts from ${senders} senders`,
              unit: 'ms',
              series: [
                { label: 'burst: creation → first status', values: firstLook, color: '#1f77b4' },
                { label: 'webhook reply, distinct', values: intake.replyMs, color: '#ff7f0e' },
                { label: 'webhook reply, duplicate', values: repeats.replyMs, color: '#9467bd' },
                { label: 'bare create reply', values: bare.replyMs, color: '#2ca02c' },
              ],
            }),
          },
        ],
      };
    });
  },
};
export default scenario;
