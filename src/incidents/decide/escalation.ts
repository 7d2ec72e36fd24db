// The human half, as deadlines and a delivery ledger on the status: which receivers must hear what,
// and when. Every (receiver, event) is recorded here, before anything is sent, as a Pending entry
// of status.notifications with a stable id; the reconciler sends due entries and hands their
// results back as observations, which this module applies (delivered, retried with bounded
// exponential backoff, or failed). Escalation levels follow the incident: level 1 when it is
// escalated (or earlier, as a heads-up, for the severities that page at once), the next level when
// its delay or the response deadline passes unacknowledged or when every receiver of a level failed;
// acknowledgement stops escalation and resolution tells every receiver that was told.
import {
  MAX_NOTIFICATIONS,
  type IncidentStatus,
  type NotificationEvent,
  type Phase,
} from '../../api/incident.ts';
import type { Escalation, Receiver } from '../../api/remediation.ts';

type EscalationLevel = Escalation['levels'][number];
import { parseDuration } from '../../api/durations.ts';
import { MAX_RETRY_AFTER_MS, RECEIVER_EVENTS } from '../../escalation/delivery.ts';
import type { Decision } from './decision.ts';

export type LedgerEntry = NonNullable<IncidentStatus['notifications']>[number];

/** A delivery try's outcome, as the reconciler observed it since the last status write. */
export interface DeliveryObservation {
  outcome: 'delivered' | 'retry' | 'failed' | 'skipped';
  message: string;
  retryAfterMs?: number;
  at: Date;
}

/** Retries: 2 s doubling to 1 min, for at most 20 tries (about a quarter of an hour in all). */
export const DELIVERY_RETRY = { baseMs: 2_000, maxMs: 60_000, maxAttempts: 20 } as const;
const MAX_ENTRIES = MAX_NOTIFICATIONS;
const CLOSED: readonly Phase[] = ['Resolved', 'Closed'];

/** The levels that apply: the incident's own, its policy's, or the install's default for its severity. */
export function levelsOf(d: Pick<Decision, 'incident' | 'obs' | 'settings'>): EscalationLevel[] {
  const { incident, obs, settings } = d;
  return (
    incident.spec.escalation?.levels ??
    obs.policy?.spec.escalation?.levels ??
    settings.escalationDefaults[incident.spec.severity]?.levels ??
    []
  );
}

/** The receiver an entry goes to, by name, across the levels. */
export function receiverNamed(levels: readonly EscalationLevel[], name: string): Receiver | undefined {
  for (const level of levels) {
    const receiver = level.receivers.find((r) => r.name === name);
    if (receiver) return receiver;
  }
  return undefined;
}

/**
 * A signal that comes back after an automated fix starts a new episode: its pages, acknowledgement
 * and resolution are entries of their own, their ids prefixed `r<recurrence>/` (none for the first).
 */
const EPISODE = /^(r[0-9]+\/)?/;
const episodeOf = (id: string): string => EPISODE.exec(id)?.[1] ?? '';
/** The id without its episode: what the entry is (`L1:oncall`, `resolve:oncall`, `u3:channel`). */
export const withoutEpisode = (id: string): string => id.slice(episodeOf(id).length);

/** The level (1-based) of a trigger entry, from its id `[r<n>/]L<level>:<receiver>`. */
export function levelOfEntry(entry: Pick<LedgerEntry, 'id' | 'event'>): number | undefined {
  const match = /^L([0-9]+):/.exec(withoutEpisode(entry.id));
  return entry.event === 'trigger' && match ? Number(match[1]) : undefined;
}

/**
 * The index of the update an entry carries, from its id: `u<index>:<receiver>` for a person's
 * update, `pub<index>:<receiver>` for a public one (a receiver gets one kind or the other).
 */
export function updateIndexOf(entry: Pick<LedgerEntry, 'id'>): number | undefined {
  const match = /^(?:u|pub)([0-9]+):/.exec(entry.id);
  return match ? Number(match[1]) : undefined;
}

class Ledger {
  private readonly d: Decision;
  readonly levels: EscalationLevel[];
  /** The current episode's id prefix. */
  readonly episode: string;

  constructor(d: Decision) {
    this.d = d;
    this.levels = levelsOf(d);
    const recurrences = d.status.recurrences ?? 0;
    this.episode = recurrences > 0 ? `r${recurrences}/` : '';
  }

  get entries(): LedgerEntry[] {
    return this.d.status.notifications ?? [];
  }

  /** Records an entry once (by id), only for receivers that have this event at all. */
  record(id: string, receiver: Receiver, event: NotificationEvent): void {
    if (!RECEIVER_EVENTS[receiver.type].includes(event)) return;
    if (this.entries.some((e) => e.id === id)) return;
    const entry: LedgerEntry = {
      id,
      receiver: receiver.name,
      event,
      state: 'Pending',
      attempts: 0,
      recordedAt: this.d.now.toISOString(),
    };
    this.d.status.notifications = bounded([...this.entries, entry], this.episode);
  }

  /** Receivers told in this episode: a trigger recorded for them that did not fail for good. */
  told(): Receiver[] {
    const names = new Set(
      this.entries
        .filter((e) => e.event === 'trigger' && e.state !== 'Failed' && episodeOf(e.id) === this.episode)
        .map((e) => e.receiver),
    );
    return [...names].flatMap((name) => receiverNamed(this.levels, name) ?? []);
  }

  /** An event for every receiver that was told (ids `<key>:<receiver>`). */
  tellTold(key: string, event: NotificationEvent): void {
    for (const receiver of this.told()) this.record(`${key}:${receiver.name}`, receiver, event);
  }

  /** An event of this episode's life for every receiver told (escalated, ack, resolve). */
  tellEpisode(key: string, event: NotificationEvent): void {
    this.tellTold(`${this.episode}${key}`, event);
  }

  /**
   * Updates, each once to every receiver given (`u`: people's updates to those told; `pub`: public
   * updates to the status channels): one older than the last a receiver got is never recorded
   * again (the ledger may have dropped it to stay within its bound).
   */
  tellUpdates(kind: 'u' | 'pub', receivers: readonly Receiver[], count: number): void {
    for (const receiver of receivers) {
      const got = this.entries.filter((e) => e.receiver === receiver.name).map((e) => updateIndexOf(e) ?? -1);
      for (let index = Math.max(-1, ...got) + 1; index < count; index++)
        this.record(`${kind}${index}:${receiver.name}`, receiver, 'update');
    }
  }

  notifyLevel(level: number): void {
    // Status channels are never paged: they get public updates only.
    const receivers = (this.levels[level - 1]?.receivers ?? []).filter((r) => r.purpose !== 'status');
    for (const receiver of receivers)
      this.record(`${this.episode}L${level}:${receiver.name}`, receiver, 'trigger');
    const esc = (this.d.status.escalation ??= { level: 0 });
    esc.level = Math.max(esc.level, level);
    this.d.record('EscalationLevel', `level ${level} notified: ${receivers.map((r) => r.name).join(', ')}`);
  }

  /** The trigger entries of a level, in this episode. */
  level(level: number): LedgerEntry[] {
    return this.entries.filter((e) => levelOfEntry(e) === level && episodeOf(e.id) === this.episode);
  }

  apply(results: ReadonlyMap<string, DeliveryObservation>): void {
    const entries = this.entries.map((entry) => {
      const result = results.get(entry.id);
      if (!result || entry.state !== 'Pending') return entry;
      return settle(entry, result);
    });
    if (entries.length) this.d.status.notifications = entries;
    for (const entry of entries) {
      const before = this.d.incident.status?.notifications?.find((e) => e.id === entry.id);
      if (entry.state === 'Failed' && before?.state !== 'Failed')
        this.d.record(
          'NotificationFailed',
          `${entry.receiver} (${entry.event}): ${entry.message ?? ''}`,
          'Warning',
        );
    }
  }
}

function settle(entry: LedgerEntry, result: DeliveryObservation): LedgerEntry {
  const attempts = entry.attempts + 1;
  const base = { ...entry, attempts, message: result.message };
  delete base.nextAttemptAt;
  switch (result.outcome) {
    case 'delivered':
    case 'skipped':
      return { ...base, state: 'Delivered', deliveredAt: result.at.toISOString() };
    case 'failed':
      return { ...base, state: 'Failed' };
    case 'retry': {
      if (attempts >= DELIVERY_RETRY.maxAttempts)
        return {
          ...base,
          state: 'Failed',
          message: `gave up after ${attempts} tries: ${base.message}`,
        };
      const backoff = Math.min(DELIVERY_RETRY.baseMs * 2 ** (attempts - 1), DELIVERY_RETRY.maxMs);
      // Clamped here too: the observation carries a receiver's answer, and a pure decide must not
      // throw on remote input (an out-of-range Date fails toISOString on every pass).
      const asked = result.retryAfterMs ?? 0;
      const delay = Math.max(backoff, Number.isFinite(asked) ? Math.min(asked, MAX_RETRY_AFTER_MS) : 0);
      return { ...base, nextAttemptAt: new Date(result.at.getTime() + delay).toISOString() };
    }
  }
}

/**
 * The ledger stays within its bound by dropping the oldest settled entries that are never recorded
 * again: reminders (each recorded once, when due), updates (people's or public) a receiver has a
 * later one of (see tellUpdates), and the entries of earlier episodes. This episode's pages say who
 * was told; its acknowledgements, resolutions and escalation notice are derived again on every
 * pass: dropped, they would be recorded and sent again. Only when those alone overflow (more
 * receivers than the bound holds) do the oldest go.
 */
function bounded(entries: LedgerEntry[], episode: string): LedgerEntry[] {
  const excess = entries.length - MAX_ENTRIES;
  if (excess <= 0) return entries;
  const latestUpdate = new Map<string, number>();
  for (const e of entries) {
    const index = updateIndexOf(e);
    if (index !== undefined)
      latestUpdate.set(e.receiver, Math.max(index, latestUpdate.get(e.receiver) ?? -1));
  }
  const droppable = entries
    .filter((e) => {
      if (e.state === 'Pending') return false;
      if (e.id.startsWith('due-')) return true;
      const index = updateIndexOf(e);
      if (index === undefined && episodeOf(e.id) !== episode) return true;
      return index !== undefined && index < (latestUpdate.get(e.receiver) ?? -1);
    })
    .slice(0, excess);
  return entries.filter((e) => !droppable.includes(e)).slice(-MAX_ENTRIES);
}

/** When the next level is due: its delay after escalation began, or the missed response deadline. */
function nextLevelDue(d: Decision, ledger: Ledger, current: number): Date | undefined {
  const s = d.status;
  const next = ledger.levels[current];
  if (!next || !s.escalation?.startedAt) return undefined;
  let due = new Date(s.escalation.startedAt).getTime() + parseDuration(next.after);
  const notifiedAt = Math.min(...ledger.level(current).map((e) => new Date(e.recordedAt).getTime()));
  const responseDue = s.sla?.responseDueAt ? new Date(s.sla.responseDueAt).getTime() : undefined;
  // A level notified before the response deadline that lets it pass unacknowledged: the next one now.
  if (responseDue !== undefined && notifiedAt < responseDue) due = Math.min(due, responseDue);
  // Every receiver of the level failed: fall through at once.
  const entries = ledger.level(current);
  if (entries.length > 0 && entries.every((e) => e.state === 'Failed')) due = d.now.getTime();
  return new Date(due);
}

function headsUpDue(d: Decision): boolean {
  return (
    d.settings.headsUpSeverities.includes(d.incident.spec.severity) &&
    (d.status.attempts?.length ?? 0) > 0 &&
    d.status.phase !== undefined &&
    !CLOSED.includes(d.status.phase)
  );
}

export function escalation(d: Decision): void {
  const ledger = new Ledger(d);
  ledger.apply(d.obs.deliveries ?? new Map());
  const s = d.status;
  const closed = s.phase !== undefined && CLOSED.includes(s.phase);
  const acknowledged = d.conditionIs('Acknowledged');
  const escalated = d.conditionIs('Escalated');
  const esc = (s.escalation ??= { level: 0 });
  if ((s.recurrences ?? 0) !== (d.incident.status?.recurrences ?? 0)) {
    // The signal came back: the people told of the first episode heard it was resolved, so the
    // levels start over, counted from this escalation.
    esc.level = 0;
    if (escalated) esc.startedAt = d.now.toISOString();
  }
  if (ledger.levels.length > 0 && !closed && !acknowledged) {
    if (esc.level === 0 && (escalated || headsUpDue(d))) ledger.notifyLevel(1);
    else if (escalated && esc.startedAt) {
      // Told early as a heads-up: now they learn that automation could not fix it.
      const headsUpBefore = ledger.level(1).some((e) => e.recordedAt < (esc.startedAt ?? ''));
      if (headsUpBefore) ledger.tellEpisode('escalated', 'update');
    }
    if (escalated && esc.level >= 1) {
      const due = nextLevelDue(d, ledger, esc.level);
      if (due && d.now >= due) {
        ledger.notifyLevel(esc.level + 1);
        const after = nextLevelDue(d, ledger, esc.level);
        if (after) esc.nextEscalationAt = after.toISOString();
        else delete esc.nextEscalationAt;
      } else if (due) esc.nextEscalationAt = due.toISOString();
      else delete esc.nextEscalationAt;
    }
  } else delete esc.nextEscalationAt;
  if (acknowledged) ledger.tellEpisode('ack', 'acknowledge');
  if (closed && d.conditionIs('Resolved')) ledger.tellEpisode('resolve', 'resolve');
  // People's updates go to the receivers that were told; public updates to the status channels.
  ledger.tellUpdates('u', ledger.told(), d.incident.spec.updates?.length ?? 0);
  const statusChannels = ledger.levels.flatMap((l) => l.receivers).filter((r) => r.purpose === 'status');
  ledger.tellUpdates('pub', statusChannels, d.incident.spec.public?.updates.length ?? 0);

  // A level whose receivers all failed stays on the condition after the next level took over:
  // people must still fix those receivers (their failures are final, never retried).
  const failed: string[] = [];
  for (let level = 1; level <= esc.level; level++) {
    const entries = ledger.level(level);
    if (entries.length === 0 || !entries.every((e) => e.state === 'Failed')) continue;
    const then =
      level < esc.level ? `; level ${level + 1} notified` : ledger.levels[level] ? '' : '; no level left';
    failed.push(
      `every receiver of level ${level} failed: ${entries.map((e) => e.message ?? e.receiver).join('; ')}${then}`,
    );
  }
  if (failed.length > 0) d.condition('NotificationFailed', 'True', 'LevelFailed', failed.join('; '));
  else if (d.status.conditions?.some((c) => c.type === 'NotificationFailed'))
    d.condition(
      'NotificationFailed',
      'False',
      'Delivering',
      'a receiver of the current level is being or was notified',
    );
  const delivered = [
    ...new Set(
      ledger.entries.filter((e) => e.state === 'Delivered' && e.event === 'trigger').map((e) => e.receiver),
    ),
  ];
  if (delivered.length > 0) esc.notifiedReceivers = delivered;
  d.wakeAt(esc.nextEscalationAt);
  for (const entry of ledger.entries) if (entry.state === 'Pending') d.wakeAt(entry.nextAttemptAt);
}

/** The update-due reminder of the cadence, to the receivers that were told. */
export function remindUpdateDue(d: Decision, dueAt: string): void {
  new Ledger(d).tellTold(`due-${dueAt}`, 'update');
}

/** The entries due for a delivery try now, in ledger order, at most one at a time per receiver. */
export function dueDeliveries(entries: readonly LedgerEntry[], now: Date): LedgerEntry[] {
  const waiting = new Set<string>();
  const due: LedgerEntry[] = [];
  for (const entry of entries) {
    if (entry.state !== 'Pending') continue;
    // Order per receiver: a resolve never overtakes its trigger.
    if (waiting.has(entry.receiver)) continue;
    waiting.add(entry.receiver);
    if (!entry.nextAttemptAt || new Date(entry.nextAttemptAt) <= now) due.push(entry);
  }
  return due;
}
