// PagerDuty Events API v2: POST <base>/v2/enqueue. One alert per incident, keyed by a dedup_key
// derived from the incident's uid, so a trigger after a restart or failover lands on the same alert,
// and acknowledge and resolve find it. PagerDuty has no "update" event: updates go to chat receivers.
import type { Severity } from '../../api/group.ts';
import type { Clock } from '../../runtime/clock.ts';
import {
  RECEIVER_EVENTS,
  type CredentialsOf,
  type DeliveryResult,
  type Notice,
  type NotificationEvent,
  type ReceiverAdapter,
} from '../delivery.ts';
import { HttpReceiver, oneLine, originOf, type HttpAnswer, type HttpPoster } from '../http.ts';
import { attemptLine, deadlineText, targetText, truncate, type IncidentSummary } from '../summary.ts';

export const DEFAULT_PAGERDUTY_URL = 'https://events.pagerduty.com';
export const PAGERDUTY_SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = {
  P1: 'critical',
  P2: 'error',
  P3: 'warning',
  P4: 'info',
};
export const MAX_SUMMARY = 1024;
export const MAX_DEDUP_KEY = 255;
export const MAX_EVENT_BYTES = 512 * 1024;

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: (typeof PAGERDUTY_SEVERITY)[Severity];
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details: Record<string, unknown>;
  };
  links?: { href: string; text: string }[];
  client?: string;
  client_url?: string;
}

/** One alert per incident, for its whole life: `selfheal/<metadata.uid>`. */
export function dedupKey(summary: Pick<IncidentSummary, 'uid' | 'namespace' | 'name'>): string {
  if (!summary.uid)
    throw new Error(
      `incident ${summary.namespace}/${summary.name} has no metadata.uid: no stable dedup_key can be derived`,
    );
  return truncate(`selfheal/${summary.uid}`, MAX_DEDUP_KEY);
}

function customDetails(notice: Notice): Record<string, unknown> {
  const s = notice.summary;
  const reason = notice.reason ?? s.escalation.reason;
  const roles = Object.entries(s.roles).filter(([, person]) => person);
  return {
    incident: `${s.namespace}/${s.name}`,
    phase: s.phase,
    ...(reason ? { why: reason } : {}),
    ...(notice.level !== undefined ? { level: notice.level } : {}),
    ...(targetText(s) ? { target: targetText(s) } : {}),
    ...(s.source.alertName ? { alert: s.source.alertName } : {}),
    automation_tried: s.attempts.length ? s.attempts.map(attemptLine) : ['nothing: no automated action ran'],
    ...(s.deadline ? { next_deadline: deadlineText(s.deadline) } : {}),
    ...(s.context.length ? { check_first: s.context } : {}),
    ...(roles.length ? { roles: Object.fromEntries(roles) } : {}),
    acknowledge_with: s.ackCommand,
    ...(s.description ? { description: s.description } : {}),
  };
}

/** The Events API v2 body for a notice; undefined for `update`, which PagerDuty does not have. */
export function pagerDutyEvent(notice: Notice, routingKey: string): PagerDutyEvent | undefined {
  if (notice.event === 'update') return undefined;
  const s = notice.summary;
  const base = { routing_key: routingKey, event_action: notice.event, dedup_key: dedupKey(s) };
  // Acknowledge and resolve name the alert by its dedup_key; PagerDuty ignores anything else.
  if (notice.event !== 'trigger') return base;
  const where = targetText(s) ?? `incident ${s.namespace}/${s.name}`;
  return {
    ...base,
    payload: {
      summary: truncate(`[${s.severity}] ${s.title} (${where})`, MAX_SUMMARY),
      source: s.target
        ? `${s.namespace}/${s.target.kind.toLowerCase()}/${s.target.name}`
        : `${s.namespace}/incident/${s.name}`,
      severity: PAGERDUTY_SEVERITY[s.severity],
      ...(s.source.startsAt || s.openedAt ? { timestamp: s.source.startsAt ?? s.openedAt } : {}),
      ...(s.target ? { component: s.target.name } : {}),
      group: s.namespace,
      class: s.source.alertName ?? 'manual incident',
      custom_details: customDetails(notice),
    },
    ...(s.links.length ? { links: s.links.map((l) => ({ href: l.href, text: l.text })) } : {}),
    client: 'selfheal',
    ...(s.links[0] ? { client_url: s.links[0].href } : {}),
  };
}

/**
 * PagerDuty's error body: `{status, message, errors[]}`, shown after the status. PagerDuty's URL is
 * the install's (--pagerduty-url), not a tenant's, so its words may be repeated.
 */
function explain(answer: HttpAnswer): string {
  const text = (() => {
    try {
      const body = JSON.parse(answer.body) as { message?: unknown; errors?: unknown };
      const errors = Array.isArray(body.errors) ? body.errors.filter((e) => typeof e === 'string') : [];
      const message = typeof body.message === 'string' ? body.message : '';
      if (message || errors.length) return oneLine([message, errors.join('; ')].filter(Boolean).join(': '));
    } catch {
      // not JSON: show it as text
    }
    return oneLine(answer.body);
  })();
  return text ? `: ${text}` : '';
}

export class PagerDutyReceiver extends HttpReceiver implements ReceiverAdapter<'pagerduty'> {
  readonly type = 'pagerduty';
  private readonly enqueueUrl: string;

  constructor(options: { baseUrl: string; http: HttpPoster; clock: Clock }) {
    super(options);
    this.enqueueUrl = `${options.baseUrl.replace(/\/+$/, '')}/v2/enqueue`;
  }

  handles(event: NotificationEvent): boolean {
    return RECEIVER_EVENTS.pagerduty.includes(event);
  }

  async send(
    notice: Notice,
    receiver: string,
    { routingKey }: CredentialsOf<'pagerduty'>,
  ): Promise<DeliveryResult> {
    const who = `pagerduty receiver "${receiver}"`;
    let event: PagerDutyEvent | undefined;
    try {
      event = pagerDutyEvent(notice, routingKey);
    } catch (error) {
      return { outcome: 'failed', receiver, message: `${who}: ${(error as Error).message}` };
    }
    if (!event)
      return {
        outcome: 'skipped',
        receiver,
        message: `${who}: PagerDuty has no ${notice.event} event; updates go to chat and webhook receivers`,
      };
    const body = JSON.stringify(event);
    const bytes = Buffer.byteLength(body);
    if (bytes > MAX_EVENT_BYTES)
      return {
        outcome: 'failed',
        receiver,
        message: `${who}: the event is ${bytes} bytes, over PagerDuty's limit of ${MAX_EVENT_BYTES}`,
      };
    return this.deliver(
      { who, receiver, peer: `PagerDuty at ${originOf(this.enqueueUrl)}`, secrets: [routingKey] },
      // The install's URL: no tenant's egress policy governs it.
      { url: this.enqueueUrl, body },
      explain,
    );
  }
}
