import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Incident } from '../../src/api/incident.ts';
import type { Receiver } from '../../src/api/remediation.ts';
import type { DeliveryResult, Notice } from '../../src/escalation/delivery.ts';
import { EgressPolicy } from '../../src/base/egress.ts';
import { Notifier } from '../../src/escalation/notifier.ts';
import { KubeSecretReader } from '../../src/escalation/secrets.ts';
import { summarize } from '../../src/escalation/summary.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, grantRole, kubeConfigFor, serviceAccountKubeconfig } from '../support/kube.ts';
import { PagerDutyStandIn } from '../support/pagerduty.ts';
import { SlackStandIn } from '../support/slack.ts';
import { tierStateDir } from '../support/tiers.ts';
import { WebhookSink } from '../support/webhook-sink.ts';

// Each receiver against a local server implementing its peer's contract, with credentials read
// from real Secrets in the real API server: what arrives is checked field by field, and every
// scripted failure comes back classified as the ledger needs it.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const ROUTING_KEY = 'e2e0pagerduty0routing0key0000001';
const SIGNING_SECRET = 'whsec_integration_0123456789';
const TIMEOUT_MS = 1_000;

const pagerduty = new PagerDutyStandIn({ routingKeys: [ROUTING_KEY] });
const slack = new SlackStandIn();
const sink = new WebhookSink();
const logLines: string[] = [];
let namespace: string;
let notifier: Notifier;
let incident: Incident;
let slackUrl: string;

const pager: Receiver = {
  name: 'oncall',
  type: 'pagerduty',
  secretRef: { name: 'pagerduty', key: 'routing-key' },
};
const chat: Receiver = {
  name: 'incident-channel',
  type: 'slack',
  secretRef: { name: 'slack', key: 'webhook-url' },
};
const hook: Receiver = {
  name: 'team-hook',
  type: 'webhook',
  secretRef: { name: 'hook', key: 'url' },
  signingSecretKey: 'signing-secret',
};

async function secret(name: string, stringData: Record<string, string>): Promise<void> {
  await core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData } });
}

/** A notice about the incident as it stands when the event happens (acknowledged, resolved). */
function notice(event: Notice['event'], extra: Partial<Notice> = {}): Notice {
  const spec = {
    ...incident.spec,
    ...(event === 'acknowledge' || event === 'resolve' ? { acknowledgedBy: 'alice' } : {}),
    ...(event === 'resolve'
      ? { resolution: { resolvedBy: 'alice', note: 'rolled back to revision 6' } }
      : {}),
  };
  return { event, summary: summarize({ ...incident, spec }), level: 1, ...extra };
}

const deliver = (receiver: Receiver, event: Notice['event'], extra: Partial<Notice> = {}) =>
  notifier.deliver({ namespace, receiver, notice: notice(event, extra) });

function notifierWith(reader: KubeSecretReader): Notifier {
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  return Notifier.create({
    secrets: reader,
    pagerDutyUrl: pagerduty.url,
    timeoutMs: TIMEOUT_MS,
    // The stand-ins listen on loopback: allowed here, as the test harness's operators allow it.
    egress: new EgressPolicy({ allow: [], lifted: ['loopback'], selfAddresses: [] }),
    clock: systemClock,
    logger: createLogger({ level: 'debug' }, logs),
  });
}

beforeAll(async () => {
  await Promise.all([pagerduty.start(), slack.start(), sink.start()]);
  namespace = await createTestNamespace(kc, 'notify');
  slackUrl = slack.webhook('#incident-response');
  await secret('pagerduty', {
    'routing-key': `${ROUTING_KEY}\n`,
    'unknown-key': 'ffffffffffffffffffffffffffffffff',
  });
  await secret('slack', { 'webhook-url': slackUrl, gone: `${slack.url}/services/T0/B0/deleted` });
  await secret('hook', {
    url: sink.endpoint('team', { signingSecret: SIGNING_SECRET }),
    'signing-secret': SIGNING_SECRET,
    'wrong-secret': 'whsec_not_the_one',
    open: sink.endpoint('open'),
  });
  const incidents = new IncidentClient(kc, namespace);
  await incidents.create('checkout-down', {
    severity: 'P1',
    title: 'checkout returns 500s',
    target: { kind: 'Deployment', name: 'checkout' },
  });
  incident = await incidents.get('checkout-down');
  notifier = notifierWith(new KubeSecretReader(core));
});

afterAll(async () => {
  await Promise.all([pagerduty.close(), slack.close(), sink.close()]);
  await core.deleteNamespace({ name: namespace });
});

const outcome = (r: DeliveryResult) => ({ outcome: r.outcome, message: r.message });

describe('PagerDuty Events API v2', () => {
  it('triggers, acknowledges and resolves one alert under one dedup_key from the uid', async () => {
    const dedupKey = `selfheal/${incident.metadata.uid ?? ''}`;
    expect((await deliver(pager, 'trigger')).outcome).toBe('delivered');
    expect(pagerduty.alerts.get(dedupKey)?.state).toBe('triggered');
    expect((await deliver(pager, 'acknowledge')).outcome).toBe('delivered');
    expect(pagerduty.alerts.get(dedupKey)?.state).toBe('acknowledged');
    expect((await deliver(pager, 'resolve')).outcome).toBe('delivered');
    expect(pagerduty.alerts.get(dedupKey)).toEqual({ state: 'resolved', opened: 1 });
    expect(pagerduty.eventsFor(dedupKey).map((e) => e.event_action)).toEqual([
      'trigger',
      'acknowledge',
      'resolve',
    ]);
    expect(pagerduty.eventsFor(dedupKey)[0]?.payload).toMatchObject({
      severity: 'critical',
      source: `${namespace}/deployment/checkout`,
      summary: '[P1] checkout returns 500s (Deployment ' + namespace + '/checkout)',
    });
    expect(pagerduty.invalid).toEqual([]);
  });

  it('sends no update: PagerDuty has no such event', async () => {
    const before = pagerduty.exchanges.length;
    const result = await deliver(pager, 'update');
    expect(result.outcome).toBe('skipped');
    expect(pagerduty.exchanges).toHaveLength(before);
  });

  it('classifies 429 (with Retry-After), 500, 400, a hung request and a peer that is down', async () => {
    pagerduty.answerNext({ status: 429, retryAfter: 3 }, { status: 500 }, { status: 400 }, 'hang', 'reset');
    expect(await deliver(pager, 'trigger')).toMatchObject({
      outcome: 'retry',
      status: 429,
      retryAfterMs: 3000,
    });
    expect(await deliver(pager, 'trigger')).toMatchObject({ outcome: 'retry', status: 500 });
    expect(outcome(await deliver(pager, 'trigger'))).toEqual({
      outcome: 'failed',
      message: `pagerduty receiver "oncall": PagerDuty at ${pagerduty.url} answered 400: scripted 400 (not retried: retrying cannot help)`,
    });
    expect(outcome(await deliver(pager, 'trigger'))).toEqual({
      outcome: 'retry',
      message: `pagerduty receiver "oncall": PagerDuty at ${pagerduty.url}: no answer within 1s`,
    });
    expect(outcome(await deliver(pager, 'trigger'))).toEqual({
      outcome: 'retry',
      message: `pagerduty receiver "oncall": PagerDuty at ${pagerduty.url}: connection reset`,
    });
    await pagerduty.down();
    try {
      expect(outcome(await deliver(pager, 'trigger'))).toEqual({
        outcome: 'retry',
        message: `pagerduty receiver "oncall": PagerDuty at ${pagerduty.url}: connection refused`,
      });
    } finally {
      await pagerduty.up();
    }
    expect((await deliver(pager, 'trigger')).outcome).toBe('delivered');
    expect(pagerduty.invalid).toEqual([]);
  });

  it('fails for good when PagerDuty refuses the routing key, naming it nowhere', async () => {
    const result = await deliver(
      { ...pager, secretRef: { name: 'pagerduty', key: 'unknown-key' } },
      'trigger',
    );
    expect(outcome(result)).toEqual({
      outcome: 'failed',
      message: `pagerduty receiver "oncall": PagerDuty at ${pagerduty.url} answered 400: Event object is invalid: routing_key: Invalid routing key (not retried: retrying cannot help)`,
    });
  });
});

describe('Slack incoming webhook', () => {
  it('posts the page, the acknowledgement, an update and the resolution as valid Block Kit messages', async () => {
    for (const [event, extra] of [
      ['trigger', { reason: 'escalation level 1: automation failed' }],
      ['acknowledge', {}],
      ['update', { update: { time: new Date().toISOString(), author: 'bob', message: 'rolling back' } }],
      ['resolve', {}],
    ] as const)
      expect(await deliver(chat, event, extra)).toMatchObject({ outcome: 'delivered', status: 200 });
    const messages = slack.messages('#incident-response');
    expect(messages.map((m) => m.text)).toEqual([
      `[P1] P1 incident: checkout returns 500s (Deployment ${namespace}/checkout) · Take it: kubectl incident ack checkout-down -n ${namespace}`,
      `[P1] Acknowledged by alice: checkout returns 500s (Deployment ${namespace}/checkout)`,
      `[P1] Update from bob: checkout returns 500s (Deployment ${namespace}/checkout) · Take it: kubectl incident ack checkout-down -n ${namespace}`,
      `[P1] Resolved by alice: checkout returns 500s (Deployment ${namespace}/checkout)`,
    ]);
    expect(JSON.stringify(messages[0]?.blocks)).toContain('escalation level 1: automation failed');
    expect(slack.invalid).toEqual([]);
  });

  it('honours 429 Retry-After, retries 500, and fails for good on 403, 404 and 410', async () => {
    slack.answerNext(
      { status: 429, retryAfter: 1, body: 'rate_limited' },
      { status: 500, body: 'rollup_error' },
    );
    expect(await deliver(chat, 'update')).toMatchObject({
      outcome: 'retry',
      status: 429,
      retryAfterMs: 1000,
    });
    expect(await deliver(chat, 'update')).toMatchObject({ outcome: 'retry', status: 500 });
    slack.answerNext({ status: 403, body: 'action_prohibited' });
    expect(outcome(await deliver(chat, 'update'))).toEqual({
      outcome: 'failed',
      message: `slack receiver "incident-channel": Slack at ${slack.url} answered 403: action_prohibited (not retried: retrying cannot help)`,
    });
    const gone = await deliver({ ...chat, secretRef: { name: 'slack', key: 'gone' } }, 'update');
    expect(gone).toMatchObject({ outcome: 'failed', status: 404 });
    expect(gone.message).toContain('answered 404: no_service');
    slack.archive('#incident-response');
    expect(await deliver(chat, 'update')).toMatchObject({ outcome: 'failed', status: 410 });
    expect(slack.invalid).toEqual([]);
  });

  it('never names the webhook URL, which is the credential', () => {
    const path = new URL(slackUrl).pathname;
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(line).not.toContain(path);
  });
});

describe('generic webhook', () => {
  it('delivers signed JSON that the receiver verifies, with the delivery id', async () => {
    const result = await deliver(hook, 'trigger', { deliveryId: 'team-hook/trigger/1' });
    expect(result).toMatchObject({ outcome: 'delivered', status: 200 });
    const [delivery] = sink.deliveries('team');
    expect(delivery).toMatchObject({ event: 'trigger', deliveryId: 'team-hook/trigger/1' });
    expect(delivery?.body.incident).toMatchObject({ name: 'checkout-down', namespace, severity: 'P1' });
    expect(sink.unauthorized).toEqual([]);
  });

  it('is refused (401, not retried) when signed with the wrong secret', async () => {
    const result = await deliver({ ...hook, signingSecretKey: 'wrong-secret' }, 'trigger');
    expect(outcome(result)).toEqual({
      outcome: 'failed',
      message: `webhook receiver "team-hook": the webhook at ${sink.url} answered 401 (18 bytes) (not retried: retrying cannot help)`,
    });
  });

  it('delivers unsigned JSON without a signing secret', async () => {
    const result = await deliver(
      { ...hook, secretRef: { name: 'hook', key: 'open' }, signingSecretKey: undefined },
      'resolve',
    );
    expect(result.outcome).toBe('delivered');
    expect(sink.exchanges.at(-1)?.headers['x-selfheal-signature']).toBeUndefined();
    expect(sink.invalid).toEqual([]);
  });
});

describe('credentials from Secrets in the real API server', () => {
  it('fails for good on a missing Secret or key, naming receiver, Secret and key', async () => {
    expect(
      outcome(await deliver({ ...pager, secretRef: { name: 'pd-prod', key: 'routing-key' } }, 'trigger')),
    ).toEqual({
      outcome: 'failed',
      message: `pagerduty receiver "oncall": Secret ${namespace}/pd-prod not found (it must be in the incident's namespace, with key routing-key)`,
    });
    expect(outcome(await deliver({ ...chat, secretRef: { name: 'slack', key: 'url' } }, 'trigger'))).toEqual({
      outcome: 'failed',
      message: `slack receiver "incident-channel": Secret ${namespace}/slack has no key url (the incoming-webhook URL)`,
    });
  });

  it('fails for good, saying what RBAC is missing, when the operator may not read Secrets', async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'no-secrets' } } });
    const file = await serviceAccountKubeconfig(kc, {
      namespace,
      name: 'no-secrets',
      file: join(tierStateDir('integration'), `no-secrets-${namespace}.kubeconfig`),
    });
    const restricted = new KubeConfig();
    restricted.loadFromFile(file);
    const result = await notifierWith(new KubeSecretReader(restricted.makeApiClient(CoreV1Api))).deliver({
      namespace,
      receiver: pager,
      notice: notice('trigger'),
    });
    expect(outcome(result)).toEqual({
      outcome: 'failed',
      message: `pagerduty receiver "oncall": cannot read Secret ${namespace}/pagerduty: the operator may not read it (403): grant its ServiceAccount get on secrets in namespace ${namespace}`,
    });
    // With the permission granted, the same reader works: the refusal was RBAC, nothing else.
    await grantRole(kc, {
      namespace,
      name: 'read-secrets',
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
      serviceAccount: 'no-secrets',
    });
    const granted = await pagerduty.waitFor('the trigger through the granted reader', async () => {
      const r = await notifierWith(new KubeSecretReader(restricted.makeApiClient(CoreV1Api))).deliver({
        namespace,
        receiver: pager,
        notice: notice('trigger'),
      });
      return r.outcome === 'delivered' && r;
    });
    expect(granted.outcome).toBe('delivered');
  });

  it('never logs a credential', () => {
    const all = logLines.join('');
    for (const credential of [ROUTING_KEY, SIGNING_SECRET, new URL(slackUrl).pathname])
      expect(all).not.toContain(credential);
    expect(all).toContain('"receiver":"oncall"');
  });
});
