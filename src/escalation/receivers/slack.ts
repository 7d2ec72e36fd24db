// Slack incoming webhooks: POST a Block Kit message to the webhook URL (itself the credential).
// Each event is a message of its own in the channel: the page, then acknowledgement, updates and the
// resolution, each saying what a person needs to act on it; `text` is the notification fallback.
import {
  RECEIVER_EVENTS,
  type CredentialsOf,
  type DeliveryResult,
  type Notice,
  type NotificationEvent,
  type ReceiverAdapter,
} from '../delivery.ts';
import { answerSize, HttpReceiver, originOf, urlSecrets, type HttpAnswer } from '../http.ts';
import { attemptLine, deadlineText, targetText, truncate, type IncidentSummary } from '../summary.ts';

/** Block Kit's limits (docs.slack.dev/reference/block-kit). */
export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
} as const;
const MAX_ATTEMPT_LINES = 10;

export interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}
export type Block =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

const SEVERITY_EMOJI = {
  P1: ':red_circle:',
  P2: ':large_orange_circle:',
  P3: ':large_yellow_circle:',
  P4: ':large_blue_circle:',
};

/** Slack's mrkdwn control characters, escaped as its docs ask. */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const mrkdwn = (text: string, max: number = SLACK_LIMITS.sectionText): TextObject => ({
  type: 'mrkdwn',
  text: truncate(text, max),
});
const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });
const field = (label: string, value: string): TextObject =>
  mrkdwn(`*${label}*\n${escapeMrkdwn(value)}`, SLACK_LIMITS.fieldText);
/** `<href|text>`: a link that needs no interactivity from the app behind the webhook. */
const link = (href: string, text: string) =>
  `<${href.replaceAll('|', '%7C').replaceAll('<', '%3C').replaceAll('>', '%3E')}|${escapeMrkdwn(text)}>`;

function headline(notice: Notice): string {
  const s = notice.summary;
  switch (notice.event) {
    case 'trigger':
      return `${s.severity} incident`;
    case 'acknowledge':
      return `Acknowledged${s.acknowledgedBy ? ` by ${s.acknowledgedBy}` : ''}`;
    case 'update':
      return notice.update
        ? `Update from ${notice.update.author}`
        : notice.reminder
          ? 'Update due'
          : 'Update';
    case 'resolve':
      return `Resolved${s.resolution ? ` by ${s.resolution.resolvedBy}` : ''}`;
  }
}

/** A reminder that an update is due: which kind, why, and the command that posts one. */
function reminderLead(notice: Notice, reason: string | undefined): string {
  const s = notice.summary;
  const [due, flags] =
    notice.reminder === 'statusPage'
      ? ['A public status page update is due.', '--public "..." --status investigating']
      : ['A status update to stakeholders is due.', '--message "..."'];
  return `${due}${reason ? ` ${escapeMrkdwn(reason)}` : ''} Post one with \`kubectl incident update ${s.name} -n ${s.namespace} ${flags}\``;
}

/** The first thing a person reads under the header: why this message, in this event's words. */
function lead(notice: Notice): string | undefined {
  const s = notice.summary;
  const reason = notice.reason ?? (notice.event === 'trigger' ? s.escalation.reason : undefined);
  switch (notice.event) {
    case 'trigger':
      return reason ? `*Why now:* ${escapeMrkdwn(reason)}` : undefined;
    case 'acknowledge':
      return `*${escapeMrkdwn(s.acknowledgedBy ?? 'Someone')}* took the incident; escalation stops.`;
    case 'update':
      if (!notice.update && !notice.reminder) return reason ? escapeMrkdwn(reason) : undefined;
      return notice.update
        ? `>${escapeMrkdwn(notice.update.message).replaceAll('\n', '\n>')}`
        : reminderLead(notice, reason);
    case 'resolve':
      return s.resolution?.note
        ? `>${escapeMrkdwn(s.resolution.note).replaceAll('\n', '\n>')}`
        : reason
          ? escapeMrkdwn(reason)
          : 'The incident is resolved.';
  }
}

function fields(notice: Notice): TextObject[] {
  const s = notice.summary;
  const target = targetText(s);
  const list: TextObject[] = [
    field('Severity', s.severity),
    field('Phase', s.phase + (s.escalation.level ? ` (escalation level ${s.escalation.level})` : '')),
    field('Target', target ?? 'none named'),
    field('Incident', `${s.namespace}/${s.name}`),
  ];
  if (s.deadline) list.push(field('Next deadline', deadlineText(s.deadline)));
  if (s.acknowledgedBy) list.push(field('Acknowledged by', s.acknowledgedBy));
  if (s.roles.incidentCommander) list.push(field('Incident commander', s.roles.incidentCommander));
  if (s.source.alertName) list.push(field('Alert', s.source.alertName));
  return list.slice(0, SLACK_LIMITS.fields);
}

function automation(s: IncidentSummary): string {
  if (!s.attempts.length) return '*What automation tried:* nothing: no automated action ran';
  const shown = s.attempts.slice(-MAX_ATTEMPT_LINES);
  const earlier = s.attempts.length - shown.length;
  return [
    '*What automation tried:*',
    ...(earlier ? [`_${earlier} earlier attempt(s) not shown_`] : []),
    ...shown.map((a) => `• ${escapeMrkdwn(attemptLine(a))}`),
  ].join('\n');
}

/** The Block Kit message of a notice. */
/** A public update for a status channel: the words people wrote for the status page, nothing else. */
function publicMessage(update: NonNullable<Notice['public']>): SlackMessage {
  const title = update.title ?? 'Service status';
  const status = update.status.charAt(0).toUpperCase() + update.status.slice(1);
  return {
    text: truncate(`${title}: ${status}. ${update.message}`, 3000),
    blocks: [
      {
        type: 'header',
        text: {
          type: 'plain_text',
          text: truncate(`${title}: ${status}`, SLACK_LIMITS.headerText),
          emoji: true,
        },
      },
      section(escapeMrkdwn(update.message)),
      { type: 'context', elements: [mrkdwn(`status page update · ${update.time}`)] },
    ],
  };
}

export function slackMessage(notice: Notice): SlackMessage {
  if (notice.public) return publicMessage(notice.public);
  const s = notice.summary;
  const unacknowledged = (notice.event === 'trigger' || notice.event === 'update') && !s.acknowledgedBy;
  const blocks: Block[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(
          `${SEVERITY_EMOJI[s.severity]} ${headline(notice)}: ${s.title}`,
          SLACK_LIMITS.headerText,
        ),
        emoji: true,
      },
    },
  ];
  const first = lead(notice);
  if (first) blocks.push(section(first));
  blocks.push({ type: 'section', fields: fields(notice) });
  if (notice.event === 'trigger' || notice.event === 'resolve') blocks.push(section(automation(s)));
  if (notice.event === 'trigger' && s.context.length)
    blocks.push(section(['*Check first:*', ...s.context.map((c) => `• ${escapeMrkdwn(c)}`)].join('\n')));
  if (unacknowledged) blocks.push(section(`*Take it:* \`${s.ackCommand}\``));
  if (s.links.length) blocks.push(section(s.links.map((l) => link(l.href, l.text)).join('  ·  ')));
  blocks.push({
    type: 'context',
    elements: [
      mrkdwn(
        `selfheal · ${notice.event}${notice.level ? ` · level ${notice.level}` : ''} · \`${s.namespace}/${s.name}\``,
      ),
    ],
  });
  const where = targetText(s) ?? `${s.namespace}/${s.name}`;
  const text = [
    `[${s.severity}] ${headline(notice)}: ${s.title} (${where})`,
    unacknowledged ? `Take it: ${s.ackCommand}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  // The fallback is mrkdwn too: unescaped, a title such as "<!channel>" would ping everyone.
  return {
    text: truncate(escapeMrkdwn(text), SLACK_LIMITS.sectionText),
    blocks: blocks.slice(0, SLACK_LIMITS.blocks),
  };
}

/**
 * The errors Slack's incoming webhooks answer, as plain text (docs.slack.dev, "Handling errors").
 * The URL is the tenant's, so an answer is named only when it is exactly one of these words of
 * Slack's: anything else an endpoint sends is reduced to its size.
 */
const SLACK_ERRORS = new Set([
  'invalid_payload',
  'invalid_blocks',
  'invalid_blocks_format',
  'too_many_attachments',
  'no_text',
  'missing_text_or_fallback_or_attachments',
  'user_not_found',
  'channel_not_found',
  'channel_is_archived',
  'action_prohibited',
  'posting_to_general_channel_denied',
  'no_service',
  'no_service_id',
  'no_team',
  'team_disabled',
  'invalid_token',
  'invalid_team',
  'rate_limited',
]);

function explain(answer: HttpAnswer): string {
  const word = answer.body.trim();
  return SLACK_ERRORS.has(word) ? `: ${word}` : answerSize(answer);
}

export class SlackReceiver extends HttpReceiver implements ReceiverAdapter<'slack'> {
  readonly type = 'slack';

  handles(event: NotificationEvent): boolean {
    return RECEIVER_EVENTS.slack.includes(event);
  }

  send(notice: Notice, receiver: string, { webhookUrl }: CredentialsOf<'slack'>): Promise<DeliveryResult> {
    return this.deliver(
      {
        who: `slack receiver "${receiver}"`,
        receiver,
        // The path is the credential: only the origin is ever named.
        peer: `Slack at ${originOf(webhookUrl)}`,
        secrets: urlSecrets(webhookUrl),
      },
      { url: webhookUrl, tenant: notice.summary.namespace, body: JSON.stringify(slackMessage(notice)) },
      explain,
    );
  }
}
