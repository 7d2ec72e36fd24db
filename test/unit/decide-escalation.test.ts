import { describe, expect, it } from '@jest/globals';
import { RECURRED_ANNOTATION, type Severity } from '../../src/api/group.ts';
import {
  MAX_NOTIFICATIONS,
  MAX_UPDATES,
  type Incident,
  type IncidentSpec,
  type IncidentUpdate,
} from '../../src/api/incident.ts';
import { MAX_PUBLIC_UPDATES } from '../../src/api/public.ts';
import type { Escalation, Receiver } from '../../src/api/remediation.ts';
import { MAX_RETRY_AFTER_MS } from '../../src/escalation/delivery.ts';
import {
  DELIVERY_RETRY,
  dueDeliveries,
  type DeliveryObservation,
  type LedgerEntry,
  type Observations,
  type Plan,
} from '../../src/incidents/decide/index.ts';
import type { IncidentSettings } from '../../src/incidents/settings.ts';
import {
  HOUR,
  MINUTE,
  SECOND,
  at,
  conditionMessage,
  conditionsOf,
  deployment,
  eventsOf,
  incident,
  iso,
  markerOf,
  observations,
  reconcile,
  run,
  settings,
  target,
  withSpec,
  withStatus,
} from './fixtures.ts';

// The human half of decide(), as tables: the delivery ledger's life, escalation levels, what
// acknowledgement and resolution send, people's updates and the cadence, the checklist, the
// status page rule and the post-mortem. Each pass is one decide() on the status the previous one
// wrote, with the delivery results the dispatcher would hand back.

const pager: Receiver = { name: 'oncall', type: 'pagerduty', secretRef: { name: 'pd', key: 'routing-key' } };
const chat: Receiver = { name: 'channel', type: 'slack', secretRef: { name: 'slack', key: 'webhook-url' } };
const lead: Receiver = { name: 'lead', type: 'pagerduty', secretRef: { name: 'pd', key: 'lead-key' } };
const hook: Receiver = { name: 'hook', type: 'webhook', secretRef: { name: 'hook', key: 'url' } };

/** Level 1 at once (a pager and the channel), level 2 after 30 minutes (another pager and a webhook). */
const LEVELS: Escalation = {
  levels: [
    { after: '0s', receivers: [pager, chat] },
    { after: '30m', receivers: [lead, hook] },
  ],
};
const P1_RESPONSE = 15 * MINUTE;
/** The install's defaults without the status page rule, whose reminders the other tables leave out. */
const S = settings({ statusPageUpdate: { severities: [], withinMs: 15 * MINUTE } });
const P1_UPDATE_EVERY = 30 * MINUTE;

/** A P1 with nothing to run: it escalates on its first pass (NoAutomatedRemediation). */
const manual = (spec: Partial<IncidentSpec> = {}): Incident =>
  incident({ spec: { actions: undefined, escalation: LEVELS, ...spec } });

type Results = Record<string, Partial<DeliveryObservation> & Pick<DeliveryObservation, 'outcome'>>;

/** One pass at `now` with these delivery results (by entry id), on the status as stored. */
function pass(
  inc: Incident,
  now: Date,
  results: Results = {},
  s: IncidentSettings = S,
  extra: Partial<Observations> = {},
): { incident: Incident; plan: Plan } {
  const deliveries = new Map(
    Object.entries(results).map(([id, r]) => [id, { message: `${r.outcome} (${id})`, at: now, ...r }]),
  );
  const plan = run(inc, observations(now, { ...extra, ...(deliveries.size ? { deliveries } : {}) }), s);
  return { incident: withStatus(inc, plan.status), plan };
}

/** Every entry due at `now` answered `outcome`, as the dispatcher would report them. */
function answerDue(
  inc: Incident,
  now: Date,
  outcome: DeliveryObservation['outcome'] = 'delivered',
  s: IncidentSettings = S,
  extra: Partial<Observations> = {},
): { incident: Incident; plan: Plan } {
  const due = dueDeliveries(inc.status?.notifications ?? [], now);
  return pass(inc, now, Object.fromEntries(due.map((e) => [e.id, { outcome }])), s, extra);
}

/** Delivers until nothing is due at `now` (later entries of a receiver wait for its earlier ones). */
function deliverAll(
  inc: Incident,
  now: Date,
  s: IncidentSettings = S,
  extra: Partial<Observations> = {},
): Incident {
  let current = inc;
  for (let i = 0; i < 20 && dueDeliveries(current.status?.notifications ?? [], now).length; i++)
    current = answerDue(current, now, 'delivered', s, extra).incident;
  return current;
}

/** The ledger as `id state attempts`. */
const ledger = (inc: Incident): string[] =>
  (inc.status?.notifications ?? []).map((e) => `${e.id} ${e.state} ${e.attempts}`);
const entry = (inc: Incident, id: string): LedgerEntry | undefined =>
  inc.status?.notifications?.find((e) => e.id === id);
const timelineOf = (inc: Incident, type: string): string[] =>
  (inc.status?.timeline ?? []).filter((t) => t.type === type).map((t) => t.message);

/** Escalated at +1m, level 1 recorded. */
const escalated = (spec: Partial<IncidentSpec> = {}, s = S) => pass(manual(spec), at(MINUTE), {}, s);
/** Escalated at +1m and level 1 delivered at +1m. */
const told = (spec: Partial<IncidentSpec> = {}, s = S) =>
  deliverAll(escalated(spec, s).incident, at(MINUTE), s);

/** What the status page says, one update posted at +minutes. */
const publicUpdate = (minutes: number): IncidentSpec['public'] => ({
  title: 'Checkout errors',
  updates: [{ time: iso(minutes * MINUTE), status: 'investigating', message: 'We are looking into it.' }],
});

const update = (minutes: number, message = `update at +${minutes}m`): IncidentUpdate => ({
  time: iso(minutes * MINUTE),
  author: 'alice',
  message,
});

describe('the delivery ledger', () => {
  it('records every (receiver, event) Pending, before anything is sent, with a stable id', () => {
    const { incident: inc, plan } = escalated();
    expect(inc.status?.notifications).toEqual([
      {
        id: 'L1:oncall',
        receiver: 'oncall',
        event: 'trigger',
        state: 'Pending',
        attempts: 0,
        recordedAt: iso(MINUTE),
      },
      {
        id: 'L1:channel',
        receiver: 'channel',
        event: 'trigger',
        state: 'Pending',
        attempts: 0,
        recordedAt: iso(MINUTE),
      },
    ]);
    expect(eventsOf(plan)).toEqual(['Normal Open', 'Warning Escalated', 'Normal EscalationLevel']);
    expect(timelineOf(inc, 'EscalationLevel')).toEqual(['level 1 notified: oncall, channel']);
    // The same pass again records nothing new: ids are the idempotence.
    expect(ledger(pass(inc, at(MINUTE + SECOND)).incident)).toEqual(ledger(inc));
  });

  it('marks a delivered entry with its try, time and message; the page counts as notified', () => {
    const { incident: inc } = pass(escalated().incident, at(MINUTE + 2 * SECOND), {
      'L1:oncall': { outcome: 'delivered', message: 'pagerduty receiver "oncall": accepted (202)' },
      'L1:channel': { outcome: 'skipped', message: 'nothing to send' },
    });
    expect(entry(inc, 'L1:oncall')).toEqual({
      id: 'L1:oncall',
      receiver: 'oncall',
      event: 'trigger',
      state: 'Delivered',
      attempts: 1,
      recordedAt: iso(MINUTE),
      deliveredAt: iso(MINUTE + 2 * SECOND),
      message: 'pagerduty receiver "oncall": accepted (202)',
    });
    expect(entry(inc, 'L1:channel')?.state).toBe('Delivered');
    expect(inc.status?.escalation?.notifiedReceivers).toEqual(['oncall', 'channel']);
  });

  it.each([
    { name: 'first retry', before: 0, retryAfterMs: undefined, delayMs: 2 * SECOND },
    { name: 'second retry doubles', before: 1, retryAfterMs: undefined, delayMs: 4 * SECOND },
    { name: 'fifth retry', before: 4, retryAfterMs: undefined, delayMs: 32 * SECOND },
    { name: 'sixth retry hits the cap', before: 5, retryAfterMs: undefined, delayMs: 60 * SECOND },
    { name: 'capped from then on', before: 15, retryAfterMs: undefined, delayMs: 60 * SECOND },
    { name: 'Retry-After above the backoff wins', before: 0, retryAfterMs: 7 * SECOND, delayMs: 7 * SECOND },
    { name: 'Retry-After is a floor, not a cap', before: 3, retryAfterMs: 1 * SECOND, delayMs: 16 * SECOND },
    { name: 'Retry-After beyond the cap', before: 15, retryAfterMs: 120 * SECOND, delayMs: 120 * SECOND },
    // A receiver's Retry-After: 99999999999999 would put the next try past what a Date can hold.
    {
      name: 'a huge Retry-After is held to the ceiling',
      before: 0,
      retryAfterMs: 99999999999999 * SECOND,
      delayMs: MAX_RETRY_AFTER_MS,
    },
    {
      name: 'a non-finite Retry-After counts as none',
      before: 0,
      retryAfterMs: Number.POSITIVE_INFINITY,
      delayMs: 2 * SECOND,
    },
  ])('retry with backoff: $name', ({ before, retryAfterMs, delayMs }) => {
    const base = escalated().incident;
    const notifications = (base.status?.notifications ?? []).map((e) =>
      e.id === 'L1:oncall' ? { ...e, attempts: before } : e,
    );
    const inc = withStatus(base, { ...base.status, notifications });
    const now = at(2 * MINUTE);
    const { incident: after, plan } = pass(inc, now, {
      'L1:oncall': {
        outcome: 'retry',
        message: 'PagerDuty answered 500',
        ...(retryAfterMs ? { retryAfterMs } : {}),
      },
    });
    expect(entry(after, 'L1:oncall')).toMatchObject({
      state: 'Pending',
      attempts: before + 1,
      nextAttemptAt: new Date(now.getTime() + delayMs).toISOString(),
      message: 'PagerDuty answered 500',
    });
    // Not due before its time, due at it; and the incident wakes up for it.
    expect(
      dueDeliveries(after.status?.notifications ?? [], new Date(now.getTime() + delayMs - 1)).map(
        (e) => e.id,
      ),
    ).toEqual(['L1:channel']);
    expect(
      dueDeliveries(after.status?.notifications ?? [], new Date(now.getTime() + delayMs)).map((e) => e.id),
    ).toEqual(['L1:oncall', 'L1:channel']);
    expect(plan.requeueAfterMs).toBeLessThanOrEqual(delayMs);
  });

  it('a failure retrying cannot help is final: Failed, with a NotificationFailed Event, never due again', () => {
    const message = 'pagerduty receiver "oncall": Secret shop/pd has no key routing-key (the routing key)';
    const { incident: inc, plan } = pass(escalated().incident, at(2 * MINUTE), {
      'L1:oncall': { outcome: 'failed', message },
    });
    expect(entry(inc, 'L1:oncall')).toMatchObject({ state: 'Failed', attempts: 1, message });
    expect(entry(inc, 'L1:oncall')).not.toHaveProperty('nextAttemptAt');
    expect(eventsOf(plan)).toEqual(['Warning NotificationFailed']);
    expect(timelineOf(inc, 'NotificationFailed')).toEqual([`oncall (trigger): ${message}`]);
    expect(dueDeliveries(inc.status?.notifications ?? [], at(HOUR)).map((e) => e.id)).toEqual(['L1:channel']);
    // The next pass reports nothing again.
    expect(eventsOf(pass(inc, at(3 * MINUTE)).plan)).toEqual([]);
  });

  it(`gives up after ${DELIVERY_RETRY.maxAttempts} tries`, () => {
    let inc = escalated().incident;
    let now = at(MINUTE);
    for (let i = 1; i < DELIVERY_RETRY.maxAttempts; i++) {
      inc = pass(inc, now, { 'L1:oncall': { outcome: 'retry', message: 'connection refused' } }).incident;
      now = new Date(entry(inc, 'L1:oncall')?.nextAttemptAt ?? '');
    }
    expect(entry(inc, 'L1:oncall')).toMatchObject({
      state: 'Pending',
      attempts: DELIVERY_RETRY.maxAttempts - 1,
    });
    // 2 s doubling to the 1 min cap: about a quarter of an hour of retries in all.
    expect(now.getTime() - at(MINUTE).getTime()).toBe((2 + 4 + 8 + 16 + 32 + 60 * 14) * SECOND);
    const last = pass(inc, now, { 'L1:oncall': { outcome: 'retry', message: 'connection refused' } });
    expect(entry(last.incident, 'L1:oncall')).toMatchObject({
      state: 'Failed',
      attempts: DELIVERY_RETRY.maxAttempts,
      message: `gave up after ${DELIVERY_RETRY.maxAttempts} tries: connection refused`,
    });
    expect(eventsOf(last.plan)).toContain('Warning NotificationFailed');
  });

  it('ignores a result for an entry that is no longer Pending (a late duplicate)', () => {
    const inc = told();
    const again = pass(inc, at(2 * MINUTE), { 'L1:oncall': { outcome: 'failed', message: 'late' } });
    expect(entry(again.incident, 'L1:oncall')).toEqual(entry(inc, 'L1:oncall'));
    expect(again.plan.events).toEqual([]);
  });
});

describe('escalation levels', () => {
  it('level 1 on escalation; the next level is due at the missed response deadline, before its own delay', () => {
    const { incident: inc } = escalated();
    expect(inc.status?.escalation).toEqual({
      level: 1,
      reason: 'no actions are given and no policy applies: people must act',
      startedAt: iso(MINUTE),
      nextEscalationAt: iso(P1_RESPONSE),
    });
  });

  it.each<{ name: string; after: string; severity: Severity; due: number }>([
    { name: 'its delay comes first', after: '5m', severity: 'P1', due: MINUTE + 5 * MINUTE },
    { name: 'the response deadline comes first', after: '30m', severity: 'P1', due: P1_RESPONSE },
    {
      name: 'P3 response target (2h) after its delay',
      after: '30m',
      severity: 'P3',
      due: 31 * MINUTE,
    },
  ])('the next level: $name', ({ after, severity, due }) => {
    const escalation: Escalation = {
      levels: [
        { after: '0s', receivers: [pager, chat] },
        { after, receivers: [lead, hook] },
      ],
    };
    const inc = told({ severity, escalation });
    expect(inc.status?.escalation?.nextEscalationAt).toBe(iso(due));
    const before = pass(inc, new Date(at(due).getTime() - 1));
    expect(before.incident.status?.escalation?.level).toBe(1);
    expect(before.plan.requeueAfterMs).toBe(1);
    const { incident: next, plan } = pass(inc, at(due));
    expect(next.status?.escalation).toMatchObject({ level: 2 });
    expect(next.status?.escalation).not.toHaveProperty('nextEscalationAt');
    expect(ledger(next).slice(2)).toEqual(['L2:lead Pending 0', 'L2:hook Pending 0']);
    expect(eventsOf(plan)).toContain('Normal EscalationLevel');
    expect(timelineOf(next, 'EscalationLevel')).toEqual([
      'level 1 notified: oncall, channel',
      'level 2 notified: lead, hook',
    ]);
  });

  it('a level notified after the response deadline passed waits for its own delay', () => {
    // Escalated at +20m, past the 15 min response deadline: level 2 comes 30 min after that.
    const inc = deliverAll(pass(manual(), at(20 * MINUTE)).incident, at(20 * MINUTE));
    expect(inc.status?.escalation?.nextEscalationAt).toBe(iso(50 * MINUTE));
  });

  it('walks every level, one after the other, and stops after the last', () => {
    const three: Escalation = {
      levels: [
        { after: '0s', receivers: [pager] },
        { after: '20m', receivers: [lead] },
        { after: '40m', receivers: [hook] },
      ],
    };
    let inc = told({ escalation: three });
    inc = deliverAll(pass(inc, at(P1_RESPONSE)).incident, at(P1_RESPONSE));
    expect(inc.status?.escalation).toMatchObject({ level: 2, nextEscalationAt: iso(41 * MINUTE) });
    inc = deliverAll(pass(inc, at(41 * MINUTE)).incident, at(41 * MINUTE));
    expect(inc.status?.escalation?.level).toBe(3);
    expect(inc.status?.escalation).not.toHaveProperty('nextEscalationAt');
    const later = pass(inc, at(5 * HOUR)).incident;
    expect(later.status?.escalation?.level).toBe(3);
    expect(ledger(later).filter((e) => e.startsWith('L'))).toEqual(ledger(inc));
    expect(inc.status?.escalation?.notifiedReceivers).toEqual(['oncall', 'lead', 'hook']);
  });

  it('no levels anywhere: the incident escalates and nobody is told', () => {
    const { incident: inc } = pass(manual({ escalation: undefined }), at(MINUTE));
    expect(inc.status?.phase).toBe('Escalated');
    expect(inc.status?.notifications).toBeUndefined();
    expect(inc.status?.escalation?.level).toBe(0);
  });

  it("the install's default levels for the severity apply when the incident and its policy name none", () => {
    const s = settings({ escalationDefaults: { P2: { levels: [{ after: '0s', receivers: [hook] }] } } });
    const p2 = pass(manual({ escalation: undefined, severity: 'P2' }), at(MINUTE), {}, s).incident;
    expect(ledger(p2)).toEqual(['L1:hook Pending 0']);
    const p1 = pass(manual({ escalation: undefined }), at(MINUTE), {}, s).incident;
    expect(ledger(p1)).toEqual([]);
  });

  describe('heads-up while automation runs', () => {
    /** A restart under way since +1m (the rollout has not completed). */
    const remediating = (severity: Severity = 'P1', s = S) =>
      reconcile(
        incident({ spec: { severity, escalation: LEVELS } }),
        observations(at(MINUTE), { target: target(deployment({ rollout: 'progressing' })) }),
        s,
      ).incident;
    /** The workload as the restart left it: the attempt's marker on it, the rollout as given. */
    const restarted = (inc: Incident, rollout: 'progressing' | 'complete' = 'progressing') => ({
      target: target(deployment({ rollout, templateMarker: markerOf(inc, 'attempt-1') })),
    });
    const toldEarly = () => {
      const inc = remediating();
      return deliverAll(inc, at(MINUTE), S, restarted(inc));
    };

    it.each<{ severity: Severity; headsUp: boolean }>([
      { severity: 'P1', headsUp: true },
      { severity: 'P2', headsUp: true },
      { severity: 'P3', headsUp: false },
      { severity: 'P4', headsUp: false },
    ])('$severity: heads-up $headsUp', ({ severity, headsUp }) => {
      const inc = remediating(severity);
      expect(inc.status?.phase).toBe('Remediating');
      expect(ledger(inc)).toEqual(headsUp ? ['L1:oncall Pending 0', 'L1:channel Pending 0'] : []);
      expect(inc.status?.escalation?.level).toBe(headsUp ? 1 : 0);
      // A heads-up notifies no further level: those wait for the escalation.
      expect(inc.status?.escalation).not.toHaveProperty('nextEscalationAt');
    });

    it('no heads-up for a severity the install leaves out', () => {
      expect(ledger(remediating('P1', settings({ headsUpSeverities: ['P2'] })))).toEqual([]);
    });

    it('past the response deadline during automation: still no next level before the escalation', () => {
      const inc = toldEarly();
      const later = pass(inc, at(P1_RESPONSE + MINUTE), {}, S, restarted(inc)).incident;
      expect(later.status?.phase).toBe('Remediating');
      expect(later.status?.escalation?.level).toBe(1);
    });

    it('a later escalation tells the receivers told early that automation could not fix it', () => {
      let inc = toldEarly();
      // The rollout never completes: the attempt times out at +6m and, with no action left, escalates.
      const s = settings({
        ...S,
        defaultGuards: { maxAttempts: 1, cooldownMs: 0, maxPerHour: 10 },
      });
      inc = pass(inc, at(6 * MINUTE + SECOND), {}, s, restarted(inc)).incident;
      expect(inc.status?.phase).toBe('Escalated');
      expect(inc.status?.escalation).toMatchObject({ level: 1, startedAt: iso(6 * MINUTE + SECOND) });
      // PagerDuty keeps its open alert (it has no update event); the channel hears why.
      expect(ledger(inc)).toEqual([
        'L1:oncall Delivered 1',
        'L1:channel Delivered 1',
        'escalated:channel Pending 0',
      ]);
      // Level 1 was notified before the response deadline, which is still ahead: level 2 then.
      expect(inc.status?.escalation?.nextEscalationAt).toBe(iso(P1_RESPONSE));
    });

    it('automation fixes it: the receivers told early get the resolution', () => {
      const inc = toldEarly();
      const resolved = pass(inc, at(3 * MINUTE), {}, S, restarted(inc, 'complete')).incident;
      expect(resolved.status?.phase).toBe('Resolved');
      expect(ledger(resolved)).toEqual([
        'L1:oncall Delivered 1',
        'L1:channel Delivered 1',
        'resolve:oncall Pending 0',
        'resolve:channel Pending 0',
      ]);
    });

    it('a heads-up whose receivers all failed does not page the next level while automation runs', () => {
      const inc = remediating();
      const after = pass(
        inc,
        at(2 * MINUTE),
        {
          'L1:oncall': { outcome: 'failed', message: 'one' },
          'L1:channel': { outcome: 'failed', message: 'two' },
        },
        S,
        restarted(inc),
      ).incident;
      expect(after.status?.phase).toBe('Remediating');
      expect(after.status?.escalation?.level).toBe(1);
      expect(conditionsOf(after.status ?? {})).toMatchObject({ NotificationFailed: 'True/LevelFailed' });
    });
  });

  describe('fall-through', () => {
    it('every receiver of a level failed: NotificationFailed, and the next level at once', () => {
      const { incident: inc, plan } = pass(escalated().incident, at(2 * MINUTE), {
        'L1:oncall': { outcome: 'failed', message: 'pagerduty receiver "oncall": Secret shop/pd not found' },
        'L1:channel': {
          outcome: 'failed',
          message: 'slack receiver "channel": Slack answered 404 no_service',
        },
      });
      expect(inc.status?.escalation?.level).toBe(2);
      expect(ledger(inc)).toEqual([
        'L1:oncall Failed 1',
        'L1:channel Failed 1',
        'L2:lead Pending 0',
        'L2:hook Pending 0',
      ]);
      expect(conditionsOf(inc.status ?? {})).toMatchObject({ NotificationFailed: 'True/LevelFailed' });
      expect(conditionMessage(inc.status ?? {}, 'NotificationFailed')).toBe(
        'every receiver of level 1 failed: pagerduty receiver "oncall": Secret shop/pd not found; slack receiver "channel": Slack answered 404 no_service; level 2 notified',
      );
      expect(eventsOf(plan)).toEqual([
        'Warning NotificationFailed',
        'Warning NotificationFailed',
        'Normal EscalationLevel',
      ]);
      // Level 2 counts from the escalation as usual.
      expect(inc.status?.escalation).not.toHaveProperty('nextEscalationAt');
    });

    it('one receiver of the level still delivered: no fall-through, no condition', () => {
      const { incident: inc } = pass(escalated().incident, at(2 * MINUTE), {
        'L1:oncall': { outcome: 'failed', message: 'refused' },
        'L1:channel': { outcome: 'delivered', message: 'ok' },
      });
      expect(inc.status?.escalation).toMatchObject({ level: 1, nextEscalationAt: iso(P1_RESPONSE) });
      expect(conditionsOf(inc.status ?? {})).not.toHaveProperty('NotificationFailed');
    });

    it('one failed and one still retrying: no fall-through yet', () => {
      const { incident: inc } = pass(escalated().incident, at(2 * MINUTE), {
        'L1:oncall': { outcome: 'failed', message: 'refused' },
        'L1:channel': { outcome: 'retry', message: '500' },
      });
      expect(inc.status?.escalation?.level).toBe(1);
    });

    it('the last level failed too: the condition stays, and names both levels', () => {
      let inc = pass(escalated().incident, at(2 * MINUTE), {
        'L1:oncall': { outcome: 'failed', message: 'one' },
        'L1:channel': { outcome: 'failed', message: 'two' },
      }).incident;
      inc = pass(inc, at(3 * MINUTE), {
        'L2:lead': { outcome: 'failed', message: 'three' },
        'L2:hook': { outcome: 'failed', message: 'four' },
      }).incident;
      expect(inc.status?.escalation?.level).toBe(2);
      expect(conditionsOf(inc.status ?? {})).toMatchObject({ NotificationFailed: 'True/LevelFailed' });
      expect(conditionMessage(inc.status ?? {}, 'NotificationFailed')).toBe(
        'every receiver of level 1 failed: one; two; level 2 notified; every receiver of level 2 failed: three; four; no level left',
      );
    });
  });
});

describe('acknowledgement and resolution', () => {
  it('acknowledge stops escalation and tells every receiver told (not the ones that failed, nor the next level)', () => {
    let inc = pass(escalated().incident, at(2 * MINUTE), {
      'L1:oncall': { outcome: 'delivered', message: 'ok' },
      'L1:channel': { outcome: 'failed', message: 'gone' },
    }).incident;
    const { incident: acked, plan } = pass(withSpec(inc, { acknowledgedBy: 'alice' }), at(5 * MINUTE));
    expect(acked.status?.phase).toBe('Acknowledged');
    expect(ledger(acked)).toEqual(['L1:oncall Delivered 1', 'L1:channel Failed 1', 'ack:oncall Pending 0']);
    expect(acked.status?.escalation).not.toHaveProperty('nextEscalationAt');
    expect(eventsOf(plan)).toEqual(['Normal Acknowledged']);
    // Past the response deadline and level 2's delay: nobody else is paged.
    inc = deliverAll(acked, at(5 * MINUTE));
    const later = pass(inc, at(2 * HOUR)).incident;
    expect(later.status?.escalation?.level).toBe(1);
    expect(ledger(later)).toEqual(['L1:oncall Delivered 1', 'L1:channel Failed 1', 'ack:oncall Delivered 1']);
  });

  it('acknowledged before anyone was told: nothing to send', () => {
    const inc = pass(manual({ acknowledgedBy: 'alice' }), at(MINUTE)).incident;
    expect(inc.status?.phase).toBe('Acknowledged');
    expect(ledger(inc)).toEqual([]);
  });

  it('resolution goes to every receiver told, at every level; a pending page goes out before it', () => {
    let inc = told();
    inc = pass(inc, at(P1_RESPONSE)).incident; // level 2 recorded, not yet sent
    inc = pass(inc, at(P1_RESPONSE + SECOND), { 'L2:lead': { outcome: 'delivered' } }).incident;
    inc = pass(withSpec(inc, { acknowledgedBy: 'bob' }), at(20 * MINUTE)).incident;
    inc = pass(
      withSpec(inc, { resolution: { resolvedBy: 'bob', note: 'rolled back' } }),
      at(30 * MINUTE),
    ).incident;
    expect(inc.status?.phase).toBe('Resolved');
    expect(ledger(inc)).toEqual([
      'L1:oncall Delivered 1',
      'L1:channel Delivered 1',
      'L2:lead Delivered 1',
      'L2:hook Pending 0',
      'ack:oncall Pending 0',
      'ack:channel Pending 0',
      'ack:lead Pending 0',
      'ack:hook Pending 0',
      'resolve:oncall Pending 0',
      'resolve:channel Pending 0',
      'resolve:lead Pending 0',
      'resolve:hook Pending 0',
    ]);
    // Per receiver in order: the hook's page first, then its acknowledge, then its resolve.
    const due = (i: Incident) =>
      dueDeliveries(i.status?.notifications ?? [], at(30 * MINUTE)).map((e) => e.id);
    expect(due(inc)).toEqual(['L2:hook', 'ack:oncall', 'ack:channel', 'ack:lead']);
    inc = answerDue(inc, at(30 * MINUTE)).incident;
    expect(due(inc)).toEqual(['ack:hook', 'resolve:oncall', 'resolve:channel', 'resolve:lead']);
    inc = deliverAll(inc, at(30 * MINUTE));
    expect(inc.status?.notifications?.every((e) => e.state === 'Delivered')).toBe(true);
    expect(ledger(pass(inc, at(HOUR)).incident)).toEqual(ledger(inc));
  });
});

describe("people's updates and the update cadence", () => {
  it("each person's update goes to the told receivers that take updates (not PagerDuty), and resets the cadence", () => {
    let inc = pass(withSpec(told(), { acknowledgedBy: 'alice' }), at(5 * MINUTE)).incident;
    inc = deliverAll(inc, at(5 * MINUTE));
    expect(inc.status?.sla?.nextUpdateDueAt).toBe(iso(P1_UPDATE_EVERY));
    inc = pass(withSpec(inc, { updates: [update(10)] }), at(10 * MINUTE)).incident;
    expect(ledger(inc).slice(4)).toEqual(['u0:channel Pending 0']);
    expect(inc.status?.sla?.nextUpdateDueAt).toBe(iso(10 * MINUTE + P1_UPDATE_EVERY));
    inc = pass(withSpec(inc, { updates: [update(10), update(12)] }), at(12 * MINUTE)).incident;
    expect(ledger(inc).slice(4)).toEqual(['u0:channel Pending 0', 'u1:channel Pending 0']);
    expect(inc.status?.sla?.nextUpdateDueAt).toBe(iso(12 * MINUTE + P1_UPDATE_EVERY));
    // No reminder at +30m: the cadence now runs from the last update.
    const quiet = pass(inc, at(30 * MINUTE)).incident;
    expect(ledger(quiet)).toEqual(ledger(inc));
  });

  it('an update reminder at the cadence, to the told receivers that take updates, once per due time', () => {
    let inc = told({ escalation: { levels: [{ after: '0s', receivers: [pager, chat, hook] }] } });
    const { incident: due, plan } = pass(inc, at(P1_UPDATE_EVERY));
    expect(ledger(due).slice(3)).toEqual([
      `due-${iso(P1_UPDATE_EVERY)}:channel Pending 0`,
      `due-${iso(P1_UPDATE_EVERY)}:hook Pending 0`,
    ]);
    expect(eventsOf(plan)).toContain('Normal UpdateDue');
    expect(due.status?.sla?.nextUpdateDueAt).toBe(iso(2 * P1_UPDATE_EVERY));
    expect(ledger(pass(due, at(P1_UPDATE_EVERY + MINUTE)).incident)).toEqual(ledger(due));
    inc = pass(due, at(2 * P1_UPDATE_EVERY)).incident;
    expect(ledger(inc).filter((e) => e.startsWith('due-'))).toHaveLength(4);
  });

  it('no reminder when the pass after the due time comes late and a person posted in between', () => {
    // Due at +30m; the operator was down from +28m; alice posted at +29m; the next pass is at +31m.
    const inc = pass(told(), at(28 * MINUTE)).incident;
    expect(inc.status?.sla?.nextUpdateDueAt).toBe(iso(P1_UPDATE_EVERY));
    const { incident: late, plan } = pass(withSpec(inc, { updates: [update(29)] }), at(31 * MINUTE));
    expect(eventsOf(plan)).not.toContain('Normal UpdateDue');
    expect(ledger(late).filter((e) => e.startsWith('due-'))).toEqual([]);
    expect(late.status?.sla?.nextUpdateDueAt).toBe(iso(29 * MINUTE + P1_UPDATE_EVERY));
  });

  it('no reminder once resolved; the cadence is gone', () => {
    let inc = told();
    inc = pass(withSpec(inc, { resolution: { resolvedBy: 'alice' } }), at(10 * MINUTE)).incident;
    expect(inc.status?.sla).not.toHaveProperty('nextUpdateDueAt');
    const later = pass(inc, at(3 * P1_UPDATE_EVERY)).incident;
    expect(later.status?.notifications?.filter((e) => e.id.startsWith('due-'))).toEqual([]);
  });

  it('an update posted before anyone was told reaches the receivers once they are', () => {
    const inc = told({ updates: [update(0, 'investigating')] });
    expect(ledger(inc)).toContain('u0:channel Delivered 1');
  });
});

describe('the checklist', () => {
  const items = (inc: Incident) =>
    Object.fromEntries((inc.status?.checklist ?? []).map((i) => [i.name, `${i.done} ${i.detail ?? ''}`]));

  it('an escalated P1 nobody has taken', () => {
    expect(items(escalated().incident)).toEqual({
      Acknowledged: 'false nobody has taken it: kubectl incident ack',
      SeveritySet: 'true P1',
      RolesAssigned: 'false no incident commander: kubectl incident assign --commander',
      StakeholdersNotified: 'false no receiver notified yet; 0 public update(s)',
      ServiceRestored: 'false phase Escalated',
      PostMortemScheduled: 'false decided at resolution',
    });
  });

  it('worked through: acknowledged, roles, told, public update, resolved, post-mortem recorded', () => {
    let inc = told({ roles: { incidentCommander: 'alice', scribe: 'carol' }, public: publicUpdate(5) });
    inc = pass(withSpec(inc, { acknowledgedBy: 'alice' }), at(10 * MINUTE)).incident;
    inc = pass(withSpec(inc, { resolution: { resolvedBy: 'alice' } }), at(20 * MINUTE)).incident;
    inc = pass(
      withSpec(inc, { postMortem: { url: 'https://wiki.example.com/pm/1', completed: false } }),
      at(21 * MINUTE),
    ).incident;
    expect(items(inc)).toEqual({
      Acknowledged: 'true by alice',
      SeveritySet: 'true P1',
      RolesAssigned: 'true incidentCommander: alice, scribe: carol',
      StakeholdersNotified: 'true notified: oncall, channel; 1 public update(s)',
      ServiceRestored: `true resolved at ${iso(20 * MINUTE)}`,
      PostMortemScheduled: 'true https://wiki.example.com/pm/1',
    });
  });

  it('resolved with a post-mortem due and none recorded', () => {
    const inc = pass(withSpec(told(), { resolution: { resolvedBy: 'alice' } }), at(20 * MINUTE)).incident;
    expect(items(inc).PostMortemScheduled).toBe(
      `false due ${iso(20 * MINUTE + 48 * HOUR)}: kubectl incident postmortem --url`,
    );
  });
});

describe('the status page rule', () => {
  it.each<{ severity: Severity; applies: boolean }>([
    { severity: 'P1', applies: true },
    { severity: 'P2', applies: true },
    { severity: 'P3', applies: false },
  ])(
    '$severity: StatusPageUpdateDue 15 minutes after opening without a public update: $applies',
    ({ severity, applies }) => {
      // The rule is on by default; acknowledged at +5m, so no second level joins in at +15m.
      const rule = settings();
      const inc = pass(
        withSpec(told({ severity }, rule), { acknowledgedBy: 'alice' }),
        at(5 * MINUTE),
        {},
        rule,
      ).incident;
      const before = pass(inc, at(15 * MINUTE - 1), {}, rule).incident;
      expect(conditionsOf(before.status ?? {})).not.toHaveProperty('StatusPageUpdateDue');
      const { incident: due, plan } = pass(inc, at(15 * MINUTE), {}, rule);
      if (!applies) {
        expect(conditionsOf(due.status ?? {})).not.toHaveProperty('StatusPageUpdateDue');
        return;
      }
      expect(conditionsOf(due.status ?? {})).toMatchObject({ StatusPageUpdateDue: 'True/NoPublicUpdate' });
      expect(eventsOf(plan)).toContain('Warning StatusPageUpdateDue');
      // One reminder, to the receivers that take updates.
      expect(ledger(due).filter((e) => e.includes('statuspage'))).toEqual([
        `due-statuspage-${iso(15 * MINUTE)}:channel Pending 0`,
      ]);
      const posted = pass(withSpec(due, { public: publicUpdate(16) }), at(16 * MINUTE), {}, rule).incident;
      expect(conditionsOf(posted.status ?? {})).toMatchObject({
        StatusPageUpdateDue: 'False/PublicUpdatePosted',
      });
      expect(ledger(posted).filter((e) => e.includes('statuspage'))).toHaveLength(1);
    },
  );
});

describe('the post-mortem', () => {
  const resolvedAt = 20 * MINUTE;
  const due = resolvedAt + 48 * HOUR;
  const resolved = () =>
    pass(withSpec(told(), { resolution: { resolvedBy: 'alice', note: 'rollback' } }), at(resolvedAt));

  it('resolution of an escalated P1: required, due 48 h later, the draft asked for once', () => {
    const { incident: inc, plan } = resolved();
    expect(inc.status?.postMortem).toEqual({ required: true, dueAt: iso(due) });
    expect(plan.postMortemDraft).toBe(true);
    const drafted = run(
      inc,
      observations(at(resolvedAt + SECOND), { postMortemDraft: 'checkout-errors-postmortem' }),
    );
    expect(drafted.status.postMortem).toEqual({
      required: true,
      dueAt: iso(due),
      draft: 'checkout-errors-postmortem',
    });
    expect(drafted.postMortemDraft).toBeUndefined();
    expect(
      run(withStatus(inc, drafted.status), observations(at(resolvedAt + 2 * SECOND))).postMortemDraft,
    ).toBeUndefined();
  });

  it('overdue past its due time: PostMortemOverdue and a Warning, once; recording it closes the incident', () => {
    const inc = withStatus(resolved().incident, {
      ...resolved().incident.status,
      postMortem: { required: true, dueAt: iso(due), draft: 'd' },
    });
    const before = run(inc, observations(at(due - 1)));
    expect(conditionsOf(before.status)).not.toHaveProperty('PostMortemOverdue');
    expect(before.requeueAfterMs).toBe(1);
    const { incident: overdue, plan } = pass(inc, at(due));
    expect(conditionsOf(overdue.status ?? {})).toMatchObject({ PostMortemOverdue: 'True/NotRecordedInTime' });
    expect(conditionMessage(overdue.status ?? {}, 'PostMortemOverdue')).toBe(
      `the post-mortem was due ${iso(due)}: record it with kubectl incident postmortem checkout-errors --url URL --completed`,
    );
    expect(eventsOf(plan)).toEqual(['Warning PostMortemOverdue']);
    expect(eventsOf(pass(overdue, at(due + HOUR)).plan)).toEqual([]);
    const { incident: closed, plan: closing } = pass(
      withSpec(overdue, { postMortem: { url: 'https://wiki.example.com/pm/1', completed: true } }),
      at(due + 2 * HOUR),
    );
    expect(closed.status?.phase).toBe('Closed');
    expect(conditionsOf(closed.status ?? {})).toMatchObject({
      PostMortemOverdue: 'False/PostMortemCompleted',
    });
    expect(eventsOf(closing)).toEqual(['Normal Closed']);
  });

  it.each<{ name: string; severity: Severity; required: boolean }>([
    { name: 'a P3 that escalated (nothing to run) needs one', severity: 'P3', required: true },
    { name: 'a P1 that escalated needs one', severity: 'P1', required: true },
  ])('$name', ({ severity, required }) => {
    const inc = pass(manual({ severity, escalation: undefined }), at(MINUTE)).incident;
    const resolvedP = pass(withSpec(inc, { resolution: { resolvedBy: 'alice' } }), at(2 * MINUTE)).incident;
    expect(resolvedP.status?.postMortem?.required).toBe(required);
  });

  it.each<{ severity: Severity; required: boolean }>([
    { severity: 'P1', required: true },
    { severity: 'P2', required: false },
  ])(
    'fixed by automation: $severity needs one: $required (--post-mortem-severities P1)',
    ({ severity, required }) => {
      const s = settings({ ...S, headsUpSeverities: [] });
      const started = reconcile(
        incident({ spec: { severity } }),
        observations(at(MINUTE), { target: target(deployment({ rollout: 'progressing' })) }),
        s,
      ).incident;
      const done = target(deployment({ templateMarker: markerOf(started, 'attempt-1') }));
      const { incident: fixed, plan } = pass(started, at(3 * MINUTE), {}, s, { target: done });
      expect(fixed.status?.phase).toBe('Resolved');
      expect(fixed.status?.postMortem).toEqual(
        required ? { required, dueAt: iso(3 * MINUTE + 48 * HOUR) } : { required },
      );
      expect(plan.postMortemDraft ?? false).toBe(required);
    },
  );
});

describe('the ledger stays bounded without sending anything twice', () => {
  // Four receivers that take updates and a pager: 4 × 100 people's updates overflow the bound.
  const chats = [1, 2, 3, 4].map((n): Receiver => ({ ...chat, name: `channel-${n}` }));
  const five: Escalation = { levels: [{ after: '0s', receivers: [pager, ...chats] }] };

  it("people's updates past the bound: the oldest settled ones make room, none is recorded again", () => {
    let inc = pass(
      withSpec(told({ escalation: five }), { acknowledgedBy: 'alice' }),
      at(2 * MINUTE),
    ).incident;
    inc = deliverAll(inc, at(2 * MINUTE));
    const updates: IncidentUpdate[] = [];
    const sent = new Set<string>();
    let largest = 0;
    for (let i = 0; i < MAX_UPDATES; i++) {
      updates.push(update(3 + i / 10, `update ${i}`));
      const now = at(3 * MINUTE + i * SECOND);
      inc = pass(withSpec(inc, { updates: [...updates] }), now).incident;
      for (const e of dueDeliveries(inc.status?.notifications ?? [], now)) {
        // Every delivery try is of an entry that was never sent before.
        expect(sent.has(e.id)).toBe(false);
        sent.add(e.id);
      }
      inc = deliverAll(inc, now);
      largest = Math.max(largest, inc.status?.notifications?.length ?? 0);
    }
    expect(largest).toBe(MAX_NOTIFICATIONS);
    // Every update reached every receiver that takes updates, once.
    expect([...sent].filter((id) => id.startsWith('u'))).toHaveLength(4 * MAX_UPDATES);
    // The lifecycle entries stay: the resolution still reaches every receiver told.
    inc = pass(withSpec(inc, { resolution: { resolvedBy: 'alice' } }), at(HOUR)).incident;
    const names = ['oncall', ...chats.map((c) => c.name)];
    expect(ledger(inc).filter((e) => /^(L1|ack|resolve):/.test(e))).toEqual([
      ...names.map((n) => `L1:${n} Delivered 1`),
      ...names.map((n) => `ack:${n} Delivered 1`),
      ...names.map((n) => `resolve:${n} Pending 0`),
    ]);
  });

  it('public updates past the bound to status channels: the same, each sent once', () => {
    const channels = [1, 2, 3].map((n): Receiver => ({
      ...chat,
      name: `service-status-${n}`,
      purpose: 'status',
    }));
    let inc = told({ escalation: { levels: [{ after: '0s', receivers: [pager, ...channels] }] } });
    const published: NonNullable<IncidentSpec['public']>['updates'] = [];
    const sent = new Set<string>();
    for (let i = 0; i < MAX_PUBLIC_UPDATES; i++) {
      published.push({ time: iso(2 * MINUTE + i * SECOND), status: 'investigating', message: `public ${i}` });
      const now = at(2 * MINUTE + i * SECOND);
      inc = pass(withSpec(inc, { public: { updates: [...published] } }), now).incident;
      for (const e of dueDeliveries(inc.status?.notifications ?? [], now)) {
        expect(sent.has(e.id)).toBe(false);
        sent.add(e.id);
      }
      inc = deliverAll(inc, now);
      expect(inc.status?.notifications?.length).toBeLessThanOrEqual(MAX_NOTIFICATIONS);
    }
    expect([...sent].filter((id) => id.startsWith('pub'))).toHaveLength(3 * MAX_PUBLIC_UPDATES);
    expect(ledger(inc)).toContain('L1:oncall Delivered 1');
  });
});

describe('a signal that comes back after an automated fix', () => {
  it('pages the receivers told of the first episode again, and resolves them again', () => {
    const startsAt = iso(-MINUTE);
    const alerting = (inc: Incident, recurredAt?: string): Incident => ({
      ...inc,
      metadata: {
        ...inc.metadata,
        ...(recurredAt ? { annotations: { [RECURRED_ANNOTATION]: recurredAt } } : {}),
      },
    });
    const base = incident({
      spec: {
        escalation: LEVELS,
        source: { type: 'alertmanager', alertName: 'CheckoutErrors', startsAt },
      },
    });
    const started = reconcile(
      base,
      observations(at(MINUTE), { target: target(deployment({ rollout: 'progressing' })) }),
      S,
    ).incident;
    const done = { target: target(deployment({ templateMarker: markerOf(started, 'attempt-1') })) };
    let inc = deliverAll(started, at(MINUTE), S, done);
    inc = deliverAll(pass(inc, at(3 * MINUTE), {}, S, done).incident, at(3 * MINUTE), S, done);
    expect(inc.status?.phase).toBe('Resolved');
    expect(ledger(inc)).toEqual([
      'L1:oncall Delivered 1',
      'L1:channel Delivered 1',
      'resolve:oncall Delivered 1',
      'resolve:channel Delivered 1',
    ]);
    // The alert fires again at +20m: the incident reopens, escalated, and people are paged again.
    const back = pass(alerting(inc, iso(20 * MINUTE)), at(20 * MINUTE), {}, S, done).incident;
    expect(back.status?.phase).toBe('Escalated');
    expect(back.status?.escalation?.level).toBe(1);
    expect(ledger(back).slice(4)).toEqual(['r1/L1:oncall Pending 0', 'r1/L1:channel Pending 0']);
    let again = deliverAll(back, at(20 * MINUTE), S, done);
    // Its next level counts from this escalation (the response deadline passed in the first).
    expect(again.status?.escalation).toMatchObject({
      startedAt: iso(20 * MINUTE),
      nextEscalationAt: iso(50 * MINUTE),
    });
    again = pass(
      withSpec(again, { resolution: { resolvedBy: 'alice' } }),
      at(30 * MINUTE),
      {},
      S,
      done,
    ).incident;
    expect(ledger(again).slice(6)).toEqual(['r1/resolve:oncall Pending 0', 'r1/resolve:channel Pending 0']);
  });
});

describe('dueDeliveries', () => {
  const e = (
    id: string,
    receiver: string,
    state: LedgerEntry['state'],
    nextAttemptAt?: string,
  ): LedgerEntry => ({
    id,
    receiver,
    event: id.startsWith('resolve') ? 'resolve' : id.startsWith('ack') ? 'acknowledge' : 'trigger',
    state,
    attempts: nextAttemptAt ? 1 : 0,
    recordedAt: iso(0),
    ...(nextAttemptAt ? { nextAttemptAt } : {}),
  });

  it.each([
    {
      name: 'never a resolve before its receiver\u2019s trigger, even while the trigger waits for its retry',
      entries: [e('L1:a', 'a', 'Pending', iso(MINUTE)), e('resolve:a', 'a', 'Pending')],
      due: [],
    },
    {
      name: 'the trigger due, the resolve after it',
      entries: [
        e('L1:a', 'a', 'Pending', iso(0)),
        e('ack:a', 'a', 'Pending'),
        e('resolve:a', 'a', 'Pending'),
      ],
      due: ['L1:a'],
    },
    {
      name: 'receivers are independent of each other',
      entries: [
        e('L1:a', 'a', 'Pending', iso(MINUTE)),
        e('L1:b', 'b', 'Delivered'),
        e('resolve:a', 'a', 'Pending'),
        e('resolve:b', 'b', 'Pending'),
      ],
      due: ['resolve:b'],
    },
    {
      name: 'settled entries are never due; a failed trigger does not hold back later entries',
      entries: [e('L1:a', 'a', 'Failed'), e('L1:b', 'b', 'Delivered'), e('ack:a', 'a', 'Pending')],
      due: ['ack:a'],
    },
    {
      name: 'in ledger order across receivers',
      entries: [e('L1:b', 'b', 'Pending'), e('L1:a', 'a', 'Pending')],
      due: ['L1:b', 'L1:a'],
    },
  ])('$name', ({ entries, due }) => {
    expect(dueDeliveries(entries, at(10 * SECOND)).map((x) => x.id)).toEqual(due);
  });
});
