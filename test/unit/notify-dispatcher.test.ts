import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import type { Incident } from '../../src/api/incident.ts';
import type { Escalation, Receiver, ReceiverType } from '../../src/api/remediation.ts';
import type {
  CredentialsOf,
  DeliveryResult,
  Notice,
  ReceiverAdapter,
  ReceiverAdapters,
} from '../../src/escalation/delivery.ts';
import { Notifier } from '../../src/escalation/notifier.ts';
import type { SecretReader } from '../../src/escalation/secrets.ts';
import { DELIVERY_RETRY, type LedgerEntry } from '../../src/incidents/decide/index.ts';
import { NotificationDispatcher } from '../../src/incidents/notify.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { ROUTING_KEY } from './escalation-fixtures.ts';
import { incident, iso, observations, run, settings, SECOND, T0, withSpec, withStatus } from './fixtures.ts';

// The dispatcher between the ledger on the status and the receivers: what it sends for which view
// of the incident, and what it hands back to the next pass. The reconciler's passes are played by
// hand: a view from the cache, decide() on it with the dispatcher's results, the write, and the
// dispatch of the incident as written, with the cache sometimes one write behind (as an informer
// is, for a few milliseconds after each write).

const pager: Receiver = { name: 'oncall', type: 'pagerduty', secretRef: { name: 'pd', key: 'routing-key' } };
const chat: Receiver = { name: 'channel', type: 'slack', secretRef: { name: 'slack', key: 'webhook-url' } };
const LEVELS: Escalation = { levels: [{ after: '0s', receivers: [pager, chat] }] };

/** An adapter that records every notice and answers what the test scripts (delivered by default). */
class ScriptedAdapter<T extends ReceiverType> implements ReceiverAdapter<T> {
  readonly type: T;
  readonly sent: Notice[] = [];
  readonly answers: (DeliveryResult['outcome'] | 'refused')[] = [];
  private release: (() => void) | undefined;
  /** While held, sends wait for `letGo()`. */
  held = false;

  constructor(type: T) {
    this.type = type;
  }

  handles(event: Notice['event']): boolean {
    return this.type !== 'pagerduty' || event !== 'update';
  }

  async send(notice: Notice, receiver: string, _credentials: CredentialsOf<T>): Promise<DeliveryResult> {
    this.sent.push(notice);
    if (this.held) await new Promise<void>((resolve) => (this.release = resolve));
    const outcome = this.answers.shift() ?? 'delivered';
    if (outcome === 'refused')
      return {
        outcome: 'failed',
        receiver,
        status: 400,
        message: `${receiver}: answered 400: Invalid routing key`,
      };
    return outcome === 'retry'
      ? { outcome, receiver, message: `${receiver}: 500`, retryAfterMs: 3 * SECOND }
      : outcome === 'skipped'
        ? { outcome, receiver, message: `${receiver}: skipped` }
        : { outcome, receiver, message: `${receiver}: ${outcome}` };
  }

  letGo(): void {
    this.release?.();
  }
}

const secrets: SecretReader = {
  read: () => Promise.resolve({ 'routing-key': ROUTING_KEY, 'webhook-url': 'https://hooks.example.com/x' }),
};

function setup() {
  const clock = new ManualClock(T0);
  const pagerduty = new ScriptedAdapter('pagerduty');
  const slack = new ScriptedAdapter('slack');
  const adapters = { pagerduty, slack, webhook: new ScriptedAdapter('webhook') } as ReceiverAdapters;
  const quiet = new Writable({ write: (_chunk, _encoding, done) => done() });
  const settled: string[] = [];
  let leader = true;
  const metrics = new Metrics({ processMetrics: false });
  const dispatcher = new NotificationDispatcher({
    notifier: new Notifier(secrets, adapters, createLogger({ level: 'silent' }, quiet)),
    settings: settings(),
    linkTemplates: [],
    mayWrite: () => leader,
    concurrency: 4,
    clock,
    metrics,
    settled: (key) => settled.push(key),
  });
  return {
    clock,
    metrics,
    pagerduty,
    slack,
    dispatcher,
    settled,
    demote: () => (leader = false),
    /** Lets the background sends finish. */
    idle: () => new Promise((resolve) => setTimeout(resolve, 10)),
  };
}

type Setup = ReturnType<typeof setup>;

/** One pass on `view` (the cache's copy): decide with the dispatcher's results, write, dispatch. */
function reconcilePass({ dispatcher, clock }: Setup, view: Incident): Incident {
  const deliveries = dispatcher.deliveries(view);
  const plan = run(view, observations(clock.now(), deliveries.size ? { deliveries } : {}));
  const written = withStatus(view, plan.status);
  dispatcher.recorded(written);
  dispatcher.dispatch(written, undefined);
  return written;
}

/** A P1 with nothing to run, escalated: level 1 recorded, nothing sent yet. */
function escalated(): Incident {
  const declared = incident({ spec: { actions: undefined, escalation: LEVELS } });
  return withStatus(declared, run(declared, observations(T0)).status);
}
const states = (inc: Incident) =>
  (inc.status?.notifications ?? []).map((e: LedgerEntry) => `${e.id} ${e.state} ${e.attempts}`);

describe('NotificationDispatcher', () => {
  it('sends each due entry once, hands its result to the next pass, and forgets it once recorded', async () => {
    const t = setup();
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    expect(t.pagerduty.sent.map((n) => n.event)).toEqual(['trigger']);
    expect(t.slack.sent.map((n) => n.event)).toEqual(['trigger']);
    expect(t.settled).toEqual(['shop/checkout-errors', 'shop/checkout-errors']);
    expect([...t.dispatcher.deliveries(v1).keys()]).toEqual(['L1:oncall', 'L1:channel']);
    // Dispatching the same view again while its results wait to be written sends nothing.
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(1);

    const v2 = reconcilePass(t, v1);
    expect(states(v2)).toEqual(['L1:oncall Delivered 1', 'L1:channel Delivered 1']);
    expect(t.dispatcher.deliveries(v2).size).toBe(0);
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(1);
  });

  it('a pass on a cache one write behind sends nothing again', async () => {
    const t = setup();
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    reconcilePass(t, v1); // writes both results (v2); the cache still holds v1
    const stale = reconcilePass(t, v1);
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(1);
    expect(t.slack.sent).toHaveLength(1);
    // Deciding on the stale copy changes nothing a write would keep: its write would conflict.
    expect(states(stale)).toEqual(['L1:oncall Pending 0', 'L1:channel Pending 0']);
  });

  it('an entry the cache does not hold yet keeps its try: a stale pass, then the fresh one, send it once', async () => {
    const t = setup();
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    const v2 = reconcilePass(t, v1);
    const acked = reconcilePass(t, withSpec(v2, { acknowledgedBy: 'alice' })); // records ack:*, sends them
    await t.idle();
    expect(t.pagerduty.sent.map((n) => n.event)).toEqual(['trigger', 'acknowledge']);
    reconcilePass(t, v2); // the cache has not seen the acknowledgement yet
    const next = reconcilePass(t, acked);
    await t.idle();
    expect(t.pagerduty.sent.map((n) => n.event)).toEqual(['trigger', 'acknowledge']);
    expect(t.slack.sent.map((n) => n.event)).toEqual(['trigger', 'acknowledge']);
    expect(states(next).slice(2)).toEqual(['ack:oncall Delivered 1', 'ack:channel Delivered 1']);
  });

  it('a result whose status write failed is handed to the next pass again, and not sent again', async () => {
    const t = setup();
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    // The write of the first pass failed (a conflict): nothing was recorded.
    expect(t.dispatcher.deliveries(v1).size).toBe(2);
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(1);
    const v2 = reconcilePass(t, v1);
    expect(states(v2)).toEqual(['L1:oncall Delivered 1', 'L1:channel Delivered 1']);
  });

  it('a retry goes out at its time, once, even when the cache is behind', async () => {
    const t = setup();
    t.pagerduty.answers.push('retry');
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    const v2 = reconcilePass(t, v1);
    expect(states(v2)).toEqual(['L1:oncall Pending 1', 'L1:channel Delivered 1']);
    expect(v2.status?.notifications?.[0]?.nextAttemptAt).toBe(iso(3 * SECOND));
    t.clock.advance(3 * SECOND);
    reconcilePass(t, v1); // stale: the try it shows was made already
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(1);
    reconcilePass(t, v2); // the cache caught up: the retry is due
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(2);
  });

  it('counts the try that uses up the retries as failed, so the failing-notifications alert sees it', async () => {
    const t = setup();
    t.pagerduty.answers.push(...Array<'retry'>(DELIVERY_RETRY.maxAttempts).fill('retry'));
    let view = escalated();
    t.dispatcher.dispatch(view, undefined);
    for (let i = 0; i < DELIVERY_RETRY.maxAttempts; i++) {
      await t.idle();
      view = reconcilePass(t, view);
      t.clock.advance(DELIVERY_RETRY.maxMs);
      view = reconcilePass(t, view);
    }
    await t.idle();
    expect(states(view)[0]).toBe(`L1:oncall Failed ${DELIVERY_RETRY.maxAttempts}`);
    const counted = (await t.metrics.notifications.get()).values
      .filter((v) => v.labels.receiver_type === 'pagerduty')
      .map((v) => `${v.labels.result} ${v.value}`);
    expect(counted.sort()).toEqual(['failed 1', `retry ${DELIVERY_RETRY.maxAttempts - 1}`]);
  });

  it('forgets the tries of a deleted incident; one created again under its name starts afresh', async () => {
    const t = setup();
    const first = escalated();
    t.dispatcher.dispatch(first, undefined);
    await t.idle();
    expect(t.dispatcher.deliveries(first).size).toBe(2);
    t.dispatcher.forget(`${first.metadata.namespace ?? ''}/${first.metadata.name ?? ''}`);
    expect(t.dispatcher.deliveries(first).size).toBe(0);
    // The same name again, a new uid: its entries are its own and are sent.
    const again = { ...first, metadata: { ...first.metadata, uid: 'another-uid' } };
    t.dispatcher.dispatch(again, undefined);
    await t.idle();
    expect(t.pagerduty.sent).toHaveLength(2);
    expect(t.dispatcher.deliveries(again).size).toBe(2);
  });

  it("never sends a receiver's acknowledge while its page is still under way", async () => {
    const t = setup();
    t.pagerduty.held = true;
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    const acked = reconcilePass(t, withSpec(v1, { acknowledgedBy: 'alice' }));
    expect(states(acked)).toEqual([
      'L1:oncall Pending 0',
      'L1:channel Delivered 1',
      'ack:oncall Pending 0',
      'ack:channel Pending 0',
    ]);
    await t.idle();
    expect(t.pagerduty.sent.map((n) => n.event)).toEqual(['trigger']);
    expect(t.slack.sent.map((n) => n.event)).toEqual(['trigger', 'acknowledge']);
    t.pagerduty.letGo();
    await t.idle();
    const next = reconcilePass(t, acked);
    await t.idle();
    expect(states(next).slice(0, 3)).toEqual([
      'L1:oncall Delivered 1',
      'L1:channel Delivered 1',
      'ack:oncall Pending 0',
    ]);
    expect(t.pagerduty.sent.map((n) => n.event)).toEqual(['trigger', 'acknowledge']);
  });

  it('sends nothing once this replica no longer leads', async () => {
    const t = setup();
    t.demote();
    t.dispatcher.dispatch(escalated(), undefined);
    await t.idle();
    expect(t.pagerduty.sent).toEqual([]);
    expect(t.settled).toEqual([]);
  });

  it('a final refusal by the peer names where the credential is kept, never what it is', async () => {
    const t = setup();
    t.pagerduty.answers.push('refused');
    t.slack.answers.push('failed');
    const v1 = escalated();
    t.dispatcher.dispatch(v1, undefined);
    await t.idle();
    const v2 = reconcilePass(t, v1);
    expect(v2.status?.notifications?.map((e) => [e.state, e.message])).toEqual([
      [
        'Failed',
        'oncall: answered 400: Invalid routing key; its credential is Secret shop/pd key routing-key',
      ],
      // Refused before any answer (no HTTP status): nothing to point at.
      ['Failed', 'channel: failed'],
    ]);
    expect(JSON.stringify(v2.status)).not.toContain(ROUTING_KEY);
  });
});
