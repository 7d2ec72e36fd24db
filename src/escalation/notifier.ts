// The one call the reconciler makes to notify a receiver: read its credentials from its Secret, hand
// the notice to the adapter of its type, and return a classified result. It never throws, and it
// logs each outcome without any credential.
import type { Receiver, ReceiverType } from '../api/remediation.ts';
import type { EgressPolicy } from '../base/egress.ts';
import type { Clock } from '../runtime/clock.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import type { DeliveryResult, Notice, NotificationEvent, ReceiverAdapters } from './delivery.ts';
import { HttpPoster } from './http.ts';
import { PagerDutyReceiver } from './receivers/pagerduty.ts';
import { SlackReceiver } from './receivers/slack.ts';
import { WebhookReceiver } from './receivers/webhook.ts';
import { readCredentials, type SecretReader } from './secrets.ts';

export interface Delivery {
  /** The incident's namespace: where the receiver's Secret is read. */
  namespace: string;
  receiver: Receiver;
  notice: Notice;
}

export interface NotifierOptions {
  secrets: SecretReader;
  /** PagerDuty Events API base URL (https://events.pagerduty.com). */
  pagerDutyUrl: string;
  /** Every request's time limit, connection included. */
  timeoutMs: number;
  /** Where webhook and Slack URLs (the tenants') may go. */
  egress: EgressPolicy;
  clock: Clock;
  logger: Logger;
}

export class Notifier {
  private readonly secrets: SecretReader;
  private readonly adapters: ReceiverAdapters;
  private readonly logger: Logger;

  constructor(secrets: SecretReader, adapters: ReceiverAdapters, logger: Logger) {
    this.secrets = secrets;
    this.adapters = adapters;
    this.logger = logger;
  }

  /** The notifier with the real adapters. */
  static create(options: NotifierOptions): Notifier {
    const http = new HttpPoster(options.timeoutMs, options.egress);
    const { clock } = options;
    return new Notifier(
      options.secrets,
      {
        pagerduty: new PagerDutyReceiver({ baseUrl: options.pagerDutyUrl, http, clock }),
        slack: new SlackReceiver({ http, clock }),
        webhook: new WebhookReceiver({ http, clock }),
      },
      options.logger,
    );
  }

  /** Whether a receiver of this type gets this event at all (the ledger records only those). */
  handles(type: ReceiverType, event: NotificationEvent): boolean {
    return this.adapters[type].handles(event);
  }

  async deliver({ namespace, receiver, notice }: Delivery): Promise<DeliveryResult> {
    const result = await this.attempt(namespace, receiver, notice);
    const fields = {
      incident: `${namespace}/${notice.summary.name}`,
      receiver: receiver.name,
      receiverType: receiver.type,
      event: notice.event,
      outcome: result.outcome,
      ...('status' in result && result.status !== undefined ? { status: result.status } : {}),
      ...('retryAfterMs' in result && result.retryAfterMs !== undefined
        ? { retryAfterMs: result.retryAfterMs }
        : {}),
    };
    if (result.outcome === 'delivered') this.logger.info(fields, result.message);
    else if (result.outcome === 'skipped') this.logger.debug(fields, result.message);
    else this.logger.warn(fields, result.message);
    return result;
  }

  private async attempt(namespace: string, receiver: Receiver, notice: Notice): Promise<DeliveryResult> {
    const who = `${receiver.type} receiver "${receiver.name}"`;
    if (!this.handles(receiver.type, notice.event))
      return {
        outcome: 'skipped',
        receiver: receiver.name,
        message: `${who}: not sent: ${receiver.type} receivers get no ${notice.event} events`,
      };
    const read = await readCredentials(this.secrets, namespace, receiver);
    if (!read.ok)
      return { outcome: read.retriable ? 'retry' : 'failed', receiver: receiver.name, message: read.message };
    const c = read.credentials;
    try {
      switch (c.type) {
        case 'pagerduty':
          return await this.adapters.pagerduty.send(notice, receiver.name, c);
        case 'slack':
          return await this.adapters.slack.send(notice, receiver.name, c);
        case 'webhook':
          return await this.adapters.webhook.send(notice, receiver.name, c);
      }
    } catch (error) {
      // Adapters classify every answer; reaching this is a bug, and repeating it would fail the same way.
      return { outcome: 'failed', receiver: receiver.name, message: `${who}: ${errorMessage(error)}` };
    }
  }
}
