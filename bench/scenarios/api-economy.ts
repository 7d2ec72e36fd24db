// API economy: the requests the operator makes per incident, by verb and resource, counted by the
// API server itself. Its audit log (reads audited too in this environment) attributes each request
// to the operator's user agent, so nothing else running (the controller-manager, kwok, the bench)
// is counted; `apiserver_request_total`, diffed over the same span, shows what all clients did.
// Cases, one after the other on one operator: a manual incident, alert incidents verified by a
// PromQL check held for each `--holds` duration, and an escalated incident.
import { parseDuration } from '../../src/api/durations.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { AuditLog, classify, countsDiff, describeCounts, requestTotals } from '../lib/apiserver.ts';
import { withBenchEnv, type BenchEnv } from '../lib/env.ts';
import { alertFor, createDeployments, deploymentsSettled, restartPolicy } from '../lib/fixtures.ts';
import { HttpClient } from '../lib/http.ts';
import { fmt } from '../lib/stats.ts';
import { DeploymentWatcher, IncidentWatcher } from '../lib/watch.ts';
import type { Row, Scenario } from '../scenario.ts';

const NAMESPACE = 'economy';
const OPERATOR_AGENT = 'selfheal (';
/** Writes per auto-resolved incident (Events excluded), at most: the target of issue 9. */
const WRITE_BUDGET = 6;
/** After the incident settles, how long trailing requests (Events, a last look) may still come. */
const SETTLE_MS = 3_000;

interface Case {
  name: string;
  holdFor?: string;
  expect: 'Resolved' | 'Escalated';
  trigger: () => Promise<string>;
}

async function prometheusQueries(url: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  return body
    .split('\n')
    .filter((l) => l.startsWith('prometheus_http_requests_total{') && l.includes('handler="/api/v1/query"'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function manualIncident(env: BenchEnv, name: string, target: string): Promise<string> {
  await env.api.json('POST', `/apis/selfheal.dev/v1alpha1/namespaces/${NAMESPACE}/incidents`, {
    apiVersion: 'selfheal.dev/v1alpha1',
    kind: 'Incident',
    metadata: { name },
    spec: {
      severity: 'P3',
      title: `api-economy ${name}`,
      target: { kind: 'Deployment', name: target },
      actions: [{ type: 'rolloutRestart' }],
    },
  });
  return name;
}

const scenario: Scenario = {
  name: 'api-economy',
  description: 'API requests per incident by verb and resource, from the API server audit log and metrics',
  params: { holds: 'PromQL holdFor durations of the alert incidents, comma-separated (default 30s,2m)' },
  async run(ctx) {
    const holds = ctx.params.holds?.split(',') ?? (ctx.smoke ? ['2s', '4s'] : ['30s', '2m']);
    for (const hold of holds) parseDuration(hold);
    return withBenchEnv('api-economy', { prometheus: true, auditReads: true }, ctx.log, async (env) => {
      const prometheus = env.prometheus;
      if (!prometheus) throw new Error('the api-economy environment has no Prometheus');
      await env.namespace(NAMESPACE);
      await env.namespace('selfheal-system');
      const deployments = new DeploymentWatcher(env.api, NAMESPACE);
      await deployments.start();
      env.defer(() => deployments.stop());
      const holdTargets = holds.map((_h, i) => `hold-${i}`);
      await createDeployments(env.api, NAMESPACE, ['manual', ...holdTargets]);
      await createDeployments(env.api, NAMESPACE, ['opted-out'], {
        annotations: { 'selfheal.dev/disabled': 'true' },
      });
      await deploymentsSettled(deployments, ['manual', 'opted-out', ...holdTargets]);
      const operator = await env.operator([
        '--namespace=selfheal-system',
        `--prometheus-url=${prometheus.url}`,
      ]);
      // `vector(1)` always holds: the incident resolves after exactly holdFor.
      for (const [i, hold] of holds.entries())
        await restartPolicy(env, NAMESPACE, {
          name: `hold-${i}`,
          alertName: `BenchHold${i}`,
          verification: { promQL: 'vector(1)', holdFor: hold, timeout: '30m' },
        });
      const incidents = new IncidentWatcher(env.api, NAMESPACE, { history: true });
      await incidents.start();
      env.defer(() => incidents.stop());
      const webhookUrl = new URL(operator.webhookUrl);
      const audit = new AuditLog(env.controlPlane.auditLog);

      const cases: Case[] = [
        { name: 'manual', expect: 'Resolved', trigger: () => manualIncident(env, 'manual', 'manual') },
        ...holds.map((hold, i): Case => ({
          name: `alert, PromQL hold ${hold}`,
          holdFor: hold,
          expect: 'Resolved',
          trigger: async () => {
            // A connection of its own: one kept alive across a long hold may have been closed.
            const webhook = new HttpClient({ base: webhookUrl.origin });
            const reply = await webhook.request(
              'POST',
              webhookUrl.pathname,
              alertFor(NAMESPACE, `hold-${i}`, {}, { alertName: `BenchHold${i}` }),
            );
            webhook.close();
            const incident = (JSON.parse(reply.body) as { alerts?: { incident?: string }[] }).alerts?.[0]
              ?.incident;
            if (reply.status !== 200 || !incident)
              throw new Error(`the webhook did not take the alert: HTTP ${reply.status}: ${reply.body}`);
            return incident;
          },
        })),
        {
          name: 'escalated (target opted out)',
          expect: 'Escalated',
          trigger: () => manualIncident(env, 'escalated', 'opted-out'),
        },
      ];

      const measured = [];
      for (const c of cases) {
        const mark = audit.mark();
        const totalsBefore = await requestTotals(env.api);
        const queriesBefore = await prometheusQueries(prometheus.url);
        const started = performance.now();
        const name = await c.trigger();
        const timeoutMs = 120_000 + (c.holdFor ? parseDuration(c.holdFor) * 2 : 0);
        await eventually(
          `incident ${name} ${c.expect}`,
          () => {
            incidents.assertHealthy();
            const phase = incidents.seen.get(name)?.phase;
            if (phase && phase !== c.expect && ['Resolved', 'Escalated', 'Closed'].includes(phase))
              throw new Error(`incident ${name} ended ${phase}, not ${c.expect}`);
            return phase === c.expect;
          },
          { timeoutMs, intervalMs: 100 },
        );
        const settledMs = performance.now() - started;
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        const spanMs = performance.now() - started;
        const end = audit.mark();
        const operatorRequests = classify(audit.requests(mark, end, OPERATOR_AGENT));
        // The hold itself: after the write that began verification, before the one that resolved.
        const status = (
          await env.api.json<{ status?: { verification?: { startedAt?: string }; resolvedAt?: string } }>(
            'GET',
            `/apis/selfheal.dev/v1alpha1/namespaces/${NAMESPACE}/incidents/${name}`,
          )
        ).status;
        const holdSpan =
          c.holdFor && status?.verification?.startedAt && status.resolvedAt
            ? {
                after: new Date(status.verification.startedAt).getTime() + 1_000,
                before: new Date(status.resolvedAt).getTime() - 1_000,
              }
            : undefined;
        const duringHold = holdSpan
          ? classify(audit.requests(mark, end, OPERATOR_AGENT, holdSpan))
          : undefined;
        const allClients = countsDiff(totalsBefore, await requestTotals(env.api));
        const promQL = (await prometheusQueries(prometheus.url)) - queriesBefore;
        measured.push({
          case: c.name,
          incident: name,
          holdFor: c.holdFor ?? null,
          secondsToSettle: settledMs / 1000,
          spanSeconds: spanMs / 1000,
          operator: operatorRequests,
          statusChanges: incidents.seen.get(name)?.changes ?? [],
          duringHold: duringHold
            ? { ...duringHold, seconds: holdSpan ? (holdSpan.before - holdSpan.after) / 1000 : 0 }
            : null,
          promQLQueries: promQL,
          allClientsByApiServerMetrics: allClients,
        });
        ctx.log(
          `${c.name}: ${operatorRequests.totals.writes} writes, ${operatorRequests.totals.reads} reads, ${operatorRequests.totals.events} Event writes, ${promQL} PromQL queries in ${fmt(spanMs / 1000)} s`,
        );
      }

      const rows: Row[] = measured.map((m) => {
        const holdMinutes = m.holdFor ? parseDuration(m.holdFor) / 60_000 : undefined;
        const hold = m.duringHold;
        const holdRequests = hold
          ? hold.totals.writes + hold.totals.refused + hold.totals.reads + hold.totals.events
          : 0;
        const resolved = m.case !== 'escalated (target opted out)';
        return {
          case: m.case,
          'seconds to settle': fmt(m.secondsToSettle),
          'writes (no Events)': m.operator.totals.writes,
          'within 6': resolved ? (m.operator.totals.writes <= WRITE_BUDGET ? 'yes' : 'NO') : '-',
          writes: describeCounts(m.operator.writes),
          'refused writes': m.operator.totals.refused ? describeCounts(m.operator.refused) : '0',
          reads: m.operator.totals.reads ? describeCounts(m.operator.reads) : '0',
          'Event writes': m.operator.totals.events,
          'PromQL queries': m.promQLQueries,
          'API requests per minute of hold':
            hold && hold.seconds > 0 ? fmt((holdRequests * 60) / hold.seconds) : '-',
          'PromQL per minute of hold': holdMinutes ? fmt(m.promQLQueries / holdMinutes) : '-',
        };
      });
      const leases = measured.reduce((sum, m) => sum + m.operator.totals.leases, 0);
      const seconds = measured.reduce((sum, m) => sum + m.spanSeconds, 0);
      rows.push({
        case: 'leader election (any load)',
        writes: `${fmt((leases * 60) / seconds)} lease requests per minute`,
      });
      return { rows, json: { holds, writeBudget: WRITE_BUDGET, settleMs: SETTLE_MS, cases: measured } };
    });
  },
};
export default scenario;
