// A generic webhook: the incident summary as JSON. With a signing secret, every request carries an
// HMAC-SHA256 over its timestamp and body (the scheme of Slack's and Stripe's signed requests), so a
// receiver can check that selfheal sent it and reject replays of old requests.
import { createHmac } from 'node:crypto';
import type { IncidentUpdate, NotificationEvent } from '../../api/incident.ts';
import {
  RECEIVER_EVENTS,
  type CredentialsOf,
  type DeliveryResult,
  type Notice,
  type ReceiverAdapter,
} from '../delivery.ts';
import { HttpReceiver, originOf, urlSecrets } from '../http.ts';
import type { IncidentSummary } from '../summary.ts';

export const WEBHOOK_VERSION = '1';
export const WEBHOOK_HEADERS = {
  event: 'x-selfheal-event',
  delivery: 'x-selfheal-delivery',
  timestamp: 'x-selfheal-timestamp',
  signature: 'x-selfheal-signature',
} as const;

export interface WebhookBody {
  version: typeof WEBHOOK_VERSION;
  event: NotificationEvent;
  deliveryId?: string;
  reason?: string;
  level?: number;
  update?: IncidentUpdate;
  /** When this request was built (RFC 3339); the signed timestamp is the same instant. */
  sentAt: string;
  incident: IncidentSummary;
}

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the signing secret>`. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The request for a notice: its JSON body and headers, signed when a secret is given. */
export function webhookRequest(
  notice: Notice,
  now: Date,
  signingSecret?: string,
): { body: string; headers: Record<string, string> } {
  const payload: WebhookBody = {
    version: WEBHOOK_VERSION,
    event: notice.event,
    ...(notice.deliveryId ? { deliveryId: notice.deliveryId } : {}),
    ...(notice.reason ? { reason: notice.reason } : {}),
    ...(notice.level !== undefined ? { level: notice.level } : {}),
    ...(notice.update ? { update: notice.update } : {}),
    sentAt: now.toISOString(),
    incident: notice.summary,
  };
  const body = JSON.stringify(payload);
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return {
    body,
    headers: {
      [WEBHOOK_HEADERS.event]: notice.event,
      [WEBHOOK_HEADERS.timestamp]: timestamp,
      ...(notice.deliveryId ? { [WEBHOOK_HEADERS.delivery]: notice.deliveryId } : {}),
      ...(signingSecret
        ? { [WEBHOOK_HEADERS.signature]: webhookSignature(signingSecret, timestamp, body) }
        : {}),
    },
  };
}

export class WebhookReceiver extends HttpReceiver implements ReceiverAdapter<'webhook'> {
  readonly type = 'webhook';

  handles(event: NotificationEvent): boolean {
    return RECEIVER_EVENTS.webhook.includes(event);
  }

  send(
    notice: Notice,
    receiver: string,
    { url, signingSecret }: CredentialsOf<'webhook'>,
  ): Promise<DeliveryResult> {
    return this.deliver(
      {
        who: `webhook receiver "${receiver}"`,
        receiver,
        peer: `the webhook at ${originOf(url)}`,
        secrets: [...urlSecrets(url), signingSecret],
      },
      { url, tenant: notice.summary.namespace, ...webhookRequest(notice, this.clock.now(), signingSecret) },
    );
  }
}
