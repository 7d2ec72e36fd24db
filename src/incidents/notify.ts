// Sends the delivery ledger's due entries, for the leader. A reconcile pass never waits for a
// receiver: it hands the incident (as written, so every entry sent was recorded first) to the
// dispatcher, which sends due entries in the background (bounded, at most one at a time per
// receiver and incident, only while this replica leads), keeps each result until the next status
// write has recorded it, and wakes the incident. It remembers each try until the cache shows the
// status that recorded it: a pass on a cache still one write behind then sends nothing again. A
// result lost in a crash is only a resend: the entry is still Pending on the status (at least once;
// PagerDuty's dedup_key makes it a no-op there).
import { formatDuration } from '../api/durations.ts';
import type { Incident } from '../api/incident.ts';
import type { Receiver } from '../api/remediation.ts';
import type { DeliveryResult, Notice } from '../escalation/delivery.ts';
import type { LinkTemplate } from '../escalation/links.ts';
import type { Notifier } from '../escalation/notifier.ts';
import { summarize } from '../escalation/summary.ts';
import type { Clock } from '../runtime/clock.ts';
import { keyOf } from '../runtime/keys.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import {
  DELIVERY_RETRY,
  dueDeliveries,
  levelOfEntry,
  levelsOf,
  receiverNamed,
  type DeliveryObservation,
  type LedgerEntry,
} from './decide/index.ts';
import { updateIndexOf, withoutEpisode } from './decide/escalation.ts';
import type { IncidentSettings } from './settings.ts';
import type { RemediationPolicy } from '../api/policy.ts';

export interface DispatcherOptions {
  notifier: Notifier;
  settings: IncidentSettings;
  linkTemplates: readonly LinkTemplate[];
  /** Only the leader sends; checked right before every delivery. */
  mayWrite: () => boolean;
  /** Deliveries under way at once, across incidents. */
  concurrency: number;
  clock: Clock;
  metrics: Metrics;
  /** Called with the incident's key when a result is ready to be recorded. */
  settled: (key: string) => void;
}

/** Why an entry goes out now, for the receiver's message. */
function reasonOf(entry: LedgerEntry, incident: Incident, settings: IncidentSettings): string {
  const level = levelOfEntry(entry);
  if (level !== undefined)
    return level === 1 &&
      !incident.status?.conditions?.some((c) => c.type === 'Escalated' && c.status === 'True')
      ? `heads-up: a ${incident.spec.severity} incident opened and automation is remediating`
      : `escalation level ${level}: ${incident.status?.escalation?.reason ?? 'people must act'}`;
  if (withoutEpisode(entry.id).startsWith('escalated:'))
    return `automation could not fix it: ${incident.status?.escalation?.reason ?? ''}`;
  if (entry.id.startsWith('due-statuspage'))
    return `The playbook asks ${incident.spec.severity} incidents for a public status page update within ${formatDuration(settings.statusPageUpdate.withinMs)} of opening.`;
  if (entry.id.startsWith('due-')) {
    const { severity } = incident.spec;
    const every = formatDuration(settings.playbook[severity].updateEveryMs);
    return `The ${severity} cadence asks for a status update every ${every}.`;
  }
  return { trigger: 'triggered', acknowledge: 'acknowledged', update: 'update', resolve: 'resolved' }[
    entry.event
  ];
}

/**
 * A peer that refused for good (400 for a PagerDuty routing key it does not know, 404 or 410 for a
 * Slack webhook removed): people must fix the credential, so the ledger says where it is, never what.
 */
function refusedCredential(result: DeliveryResult, receiver: Receiver, namespace: string): string {
  if (result.outcome !== 'failed' || result.status === undefined) return result.message;
  const { name, key } = receiver.secretRef;
  const keys = receiver.signingSecretKey ? `keys ${key} and ${receiver.signingSecretKey}` : `key ${key}`;
  return `${result.message}; its credential is Secret ${namespace}/${name} ${keys}`;
}

/** One delivery try of an entry: made after `after` earlier tries; its result once it is in. */
interface Try {
  after: number;
  result?: DeliveryObservation;
}

/** Whether a view's entry records the try: it moved on (settled, or tried again since). */
const movedOn = (entry: LedgerEntry, tried: Try): boolean =>
  entry.state !== 'Pending' || entry.attempts > tried.after;

const entriesOf = (incident: Incident) =>
  new Map((incident.status?.notifications ?? []).map((e) => [e.id, e]));

export class NotificationDispatcher {
  private readonly options: DispatcherOptions;
  /** Per incident uid: entry id → its last try, until the cache shows the status that records it. */
  private readonly tries = new Map<string, Map<string, Try>>();
  /** Per incident key: the uid its tries are kept under (to forget them with the incident). */
  private readonly uids = new Map<string, string>();
  private readonly inFlight = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  /**
   * The results of this incident's deliveries that its status does not record yet. The incident is
   * the cache's copy: tries it records are forgotten, since every later copy records them too.
   */
  deliveries(incident: Incident): ReadonlyMap<string, DeliveryObservation> {
    const uid = incident.metadata.uid ?? '';
    const tries = this.tries.get(uid);
    const results = new Map<string, DeliveryObservation>();
    if (!tries) return results;
    const entries = entriesOf(incident);
    for (const [id, tried] of tries) {
      // An entry this copy does not hold yet was recorded by a write the cache has not caught up with.
      const entry = entries.get(id);
      if (!entry) continue;
      if (movedOn(entry, tried)) tries.delete(id);
      else if (tried.result && entry.attempts === tried.after) results.set(id, tried.result);
    }
    if (tries.size === 0) this.tries.delete(uid);
    return results;
  }

  /**
   * Drops the results the status as written (or, when nothing was written, as read) records. Their
   * tries are kept until the cache shows that status (see deliveries): a pass that reads the cache
   * before then must not send them again. The ledger drops only settled entries, which the cache
   * showed settled first: a try outlives its entry only in a deleted incident, forgotten with it.
   */
  recorded(incident: Incident): void {
    const tries = this.tries.get(incident.metadata.uid ?? '');
    if (!tries) return;
    const entries = entriesOf(incident);
    for (const [id, tried] of tries) {
      const entry = entries.get(id);
      if (entry && movedOn(entry, tried)) delete tried.result;
    }
  }

  /** The incident is gone (deleted, or replaced by one of the same name): its tries with it. */
  forget(key: string): void {
    const uid = this.uids.get(key);
    if (uid !== undefined) this.tries.delete(uid);
    this.uids.delete(key);
  }

  /** Starts the due deliveries of the incident as written; never waits for them. */
  dispatch(incident: Incident, policy: RemediationPolicy | null | undefined): void {
    const { clock, settings, linkTemplates } = this.options;
    const uid = incident.metadata.uid ?? '';
    const incidentKey = keyOf(incident);
    if (this.uids.get(incidentKey) !== uid) this.forget(incidentKey);
    this.uids.set(incidentKey, uid);
    const now = clock.now();
    const levels = levelsOf({
      incident,
      obs: { now, policy, otherAttemptsOnTarget: [], incidentsInStormWindow: 0 },
      settings,
    });
    for (const entry of dueDeliveries(incident.status?.notifications ?? [], now)) {
      const key = `${uid}/${entry.id}`;
      const tried = this.tries.get(uid)?.get(entry.id);
      // Tried already at this count: the result waits to be written, or this view is behind it.
      if (this.inFlight.has(key) || (tried && tried.after >= entry.attempts)) continue;
      const receiver = receiverNamed(levels, entry.receiver);
      if (!receiver) {
        this.options.metrics.notifications.inc({
          receiver_type: 'unknown',
          event: entry.event,
          result: 'failed',
        });
        this.settle(incident, entry, {
          outcome: 'failed',
          message: `receiver ${entry.receiver} is no longer in the escalation levels`,
          at: now,
        });
        continue;
      }
      const updateIndex = updateIndexOf(entry);
      const person = updateIndex === undefined ? undefined : incident.spec.updates?.[updateIndex];
      const published = /^pub([0-9]+):/.exec(entry.id);
      const publicUpdate = published ? incident.spec.public?.updates[Number(published[1])] : undefined;
      const level = levelOfEntry(entry);
      const notice: Notice = {
        event: entry.event,
        summary: summarize(incident, { linkTemplates }),
        reason: reasonOf(entry, incident, settings),
        deliveryId: `${uid}/${entry.id}`,
        ...(level !== undefined ? { level } : {}),
        ...(person ? { update: person } : {}),
        ...(entry.id.startsWith('due-')
          ? {
              reminder: entry.id.startsWith('due-statuspage')
                ? ('statusPage' as const)
                : ('cadence' as const),
            }
          : {}),
        ...(publicUpdate
          ? {
              public: {
                status: publicUpdate.status,
                message: publicUpdate.message,
                time: publicUpdate.time,
                ...(incident.spec.public?.title ? { title: incident.spec.public.title } : {}),
              },
            }
          : {}),
      };
      this.inFlight.add(key);
      void this.slot(async () => {
        try {
          if (!this.options.mayWrite()) return;
          this.tried(uid).set(entry.id, { after: entry.attempts });
          const result = await this.options.notifier.deliver({
            namespace: incident.metadata.namespace ?? '',
            receiver,
            notice,
          });
          // The try that uses up the retries is the delivery failing for good: counted as failed.
          const gaveUp = result.outcome === 'retry' && entry.attempts + 1 >= DELIVERY_RETRY.maxAttempts;
          this.options.metrics.notifications.inc({
            receiver_type: receiver.type,
            event: entry.event,
            result: gaveUp ? 'failed' : result.outcome,
          });
          this.settle(incident, entry, {
            outcome: result.outcome,
            message: refusedCredential(result, receiver, incident.metadata.namespace ?? ''),
            ...('retryAfterMs' in result && result.retryAfterMs !== undefined
              ? { retryAfterMs: result.retryAfterMs }
              : {}),
            at: this.options.clock.now(),
          });
        } finally {
          this.inFlight.delete(key);
        }
      });
    }
  }

  private tried(uid: string): Map<string, Try> {
    let tries = this.tries.get(uid);
    if (!tries) this.tries.set(uid, (tries = new Map<string, Try>()));
    return tries;
  }

  private settle(incident: Incident, entry: LedgerEntry, result: DeliveryObservation): void {
    this.tried(incident.metadata.uid ?? '').set(entry.id, { after: entry.attempts, result });
    this.options.settled(keyOf(incident));
  }

  private async slot(run: () => Promise<void>): Promise<void> {
    if (this.running >= this.options.concurrency)
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      await run();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
