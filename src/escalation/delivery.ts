// The contract between whoever decides to notify (the reconciler and its delivery ledger) and the
// receivers: what is sent (a Notice), and what came of it (a classified DeliveryResult).
import type { IncidentUpdate, NotificationEvent } from '../api/incident.ts';
import type { ReceiverType } from '../api/remediation.ts';
import type { IncidentSummary } from './summary.ts';

export type { NotificationEvent };

export interface Notice {
  /**
   * trigger: a level was reached (or the early heads-up); acknowledge; update: an update is due
   * (no `update`) or a person posted one (`update`); resolve.
   */
  event: NotificationEvent;
  summary: IncidentSummary;
  /** Why this goes out now, one line: "escalation level 2: not acknowledged by 09:15Z". */
  reason?: string;
  /** The escalation level this notice belongs to. */
  level?: number;
  /** The person's update an `update` event carries. */
  update?: IncidentUpdate;
  /**
   * An `update` that is the reminder that one is due: of the severity's cadence (an update to the
   * team), or of the status page rule (a public update).
   */
  reminder?: 'cadence' | 'statusPage';
  /**
   * For a status receiver: one public update, the only thing it is told (no internal detail of the
   * incident: the summary is not rendered).
   */
  public?: { title?: string; status: string; message: string; time: string };
  /** The ledger entry's id: webhooks receive it, so they can drop a redelivery. */
  deliveryId?: string;
}

/**
 * The longest delay a receiver's Retry-After is honoured for; it asks for longer and is tried again
 * after this. Our own backoff stops at a minute (DELIVERY_RETRY); a receiver may know better than
 * that, but a page held back for more than an hour has missed its point, and a remote answer must
 * not push a ledger entry past what a Date can hold.
 */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * What came of one delivery try. Adapters never throw for an answer or a network failure; they
 * classify it, so the ledger knows what to do next.
 * - delivered: the receiver accepted it.
 * - retry: it may work later (429, 408, 5xx, network errors, timeouts); `retryAfterMs` is the
 *   receiver's own minimum delay (Retry-After), when it gave one, at most MAX_RETRY_AFTER_MS.
 * - failed: retrying cannot help (400, 401, 403, 404, 410, a missing Secret or key, a malformed
 *   credential); people must fix something.
 * - skipped: this receiver type has no such event (PagerDuty has no update); nothing was sent.
 * Every `message` is one line that names the receiver and never contains a credential.
 */
export type DeliveryResult =
  | { outcome: 'delivered'; receiver: string; message: string; status?: number }
  | { outcome: 'retry'; receiver: string; message: string; status?: number; retryAfterMs?: number }
  | { outcome: 'failed'; receiver: string; message: string; status?: number }
  | { outcome: 'skipped'; receiver: string; message: string };

export type DeliveryOutcome = DeliveryResult['outcome'];

/** The credentials each receiver type reads from its Secret (see secrets.ts). */
export type ReceiverCredentials =
  | { type: 'pagerduty'; routingKey: string }
  | { type: 'slack'; webhookUrl: string }
  | { type: 'webhook'; url: string; signingSecret?: string };
export type CredentialsOf<T extends ReceiverType> = Extract<ReceiverCredentials, { type: T }>;

/** One receiver type: turns a Notice into its peer's request and classifies the answer. */
export interface ReceiverAdapter<T extends ReceiverType = ReceiverType> {
  readonly type: T;
  /** Whether this type has the event at all (PagerDuty has no update event). */
  handles(event: NotificationEvent): boolean;
  send(notice: Notice, receiver: string, credentials: CredentialsOf<T>): Promise<DeliveryResult>;
}

export type ReceiverAdapters = { [T in ReceiverType]: ReceiverAdapter<T> };

/**
 * The events each receiver type gets: PagerDuty has no update event (an alert there is triggered,
 * acknowledged and resolved); chat and webhooks get every event. The ledger records only these.
 */
export const RECEIVER_EVENTS: Record<ReceiverType, readonly NotificationEvent[]> = {
  pagerduty: ['trigger', 'acknowledge', 'resolve'],
  slack: ['trigger', 'acknowledge', 'update', 'resolve'],
  webhook: ['trigger', 'acknowledge', 'update', 'resolve'],
};
