import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { eventually } from '../../hack/localenv/wait.ts';
import { GROUP, VERSION } from '../../src/api/group.ts';
import type { Incident, IncidentSpec } from '../../src/api/incident.ts';
import type { Escalation, Receiver } from '../../src/api/remediation.ts';
import { denyInNamespace } from '../support/admission.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { PagerDutyStandIn, type PagerDutyEventReceived } from '../support/pagerduty.ts';
import { kubectlIncident } from '../support/plugin.ts';
import { SlackStandIn, type SlackMessageReceived } from '../support/slack.ts';
import { tierStateDir } from '../support/tiers.ts';
import { WebhookSink } from '../support/webhook-sink.ts';

// The escalation half end to end: the operator as a process against the real API server, the
// receivers' credentials in real Secrets, and local servers implementing PagerDuty's Events API v2,
// Slack's incoming webhooks and selfheal's signed webhook, which check every field they receive.
// The severity table is shortened with --playbook-file, so deadlines of minutes take seconds.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const events = kc.makeApiClient(EventsV1Api);

const KEYS = { oncall: 'esc0flow0oncall0routing0key00001', lead: 'esc0flow0lead0routing0key0000002' };
/** The right length, but no integration of PagerDuty's: it answers 400 "Invalid routing key". */
const REFUSED_KEY = 'esc0flow0refused0routing0key0003';
const SIGNING_SECRET = 'whsec_escalation_flow_0123456789';
const GRAFANA = 'https://grafana.example.com/d/k8s?var-namespace={namespace}&var-workload={target}';

const pagerReceiver = (name: string, key: string): Receiver => ({
  name,
  type: 'pagerduty',
  secretRef: { name: 'pagerduty', key },
});
const oncall = pagerReceiver('oncall', 'oncall');
const lead = pagerReceiver('lead', 'lead');
const channel: Receiver = {
  name: 'incident-channel',
  type: 'slack',
  secretRef: { name: 'slack', key: 'incident-response' },
};
const hook: Receiver = {
  name: 'team-hook',
  type: 'webhook',
  secretRef: { name: 'hook', key: 'url' },
  signingSecretKey: 'signing-secret',
};

/** One test's world: a namespace, the stand-ins, their Secrets, and an operator pointed at them. */
interface World {
  namespace: string;
  incidents: IncidentClient;
  pagerduty: PagerDutyStandIn;
  slack: SlackStandIn;
  sink: WebhookSink;
  operator: OperatorProcess;
  /** Starts another operator process with the same flags (after a kill). */
  startOperator: () => Promise<OperatorProcess>;
  plugin: (...args: string[]) => ReturnType<typeof kubectlIncident>;
}

let worlds: World[] = [];
let operators: OperatorProcess[] = [];

afterEach(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
  for (const w of worlds) {
    await Promise.all([w.pagerduty.close(), w.slack.close(), w.sink.close()]);
    await core.deleteNamespace({ name: w.namespace });
  }
  worlds = [];
});

/** A severity table in the --playbook-file format, in a file of its own. */
function playbookFile(name: string, table: Record<string, Record<string, string>>): string {
  const file = join(tierStateDir('integration'), `${name}-playbook.yaml`);
  const yaml = Object.entries(table)
    .map(
      ([severity, fields]) =>
        `${severity}:\n${Object.entries(fields)
          .map(([k, v]) => `  ${k}: ${v}`)
          .join('\n')}`,
    )
    .join('\n');
  writeFileSync(file, `${yaml}\n`);
  return file;
}

async function world(
  name: string,
  { playbook, args = [] }: { playbook?: Record<string, Record<string, string>>; args?: string[] } = {},
): Promise<World> {
  const namespace = await createTestNamespace(kc, name);
  const pagerduty = new PagerDutyStandIn({ routingKeys: Object.values(KEYS) });
  const slack = new SlackStandIn();
  const sink = new WebhookSink();
  await Promise.all([pagerduty.start(), slack.start(), sink.start()]);
  const secret = (secretName: string, stringData: Record<string, string>) =>
    core.createNamespacedSecret({ namespace, body: { metadata: { name: secretName }, stringData } });
  await secret('pagerduty', { ...KEYS, refused: REFUSED_KEY });
  await secret('slack', {
    'incident-response': slack.webhook('#incident-response'),
    leadership: slack.webhook('#leadership'),
  });
  await secret('hook', {
    url: sink.endpoint('team', { signingSecret: SIGNING_SECRET }),
    'signing-secret': SIGNING_SECRET,
  });
  const flags = [
    `--namespace=${namespace}`,
    `--watch-namespaces=${namespace}`,
    `--identity=${name}`,
    `--pagerduty-url=${pagerduty.url}`,
    `--link-templates=Grafana=${GRAFANA}`,
    '--notification-timeout=2s',
    '--storm-max-incidents=1000',
    '--lease-duration=4s',
    '--renew-deadline=3s',
    '--retry-period=500ms',
    ...(playbook ? [`--playbook-file=${playbookFile(namespace, playbook)}`] : []),
    ...args,
  ];
  const startOperator = async () => {
    const operator = await OperatorProcess.start('integration', { name, args: flags });
    operators.push(operator);
    return operator;
  };
  const w: World = {
    namespace,
    incidents: new IncidentClient(kc, namespace),
    pagerduty,
    slack,
    sink,
    operator: await startOperator(),
    startOperator,
    plugin: (...pluginArgs) => kubectlIncident('integration', [...pluginArgs, '-n', namespace]),
  };
  worlds.push(w);
  return w;
}

/** A P1 that automation cannot help (no actions): it escalates as soon as the operator sees it. */
async function declare(
  w: World,
  name: string,
  escalation: Escalation | undefined,
  spec: Partial<IncidentSpec> = {},
) {
  await w.incidents.create(name, {
    severity: 'P1',
    title: 'checkout returns 500s',
    target: { kind: 'Deployment', name: 'checkout' },
    ...(escalation ? { escalation } : {}),
    ...spec,
  });
  return w.incidents.waitFor(name, 'escalated', (i) => i.status?.phase === 'Escalated');
}

const ledgerOf = (i: Incident) => i.status?.notifications ?? [];
const entryOf = (i: Incident, id: string) => ledgerOf(i).find((e) => e.id === id);
const allSettled = (i: Incident) => ledgerOf(i).length > 0 && ledgerOf(i).every((e) => e.state !== 'Pending');

async function eventNotes(namespace: string, name: string, reason: string): Promise<string[]> {
  const list = await events.listNamespacedEvent({ namespace, fieldSelector: `regarding.name=${name}` });
  return list.items.filter((e) => e.reason === reason).map((e) => e.note ?? '');
}

const grafanaFor = (namespace: string) =>
  `https://grafana.example.com/d/k8s?var-namespace=${namespace}&var-workload=checkout`;
const ackCommand = (i: Incident) =>
  `kubectl incident ack ${i.metadata.name ?? ''} -n ${i.metadata.namespace ?? ''}`;

/** Accepted PagerDuty events sent with this routing key, as `action dedup_key`. */
const pagesWith = (pd: PagerDutyStandIn, key: string) =>
  pd.accepted.filter((e) => e.routing_key === key).map((e) => `${e.event_action} ${e.dedup_key ?? ''}`);

/** The trigger event PagerDuty must receive for level `level` of an escalated P1. */
function expectedTrigger(
  i: Incident,
  routingKey: string,
  level: number,
  missed: boolean,
): PagerDutyEventReceived {
  const ns = i.metadata.namespace ?? '';
  const name = i.metadata.name ?? '';
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: `selfheal/${i.metadata.uid ?? ''}`,
    payload: {
      summary: `[P1] checkout returns 500s (Deployment ${ns}/checkout)`,
      source: `${ns}/deployment/checkout`,
      severity: 'critical',
      timestamp: i.status?.openedAt ?? '',
      component: 'checkout',
      group: ns,
      class: 'manual incident',
      custom_details: {
        incident: `${ns}/${name}`,
        phase: 'Escalated',
        why: `escalation level ${level}: no actions are given and no policy applies: people must act`,
        level,
        target: `Deployment ${ns}/checkout`,
        automation_tried: ['nothing: no automated action ran'],
        next_deadline: `acknowledge by ${i.status?.sla?.responseDueAt ?? ''}${missed ? ' (missed)' : ''}`,
        check_first: i.status?.context ?? [],
        acknowledge_with: ackCommand(i),
      },
    },
    links: [{ href: grafanaFor(ns), text: 'Grafana' }],
    client: 'selfheal',
    client_url: grafanaFor(ns),
  };
}

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });
const field = (label: string, value: string) => mrkdwn(`*${label}*\n${value}`);

/** The Block Kit page Slack must receive for level 1 of an escalated P1. */
function expectedSlackPage(i: Incident): Omit<SlackMessageReceived, 'channel'> {
  const ns = i.metadata.namespace ?? '';
  const name = i.metadata.name ?? '';
  return {
    text: `[P1] P1 incident: checkout returns 500s (Deployment ${ns}/checkout) · Take it: ${ackCommand(i)}`,
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: ':red_circle: P1 incident: checkout returns 500s', emoji: true },
      },
      {
        type: 'section',
        text: mrkdwn(
          '*Why now:* escalation level 1: no actions are given and no policy applies: people must act',
        ),
      },
      {
        type: 'section',
        fields: [
          field('Severity', 'P1'),
          field('Phase', 'Escalated (escalation level 1)'),
          field('Target', `Deployment ${ns}/checkout`),
          field('Incident', `${ns}/${name}`),
          field('Next deadline', `acknowledge by ${i.status?.sla?.responseDueAt ?? ''}`),
        ],
      },
      { type: 'section', text: mrkdwn('*What automation tried:* nothing: no automated action ran') },
      {
        type: 'section',
        text: mrkdwn(['*Check first:*', ...(i.status?.context ?? []).map((c) => `• ${c}`)].join('\n')),
      },
      { type: 'section', text: mrkdwn(`*Take it:* \`${ackCommand(i)}\``) },
      { type: 'section', text: mrkdwn(`<${grafanaFor(ns)}|Grafana>`) },
      { type: 'context', elements: [mrkdwn(`selfheal · trigger · level 1 · \`${ns}/${name}\``)] },
    ],
  };
}

const headers = (messages: SlackMessageReceived[]) =>
  messages.map((m) => (m.blocks[0] as { text: { text: string } }).text.text);
const footer = (m: SlackMessageReceived | undefined) =>
  (m?.blocks.at(-1) as { elements: { text: string }[] } | undefined)?.elements[0]?.text ?? '';

describe('an escalated P1 walks its levels, is acknowledged with the plugin and resolved', () => {
  it('level 1, level 2 on the missed response deadline, ack, an update and resolve reach every receiver', async () => {
    const w = await world('esc-walk', { playbook: { P1: { response: '6s' } } });
    await w.incidents.deployment('checkout', 1);
    const leadership: Receiver = {
      name: 'leadership',
      type: 'slack',
      secretRef: { name: 'slack', key: 'leadership' },
    };
    const levels: Escalation = {
      levels: [
        { after: '0s', receivers: [oncall, channel] },
        { after: '10m', receivers: [lead, hook] },
        // Due 30 s into the escalation: the acknowledgement comes first, so it is never notified.
        { after: '30s', receivers: [leadership] },
      ],
    };
    const opened = await declare(w, 'checkout-down', levels);
    const dedupKey = `selfheal/${opened.metadata.uid ?? ''}`;
    expect(opened.status?.escalation).toMatchObject({ level: 1 });

    // Level 1: the on-call's pager and the incident channel.
    const told = await w.incidents.waitFor('checkout-down', 'level 1 delivered', (i) =>
      ['L1:oncall', 'L1:incident-channel'].every((id) => entryOf(i, id)?.state === 'Delivered'),
    );
    expect(w.pagerduty.accepted).toEqual([expectedTrigger(told, KEYS.oncall, 1, false)]);
    expect(told.status?.context?.[0]).toBe('Deployment checkout: 1/1 replicas ready');
    expect(w.slack.messages('#incident-response')).toEqual([
      { channel: '#incident-response', ...expectedSlackPage(told) },
    ]);
    expect(told.status?.escalation?.nextEscalationAt).toBe(told.status?.sla?.responseDueAt);

    // Nobody acknowledges within the 6 s response target: level 2, not its own 10 minutes.
    const second = await w.incidents.waitFor(
      'checkout-down',
      'level 2 delivered',
      (i) => ['L2:lead', 'L2:team-hook'].every((id) => entryOf(i, id)?.state === 'Delivered'),
      30_000,
    );
    const responseDueAt = second.status?.sla?.responseDueAt ?? '';
    expect(new Date(entryOf(second, 'L2:lead')?.recordedAt ?? '').getTime()).toBeGreaterThanOrEqual(
      new Date(responseDueAt).getTime(),
    );
    expect(second.status?.escalation).toMatchObject({
      level: 2,
      notifiedReceivers: ['oncall', 'incident-channel', 'lead', 'team-hook'],
    });
    const level3At = new Date(new Date(second.status?.escalation?.startedAt ?? '').getTime() + 30_000);
    expect(second.status?.escalation?.nextEscalationAt).toBe(level3At.toISOString());
    expect(condition(second, 'ResponseSLABreached')?.status).toBe('True');
    expect(w.pagerduty.accepted.filter((e) => e.routing_key === KEYS.lead)).toEqual([
      expectedTrigger(second, KEYS.lead, 2, true),
    ]);
    const [page2] = w.sink.deliveries('team');
    expect(page2?.body).toEqual({
      version: '1',
      event: 'trigger',
      deliveryId: `${opened.metadata.uid ?? ''}/L2:team-hook`,
      reason: 'escalation level 2: no actions are given and no policy applies: people must act',
      level: 2,
      sentAt: expect.any(String) as unknown,
      incident: {
        name: 'checkout-down',
        namespace: w.namespace,
        uid: opened.metadata.uid,
        severity: 'P1',
        title: 'checkout returns 500s',
        phase: 'Escalated',
        target: { kind: 'Deployment', name: 'checkout', namespace: w.namespace },
        source: { type: 'manual' },
        openedAt: opened.status?.openedAt,
        roles: {},
        escalation: { level: 2, reason: 'no actions are given and no policy applies: people must act' },
        attempts: [],
        deadline: { kind: 'response', dueAt: responseDueAt, missed: true },
        ackCommand: ackCommand(opened),
        links: [{ text: 'Grafana', href: grafanaFor(w.namespace) }],
        context: second.status?.context,
      },
    });
    expect(w.sink.unauthorized).toEqual([]);
    expect(await eventNotes(w.namespace, 'checkout-down', 'EscalationLevel')).toEqual([
      'level 1 notified: oncall, incident-channel',
      'level 2 notified: lead, team-hook',
    ]);

    // alice takes it with the plugin: escalation stops, every receiver told hears it.
    const ack = await w.plugin('ack', 'checkout-down', '--by', 'alice');
    expect(ack).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('acknowledged by alice') as unknown,
    });
    const acked = await w.incidents.waitFor('checkout-down', 'acknowledge delivered', (i) =>
      ['ack:oncall', 'ack:incident-channel', 'ack:lead', 'ack:team-hook'].every(
        (id) => entryOf(i, id)?.state === 'Delivered',
      ),
    );
    expect(acked.status?.phase).toBe('Acknowledged');
    // (The premise of what follows: alice acknowledged before level 3 was due.)
    expect(new Date(condition(acked, 'Acknowledged')?.lastTransitionTime ?? '').getTime()).toBeLessThan(
      level3At.getTime(),
    );
    expect(acked.status?.escalation).not.toHaveProperty('nextEscalationAt');
    expect(w.pagerduty.alerts.get(dedupKey)?.state).toBe('acknowledged');

    // An update from alice; then she resolves it.
    const update = await w.plugin(
      'update',
      'checkout-down',
      '--by',
      'alice',
      '--message',
      'rolled back to revision 6; errors falling',
    );
    expect(update.code).toBe(0);
    await w.incidents.waitFor('checkout-down', 'update delivered', (i) =>
      ['u0:incident-channel', 'u0:team-hook'].every((id) => entryOf(i, id)?.state === 'Delivered'),
    );
    const resolve = await w.plugin(
      'resolve',
      'checkout-down',
      '--by',
      'alice',
      '--note',
      'revision 7 rolled back',
    );
    expect(resolve.code).toBe(0);
    const resolved = await w.incidents.waitFor('checkout-down', 'resolution delivered', (i) =>
      ['resolve:oncall', 'resolve:incident-channel', 'resolve:lead', 'resolve:team-hook'].every(
        (id) => entryOf(i, id)?.state === 'Delivered',
      ),
    );
    expect(resolved.status?.phase).toBe('Resolved');

    // PagerDuty: one alert per routing key, triggered, acknowledged and resolved under one dedup_key.
    for (const key of [KEYS.oncall, KEYS.lead])
      expect(pagesWith(w.pagerduty, key)).toEqual([
        `trigger ${dedupKey}`,
        `acknowledge ${dedupKey}`,
        `resolve ${dedupKey}`,
      ]);
    const followUps = w.pagerduty.accepted.filter((e) => e.event_action !== 'trigger');
    expect(followUps).toHaveLength(4);
    expect(followUps).toEqual(
      expect.arrayContaining(
        (['acknowledge', 'resolve'] as const).flatMap((action) =>
          [KEYS.oncall, KEYS.lead].map((key) => ({
            routing_key: key,
            event_action: action,
            dedup_key: dedupKey,
          })),
        ),
      ),
    );
    expect(w.pagerduty.alerts.get(dedupKey)).toEqual({ state: 'resolved', opened: 1 });

    // Slack: the page, the acknowledgement, alice's update and the resolution, once each, in order.
    const messages = w.slack.messages('#incident-response');
    expect(headers(messages)).toEqual([
      ':red_circle: P1 incident: checkout returns 500s',
      ':red_circle: Acknowledged by alice: checkout returns 500s',
      ':red_circle: Update from alice: checkout returns 500s',
      ':red_circle: Resolved by alice: checkout returns 500s',
    ]);
    expect(messages[1]?.blocks[1]).toEqual({
      type: 'section',
      text: mrkdwn('*alice* took the incident; escalation stops.'),
    });
    expect(messages[2]?.blocks[1]).toEqual({
      type: 'section',
      text: mrkdwn('>rolled back to revision 6; errors falling'),
    });
    expect(messages[3]?.blocks[1]).toEqual({ type: 'section', text: mrkdwn('>revision 7 rolled back') });
    expect(messages.map(footer)).toEqual(
      ['trigger · level 1', 'acknowledge', 'update', 'resolve'].map(
        (what) => `selfheal · ${what} · \`${w.namespace}/checkout-down\``,
      ),
    );
    // The webhook: level 2's page, then the same acknowledgement, update and resolution, signed.
    expect(w.sink.deliveries('team').map((d) => `${d.event} ${d.deliveryId ?? ''}`)).toEqual(
      ['L2:team-hook', 'ack:team-hook', 'u0:team-hook', 'resolve:team-hook'].map(
        (id, n) =>
          `${['trigger', 'acknowledge', 'update', 'resolve'][n] ?? ''} ${opened.metadata.uid ?? ''}/${id}`,
      ),
    );
    expect(w.sink.deliveries('team')[2]?.body.update).toEqual({
      time: expect.any(String) as unknown,
      author: 'alice',
      message: 'rolled back to revision 6; errors falling',
    });
    // Escalation stopped at the acknowledgement: level 3's time passes and nobody else is told.
    await sleep(Math.max(0, level3At.getTime() + 2_000 - Date.now()));
    const after = await w.incidents.get('checkout-down');
    expect(after.status?.escalation?.level).toBe(2);
    expect(ledgerOf(after).filter((e) => e.id.startsWith('L3:'))).toEqual([]);
    expect(w.slack.messages('#leadership')).toEqual([]);
    for (const peer of [w.pagerduty, w.slack, w.sink]) expect(peer.invalid).toEqual([]);
  });
});

describe('delivery retries', () => {
  it('429 with Retry-After and 500 are retried with backoff, 400 is final and reported', async () => {
    const w = await world('esc-retry');
    // PagerDuty throttles (Retry-After: 3 s), then fails once; Slack refuses the payload; the
    // webhook fails once.
    w.pagerduty.answerNext({ status: 429, retryAfter: 3 }, { status: 500 });
    w.slack.answerNext({ status: 400, body: 'invalid_payload' });
    w.sink.answerNext({ status: 500 });
    await declare(w, 'retried', { levels: [{ after: '0s', receivers: [oncall, channel, hook] }] });
    const settled = await w.incidents.waitFor('retried', 'every delivery settled', allSettled, 30_000);

    expect(entryOf(settled, 'L1:oncall')).toMatchObject({ state: 'Delivered', attempts: 3 });
    const pd = w.pagerduty.exchanges.map((e) => ({ status: e.status, at: e.at.getTime() }));
    expect(pd.map((e) => e.status)).toEqual([429, 500, 202]);
    // The receiver's Retry-After is a floor under the backoff; the backoff doubles after it (4 s).
    expect((pd[1]?.at ?? 0) - (pd[0]?.at ?? 0)).toBeGreaterThanOrEqual(3_000);
    expect((pd[2]?.at ?? 0) - (pd[1]?.at ?? 0)).toBeGreaterThanOrEqual(4_000);
    expect(entryOf(settled, 'L1:team-hook')).toMatchObject({ state: 'Delivered', attempts: 2 });
    expect(w.sink.exchanges.map((e) => e.status)).toEqual([500, 200]);

    // 400 is not retried: one request, the entry Failed with what Slack answered, an Event.
    expect(w.slack.exchanges.map((e) => e.status)).toEqual([400]);
    const failed = entryOf(settled, 'L1:incident-channel');
    expect(failed).toMatchObject({ state: 'Failed', attempts: 1 });
    expect(failed?.message).toContain('slack receiver "incident-channel"');
    expect(failed?.message).toContain('400');
    expect(failed?.message).toContain('invalid_payload');
    expect(failed).not.toHaveProperty('nextAttemptAt');
    expect(await eventNotes(w.namespace, 'retried', 'NotificationFailed')).toEqual([
      `incident-channel (trigger): ${failed?.message ?? ''}`,
    ]);
    // Another receiver of the level was told: no fall-through, no condition.
    expect(condition(settled, 'NotificationFailed')).toBeUndefined();
    expect(
      await w.operator.metric(
        'selfheal_notifications_total{receiver_type="pagerduty",event="trigger",result="retry"}',
      ),
    ).toBe(2);
    expect(
      await w.operator.metric(
        'selfheal_notifications_total{receiver_type="slack",event="trigger",result="failed"}',
      ),
    ).toBe(1);
    // Nothing more goes out for the failed entry, however long one waits for its backoff.
    await sleep(4_000);
    expect(w.slack.exchanges).toHaveLength(1);
  });
});

describe('receivers down, then up', () => {
  it('every (incident, event) arrives exactly once at PagerDuty and at least once at Slack and the webhook', async () => {
    const w = await world('esc-outage');
    const levels: Escalation = { levels: [{ after: '0s', receivers: [oncall, channel, hook] }] };
    const names = ['outage-a', 'outage-b', 'outage-c'];
    // An outage of about 12 s: each first try and the retries at 2 s and 6 s meet refused connections.
    await Promise.all([w.pagerduty.down(), w.slack.down(), w.sink.down()]);
    const downAt = Date.now();
    for (const name of names) await declare(w, name, levels);
    // outage-a is acknowledged during the outage: its acknowledge waits behind its page.
    await w.plugin('ack', 'outage-a', '--by', 'bob');
    await w.incidents.waitFor(
      'outage-a',
      'a retry recorded',
      (i) => (entryOf(i, 'L1:oncall')?.attempts ?? 0) >= 2,
      30_000,
    );
    await sleep(Math.max(0, 12_000 - (Date.now() - downAt)));
    await Promise.all([w.pagerduty.up(), w.slack.up(), w.sink.up()]);
    for (const name of names)
      await w.incidents.waitFor(
        name,
        'everything delivered',
        (i) => ledgerOf(i).every((e) => e.state === 'Delivered'),
        60_000,
      );
    for (const name of names)
      expect(await w.plugin('resolve', name, '--by', 'bob', '--note', 'receivers back')).toMatchObject({
        code: 0,
      });
    const final = await Promise.all(
      names.map((name) =>
        w.incidents.waitFor(
          name,
          'resolution delivered',
          (i) =>
            ledgerOf(i).some((e) => e.event === 'resolve') &&
            ledgerOf(i).every((e) => e.state === 'Delivered'),
        ),
      ),
    );

    for (const incident of final) {
      const name = incident.metadata.name ?? '';
      const dedupKey = `selfheal/${incident.metadata.uid ?? ''}`;
      const acknowledged = name === 'outage-a';
      // Retried through the outage (the first try met a refused connection).
      expect(entryOf(incident, 'L1:oncall')?.attempts).toBeGreaterThan(1);
      // PagerDuty: one alert, and each of its transitions once.
      expect(w.pagerduty.alerts.get(dedupKey)).toEqual({ state: 'resolved', opened: 1 });
      expect(pagesWith(w.pagerduty, KEYS.oncall).filter((p) => p.endsWith(dedupKey))).toEqual([
        `trigger ${dedupKey}`,
        ...(acknowledged ? [`acknowledge ${dedupKey}`] : []),
        `resolve ${dedupKey}`,
      ]);
      // Slack and the webhook: every event at least once.
      const said = w.slack
        .messages('#incident-response')
        .filter((m) => footer(m).endsWith(`\`${w.namespace}/${name}\``));
      const events = [...new Set(said.map((m) => footer(m).split(' · ')[1]))];
      expect(events).toEqual(['trigger', ...(acknowledged ? ['acknowledge'] : []), 'resolve']);
      const hooked = new Set(
        w.sink
          .deliveries('team')
          .filter((d) => d.body.incident && (d.body.incident as { name?: string }).name === name)
          .map((d) => d.event),
      );
      expect([...hooked]).toEqual(['trigger', ...(acknowledged ? ['acknowledge'] : []), 'resolve']);
    }
    for (const peer of [w.pagerduty, w.slack, w.sink]) expect(peer.invalid).toEqual([]);
  });
});

describe('the operator SIGKILLed during deliveries', () => {
  it('pages once per incident (by the alert state) and loses nothing', async () => {
    const w = await world('esc-kill');
    const levels: Escalation = { levels: [{ after: '0s', receivers: [oncall, channel, hook] }] };
    const names = ['kill-a', 'kill-b', 'kill-c', 'kill-d', 'kill-e', 'kill-f'];
    const objects = kc.makeApiClient(CustomObjectsApi);
    const setSpec = (name: string, spec: Partial<IncidentSpec>) =>
      objects.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: w.namespace, plural: 'incidents', name, body: { spec } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const random = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));
    const kills: number[] = [];
    let operator = w.operator;
    const leading = () =>
      eventually('the new operator to lead', async () => (await operator.metric('selfheal_leader')) === 1, {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
    /**
     * Lets the leader work for a random moment, then SIGKILLs it and starts the next one. The first
     * request to each stand-in hangs (until the 2 s notification timeout), so a delivery is
     * certainly in flight when the kill comes; the others are answered at once.
     */
    const killAtRandom = async (low: number, high: number) => {
      w.pagerduty.answerNext('hang');
      w.slack.answerNext('hang');
      w.sink.answerNext('hang');
      const delay = random(low, high);
      kills.push(delay);
      await sleep(delay);
      operator.kill();
      operator = await w.startOperator();
      await leading();
    };
    // Every step starts deliveries (the pages, the acknowledgements, the resolutions) and the
    // operator dies a random moment into them; a new leader takes over after the lease (4 s).
    for (const name of names)
      await w.incidents.create(name, { severity: 'P1', title: `${name} down`, escalation: levels });
    await killAtRandom(0, 1_500);
    await killAtRandom(0, 800);
    for (const name of names) await setSpec(name, { acknowledgedBy: 'carol' });
    await killAtRandom(0, 800);
    await killAtRandom(0, 800);
    for (const name of names)
      await setSpec(name, { resolution: { resolvedBy: 'carol', note: 'restarted by hand' } });
    await killAtRandom(0, 800);
    const final = await Promise.all(
      names.map((name) =>
        w.incidents.waitFor(
          name,
          'trigger, acknowledge and resolve delivered to every receiver',
          (i) =>
            ledgerOf(i).filter((e) => e.state === 'Delivered').length === 9 &&
            ledgerOf(i).every((e) => e.state === 'Delivered'),
          60_000,
        ),
      ),
    );
    const accepted = w.pagerduty.accepted.length + w.slack.accepted.length + w.sink.accepted.length;
    console.log(
      `SIGKILLed the operator ${kills.length} times, ${kills.join(', ')} ms into the deliveries; ` +
        `${accepted - 6 * 9} of ${accepted} accepted deliveries were repeats after a kill`,
    );

    for (const incident of final) {
      const name = incident.metadata.name ?? '';
      const dedupKey = `selfheal/${incident.metadata.uid ?? ''}`;
      // One alert, never reopened: no trigger after its resolve, whatever was repeated.
      expect(w.pagerduty.alerts.get(dedupKey)).toEqual({ state: 'resolved', opened: 1 });
      const actions = w.pagerduty.eventsFor(dedupKey).map((e) => e.event_action);
      expect([...new Set(actions)]).toEqual(['trigger', 'acknowledge', 'resolve']);
      expect(actions.indexOf('resolve')).toBeGreaterThan(actions.lastIndexOf('trigger'));
      // Nothing lost at Slack and the webhook.
      const said = w.slack
        .messages('#incident-response')
        .filter((m) => footer(m).endsWith(`\`${w.namespace}/${name}\``));
      expect(new Set(said.map((m) => footer(m).split(' · ')[1]))).toEqual(
        new Set(['trigger', 'acknowledge', 'resolve']),
      );
      const hooked = w.sink
        .deliveries('team')
        .filter((d) => (d.body.incident as { name?: string }).name === name);
      expect(new Set(hooked.map((d) => d.event))).toEqual(new Set(['trigger', 'acknowledge', 'resolve']));
    }
    for (const peer of [w.pagerduty, w.slack, w.sink]) expect(peer.invalid).toEqual([]);
  });
});

describe('post-mortems', () => {
  it('a resolved P1 gets its draft with the real timeline, is overdue past its due time, and closes once recorded', async () => {
    const w = await world('esc-postmortem', { playbook: { P1: { postMortemDue: '5s' } } });
    await declare(
      w,
      'db-down',
      { levels: [{ after: '0s', receivers: [hook] }] },
      { description: 'the orders database refuses connections' },
    );
    await w.incidents.waitFor('db-down', 'paged', (i) => entryOf(i, 'L1:team-hook')?.state === 'Delivered');
    expect((await w.plugin('ack', 'db-down', '--by', 'dave')).code).toBe(0);
    await w.incidents.waitForPhase('db-down', 'Acknowledged');
    expect(
      (await w.plugin('resolve', 'db-down', '--by', 'dave', '--note', 'failed over to the replica')).code,
    ).toBe(0);
    const drafted = await w.incidents.waitFor(
      'db-down',
      'the draft recorded',
      (i) => i.status?.postMortem?.draft !== undefined,
    );
    expect(drafted.status?.postMortem).toEqual({
      required: true,
      dueAt: new Date(new Date(drafted.status?.resolvedAt ?? '').getTime() + 5_000).toISOString(),
      draft: 'db-down-postmortem',
    });
    const configMap = await core.readNamespacedConfigMap({
      name: 'db-down-postmortem',
      namespace: w.namespace,
    });
    expect(configMap.metadata?.ownerReferences).toEqual([
      { apiVersion: 'selfheal.dev/v1alpha1', kind: 'Incident', name: 'db-down', uid: drafted.metadata.uid },
    ]);
    expect(configMap.metadata?.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'selfheal',
      'selfheal.dev/incident': 'db-down',
    });
    const markdown = configMap.data?.['postmortem.md'] ?? '';
    // The real timeline: every entry the status had when it was resolved, in order.
    const resolvedAt = drafted.status?.resolvedAt ?? '';
    const timeline = (drafted.status?.timeline ?? []).filter((t) => t.time <= resolvedAt);
    expect(timeline.map((t) => t.type)).toEqual(
      expect.arrayContaining(['Open', 'Escalated', 'EscalationLevel', 'Acknowledged', 'Resolved']),
    );
    const section = (title: string) => markdown.split(`## ${title}\n\n`)[1]?.split('\n\n## ')[0];
    expect(section('Timeline')).toBe(timeline.map((t) => `- ${t.time} ${t.type}: ${t.message}`).join('\n'));
    expect(markdown.split('\n')[0]).toBe('# Post-mortem: checkout returns 500s');
    expect(section('Summary')).toBe('the orders database refuses connections');
    expect(section('People')).toBe('- (no roles were assigned)\n- acknowledged by: dave');
    expect(section('What automation tried')).toBe('- nothing: people handled it');
    expect(section('Resolution')).toBe('resolved by dave: failed over to the replica');
    for (const title of ['Impact', 'What went well', 'What went wrong', 'Root cause', 'Action items'])
      expect(section(title)).toBeDefined();

    // Past its due time, with nothing recorded: overdue, an Event, the metric.
    const overdue = await w.incidents.waitFor(
      'db-down',
      'PostMortemOverdue',
      (i) => condition(i, 'PostMortemOverdue')?.status === 'True',
      20_000,
    );
    expect(
      new Date(condition(overdue, 'PostMortemOverdue')?.lastTransitionTime ?? '').getTime(),
    ).toBeGreaterThanOrEqual(
      // lastTransitionTime has second precision
      Math.floor(new Date(overdue.status?.postMortem?.dueAt ?? '').getTime() / 1000) * 1000,
    );
    expect(condition(overdue, 'PostMortemOverdue')).toMatchObject({
      reason: 'NotRecordedInTime',
      message: `the post-mortem was due ${overdue.status?.postMortem?.dueAt ?? ''}: record it with kubectl incident postmortem db-down --url URL --completed`,
    });
    expect(await w.incidents.waitForEvent('db-down', 'PostMortemOverdue')).toContain('PostMortemOverdue');
    expect(await w.operator.metric('selfheal_postmortems_overdue')).toBe(1);
    expect(overdue.status?.phase).toBe('Resolved');

    expect(
      (await w.plugin('postmortem', 'db-down', '--url', 'https://wiki.example.com/pm/db-down', '--completed'))
        .code,
    ).toBe(0);
    const closed = await w.incidents.waitForPhase('db-down', 'Closed');
    expect(condition(closed, 'PostMortemOverdue')).toMatchObject({
      status: 'False',
      reason: 'PostMortemCompleted',
    });
    expect(closed.status?.checklist?.find((c) => c.name === 'PostMortemScheduled')).toEqual({
      name: 'PostMortemScheduled',
      done: true,
      detail: 'https://wiki.example.com/pm/db-down',
    });
    expect(await w.operator.metric('selfheal_postmortems_overdue')).toBe(0);
  });
});

describe('a post-mortem draft the API server refuses', () => {
  it('holds back neither the resolution nor its notifications, and is written once allowed', async () => {
    const w = await world('esc-draft-refused');
    const allow = await denyInNamespace(kc, `${w.namespace}-no-drafts`, w.namespace, {
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }],
      expression: "!object.metadata.name.endsWith('-postmortem')",
      message: 'post-mortem drafts are not allowed here',
      reason: 'Forbidden',
    });
    try {
      // The binding takes effect a moment after it is created: wait until a draft-like name is refused.
      await eventually('the admission policy in force', async () => {
        const refused = await core
          .createNamespacedConfigMap({
            namespace: w.namespace,
            body: { metadata: { name: 'probe-postmortem' } },
          })
          .then(
            () => core.deleteNamespacedConfigMap({ name: 'probe-postmortem', namespace: w.namespace }),
            () => 'refused',
          );
        return refused === 'refused' ? true : undefined;
      });
      await declare(w, 'cache-down', { levels: [{ after: '0s', receivers: [hook] }] });
      await w.incidents.waitFor(
        'cache-down',
        'paged',
        (i) => entryOf(i, 'L1:team-hook')?.state === 'Delivered',
      );
      expect(
        (await w.plugin('resolve', 'cache-down', '--by', 'erin', '--note', 'restarted redis')).code,
      ).toBe(0);
      const resolved = await w.incidents.waitFor(
        'cache-down',
        'resolved and the resolution delivered',
        (i) => i.status?.phase === 'Resolved' && entryOf(i, 'resolve:team-hook')?.state === 'Delivered',
      );
      expect(resolved.status?.postMortem?.draft).toBeUndefined();
      await eventually('the refusal logged with the incident', () =>
        w.operator
          .logLines()
          .some(
            (l) =>
              JSON.stringify(l).includes(`post-mortem draft of ${w.namespace}/cache-down`) &&
              JSON.stringify(l).includes('post-mortem drafts are not allowed here'),
          )
          ? true
          : undefined,
      );
    } finally {
      await allow();
    }
    const drafted = await w.incidents.waitFor(
      'cache-down',
      'the draft written once allowed',
      (i) => i.status?.postMortem?.draft === 'cache-down-postmortem',
      60_000,
    );
    expect(drafted.status?.phase).toBe('Resolved');
    const configMap = await core.readNamespacedConfigMap({
      name: 'cache-down-postmortem',
      namespace: w.namespace,
    });
    expect(configMap.data?.['postmortem.md']?.split('\n')[0]).toBe('# Post-mortem: checkout returns 500s');
  });
});

describe('the update cadence', () => {
  it('reminders arrive at the cadence, a person’s update resets it, and they stop at resolution', async () => {
    // The incident names no levels: the install's defaults for P2 (--escalation-file) apply.
    const defaults = join(tierStateDir('integration'), 'esc-cadence-escalation.yaml');
    writeFileSync(defaults, stringify({ P2: { levels: [{ after: '0s', receivers: [oncall, channel] }] } }));
    const w = await world('esc-cadence', {
      playbook: { P2: { updateEvery: '3s' } },
      args: [`--escalation-file=${defaults}`],
    });
    const opened = await declare(w, 'slow-api', undefined, { severity: 'P2' });
    const openedAt = new Date(opened.status?.openedAt ?? '').getTime();
    const remindersIn = (i: Incident) =>
      ledgerOf(i).filter((e) => e.id.startsWith('due-') && e.receiver === 'incident-channel');
    const dueOf = (id: string) => new Date(id.slice('due-'.length, id.lastIndexOf(':'))).getTime();
    const three = await w.incidents.waitFor(
      'slow-api',
      'three reminders delivered',
      (i) => remindersIn(i).filter((e) => e.state === 'Delivered').length >= 3,
      30_000,
    );
    // On the cadence from the opening: +3 s, +6 s, +9 s (the ids say when each was due).
    expect(
      remindersIn(three)
        .slice(0, 3)
        .map((e) => dueOf(e.id) - openedAt),
    ).toEqual([3_000, 6_000, 9_000]);
    const reminders = () =>
      w.slack.messages('#incident-response').filter((m) => headers([m])[0]?.includes('Update due'));
    const exchanges = w.slack.exchanges.filter((e) => e.body.includes('Update due'));
    for (const [n, entry] of remindersIn(three).slice(0, 3).entries())
      // Never before it was due.
      expect(exchanges[n]?.at.getTime()).toBeGreaterThanOrEqual(dueOf(entry.id));
    expect(reminders()[0]?.blocks[1]).toEqual({
      type: 'section',
      text: mrkdwn(
        `A status update to stakeholders is due. The P2 cadence asks for a status update every 3s. Post one with \`kubectl incident update slow-api -n ${w.namespace} --message "..."\``,
      ),
    });
    // PagerDuty has no update event: it got the page only.
    expect(w.pagerduty.accepted.map((e) => e.event_action)).toEqual(['trigger']);

    // A person's update resets the clock: the next reminder is due 3 s after it.
    expect(
      (await w.plugin('update', 'slow-api', '--by', 'erin', '--message', 'still investigating')).code,
    ).toBe(0);
    const updated = await w.incidents.get('slow-api');
    const postedAt = new Date(updated.spec.updates?.[0]?.time ?? '').getTime();
    const after = await w.incidents.waitFor(
      'slow-api',
      'a reminder after the update',
      (i) => remindersIn(i).some((e) => dueOf(e.id) > postedAt),
      20_000,
    );
    expect(dueOf(remindersIn(after).find((e) => dueOf(e.id) > postedAt)?.id ?? '') - postedAt).toBe(3_000);

    expect(
      (await w.plugin('resolve', 'slow-api', '--by', 'erin', '--note', 'a slow query, killed')).code,
    ).toBe(0);
    const resolved = await w.incidents.waitFor('slow-api', 'resolution delivered', (i) =>
      ['resolve:oncall', 'resolve:incident-channel'].every((id) => entryOf(i, id)?.state === 'Delivered'),
    );
    expect(resolved.status?.sla).not.toHaveProperty('nextUpdateDueAt');
    const count = remindersIn(resolved).length;
    const received = reminders().length;
    await sleep(7_000); // two cadences and more
    const later = await w.incidents.get('slow-api');
    expect(remindersIn(later)).toHaveLength(count);
    expect(reminders()).toHaveLength(received);
    expect(received).toBe(count);
  });
});

describe('receivers that cannot be told', () => {
  it('a missing Secret, a missing key and a refused routing key: NotificationFailed names each, no retry, and level 2 is notified', async () => {
    const w = await world('esc-failing');
    const levels: Escalation = {
      levels: [
        {
          after: '0s',
          receivers: [
            { name: 'no-secret', type: 'pagerduty', secretRef: { name: 'absent', key: 'routing-key' } },
            { name: 'no-key', type: 'slack', secretRef: { name: 'slack', key: 'ops-channel' } },
            pagerReceiver('refused', 'refused'),
          ],
        },
        { after: '30m', receivers: [hook] },
      ],
    };
    await declare(w, 'unreachable', levels);
    const settled = await w.incidents.waitFor(
      'unreachable',
      'level 2 delivered',
      (i) => entryOf(i, 'L2:team-hook')?.state === 'Delivered',
    );
    const ns = w.namespace;
    const messages = {
      'no-secret': `pagerduty receiver "no-secret": Secret ${ns}/absent not found (it must be in the incident's namespace, with key routing-key)`,
      'no-key': `slack receiver "no-key": Secret ${ns}/slack has no key ops-channel (the incoming-webhook URL)`,
      refused: `pagerduty receiver "refused": PagerDuty at ${w.pagerduty.url} answered 400: Event object is invalid: routing_key: Invalid routing key (not retried: retrying cannot help); its credential is Secret ${ns}/pagerduty key refused`,
    };
    for (const [receiver, message] of Object.entries(messages))
      expect(entryOf(settled, `L1:${receiver}`)).toMatchObject({ state: 'Failed', attempts: 1, message });
    expect(condition(settled, 'NotificationFailed')).toMatchObject({
      status: 'True',
      reason: 'LevelFailed',
      message: `every receiver of level 1 failed: ${Object.values(messages).join('; ')}; level 2 notified`,
    });
    expect(settled.status?.escalation).toMatchObject({ level: 2, notifiedReceivers: ['team-hook'] });
    expect(w.sink.deliveries('team').map((d) => d.event)).toEqual(['trigger']);
    expect((await eventNotes(ns, 'unreachable', 'NotificationFailed')).sort()).toEqual(
      Object.entries(messages)
        .map(([receiver, message]) => `${receiver} (trigger): ${message}`)
        .sort(),
    );
    // Not retried: the refused key was sent once, and nothing else reached PagerDuty or Slack.
    await sleep(4_000);
    expect(w.pagerduty.exchanges.map((e) => e.status)).toEqual([400]);
    expect(w.slack.exchanges).toEqual([]);
    expect(
      await w.operator.metric(
        'selfheal_notifications_total{receiver_type="pagerduty",event="trigger",result="failed"}',
      ),
    ).toBe(2);
    // Names and keys, never the values: not on the status, the Events or the operator's log.
    const everything = [
      JSON.stringify(await w.incidents.get('unreachable')),
      JSON.stringify((await events.listNamespacedEvent({ namespace: ns })).items),
      readFileSync(w.operator.logFile, 'utf8'),
    ].join('\n');
    for (const value of [
      REFUSED_KEY,
      ...Object.values(KEYS),
      SIGNING_SECRET,
      new URL(w.sink.endpoint('team')).pathname,
    ])
      expect(everything).not.toContain(value);
    expect(everything).toContain('Secret');
  });
});
