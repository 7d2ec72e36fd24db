// Sends the delivery ledger's due entries, for the leader. A reconcile pass never waits for a
// receiver: it hands the incident (as written, so every entry sent was recorded first) to the
// dispatcher, which sends due entries in the background (bounded, at most one at a time per
// receiver and incident, only while this replica leads), keeps each result until the next status
// write has recorded it, and wakes the incident. A result lost in a crash is only a resend: the
// entry is still Pending on the status (at least once; PagerDuty's dedup_key makes it a no-op there).
import type { Incident } from '../api/incident.ts';
import type { Notice } from '../escalation/delivery.ts';
import type { LinkTemplate } from '../escalation/links.ts';
import type { Notifier } from '../escalation/notifier.ts';
import { summarize } from '../escalation/summary.ts';
import type { Clock } from '../runtime/clock.ts';
import { keyOf } from '../runtime/keys.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import {
  dueDeliveries,
  levelOfEntry,
  levelsOf,
  receiverNamed,
  type DeliveryObservation,
  type LedgerEntry,
} from './decide/index.ts';
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
function reasonOf(entry: LedgerEntry, incident: Incident): string {
  const level = levelOfEntry(entry);
  if (level !== undefined)
    return level === 1 &&
      !incident.status?.conditions?.some((c) => c.type === 'Escalated' && c.status === 'True')
      ? `heads-up: a ${incident.spec.severity} incident opened and automation is remediating`
      : `escalation level ${level}: ${incident.status?.escalation?.reason ?? 'people must act'}`;
  if (entry.id.startsWith('escalated:'))
    return `automation could not fix it: ${incident.status?.escalation?.reason ?? ''}`;
  if (entry.id.startsWith('due-statuspage')) return 'a public status page update is due';
  if (entry.id.startsWith('due-')) return 'an update to stakeholders is due (the severity\u2019s cadence)';
  return { trigger: 'triggered', acknowledge: 'acknowledged', update: 'update', resolve: 'resolved' }[
    entry.event
  ];
}

export class NotificationDispatcher {
  private readonly options: DispatcherOptions;
  /** Per incident uid: entry id → a result not yet written to the status, and the tries it follows. */
  private readonly results = new Map<string, Map<string, { result: DeliveryObservation; after: number }>>();
  private readonly inFlight = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  /** The results of this incident's deliveries that its status does not record yet. */
  deliveries(incident: Incident): ReadonlyMap<string, DeliveryObservation> {
    const pending = this.results.get(incident.metadata.uid ?? '');
    return new Map([...(pending ?? [])].map(([id, { result }]) => [id, result]));
  }

  /** Forgets results the written status now records (their entries moved on). */
  recorded(incident: Incident): void {
    const uid = incident.metadata.uid ?? '';
    const pending = this.results.get(uid);
    if (!pending) return;
    const recorded = new Map((incident.status?.notifications ?? []).map((e) => [e.id, e]));
    for (const [id, { after }] of pending) {
      const entry = recorded.get(id);
      if (!entry || entry.state !== 'Pending' || entry.attempts > after) pending.delete(id);
    }
    if (pending.size === 0) this.results.delete(uid);
  }

  /** Starts the due deliveries of the incident as written; never waits for them. */
  dispatch(incident: Incident, policy: RemediationPolicy | null | undefined): void {
    const { clock, settings, linkTemplates } = this.options;
    const uid = incident.metadata.uid ?? '';
    const now = clock.now();
    const levels = levelsOf({
      incident,
      obs: { now, policy, otherAttemptsOnTarget: [], incidentsInStormWindow: 0 },
      settings,
    });
    for (const entry of dueDeliveries(incident.status?.notifications ?? [], now)) {
      const key = `${uid}/${entry.id}`;
      if (this.inFlight.has(key) || this.results.get(uid)?.has(entry.id)) continue;
      const receiver = receiverNamed(levels, entry.receiver);
      if (!receiver) {
        this.settle(incident, entry, {
          outcome: 'failed',
          message: `receiver ${entry.receiver} is no longer in the escalation levels`,
          at: now,
        });
        continue;
      }
      const update = /^u([0-9]+):/.exec(entry.id);
      const person = update ? incident.spec.updates?.[Number(update[1])] : undefined;
      const published = /^pub([0-9]+):/.exec(entry.id);
      const publicUpdate = published ? incident.spec.public?.updates[Number(published[1])] : undefined;
      const level = levelOfEntry(entry);
      const notice: Notice = {
        event: entry.event,
        summary: summarize(incident, { linkTemplates }),
        reason: reasonOf(entry, incident),
        deliveryId: `${uid}/${entry.id}`,
        ...(level !== undefined ? { level } : {}),
        ...(person ? { update: person } : {}),
        ...(entry.id.startsWith('due-') ? { reminder: true } : {}),
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
          const result = await this.options.notifier.deliver({
            namespace: incident.metadata.namespace ?? '',
            receiver,
            notice,
          });
          this.options.metrics.notifications.inc({
            receiver_type: receiver.type,
            event: entry.event,
            result: result.outcome,
          });
          this.settle(incident, entry, {
            outcome: result.outcome,
            message: result.message,
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

  private settle(incident: Incident, entry: LedgerEntry, result: DeliveryObservation): void {
    const uid = incident.metadata.uid ?? '';
    let pending = this.results.get(uid);
    if (!pending)
      this.results.set(uid, (pending = new Map<string, { result: DeliveryObservation; after: number }>()));
    pending.set(entry.id, { result, after: entry.attempts });
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
