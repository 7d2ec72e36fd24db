import { randomBytes } from 'node:crypto';
import type { RecordedRequest } from './http.ts';
import { isObject, parseJson, Problems, ScriptedPeer, type Verdict } from './scripted-peer.ts';

export interface SlackTextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
  verbatim?: boolean;
}

export interface SlackMessageReceived {
  /** Which webhook (channel) it was posted to: the name given to `webhook()`. */
  channel: string;
  text: string;
  blocks: Record<string, unknown>[];
}

const BLOCK_ID = 255;

function textObject(p: Problems, path: string, value: unknown, { plainOnly = false, max = 3000 } = {}): void {
  if (!isObject(value)) return p.add(path, 'must be a text object');
  p.onlyKeys(path, value, ['type', 'text', 'emoji', 'verbatim']);
  if (value.type !== 'plain_text' && (plainOnly || value.type !== 'mrkdwn'))
    p.add(
      `${path}.type`,
      `must be ${plainOnly ? 'plain_text' : 'plain_text or mrkdwn'}, got ${JSON.stringify(value.type)}`,
    );
  p.string(`${path}.text`, value.text, { required: true, min: 1, max });
  if (value.emoji !== undefined && (value.type !== 'plain_text' || typeof value.emoji !== 'boolean'))
    p.add(`${path}.emoji`, 'only a boolean, and only on plain_text');
  if (value.verbatim !== undefined && (value.type !== 'mrkdwn' || typeof value.verbatim !== 'boolean'))
    p.add(`${path}.verbatim`, 'only a boolean, and only on mrkdwn');
}

function button(p: Problems, path: string, value: unknown): void {
  if (!isObject(value) || value.type !== 'button')
    return p.add(path, 'only buttons are supported in actions');
  p.onlyKeys(path, value, ['type', 'text', 'action_id', 'url', 'value', 'style']);
  textObject(p, `${path}.text`, value.text, { plainOnly: true, max: 75 });
  p.string(`${path}.action_id`, value.action_id, { max: 255 });
  if (p.string(`${path}.url`, value.url, { max: 3000 }) && !/^https?:\/\//.test(value.url))
    p.add(`${path}.url`, 'must be an http(s) URL');
  p.string(`${path}.value`, value.value, { max: 2000 });
  if (value.style !== undefined && value.style !== 'primary' && value.style !== 'danger')
    p.add(`${path}.style`, 'must be primary or danger');
}

/** Block Kit's layout blocks as a message may use them (docs.slack.dev/reference/block-kit/blocks). */
function block(p: Problems, path: string, value: unknown): void {
  if (!isObject(value)) return p.add(path, 'must be an object');
  p.string(`${path}.block_id`, value.block_id, { max: BLOCK_ID });
  switch (value.type) {
    case 'header':
      p.onlyKeys(path, value, ['type', 'block_id', 'text']);
      return textObject(p, `${path}.text`, value.text, { plainOnly: true, max: 150 });
    case 'section': {
      p.onlyKeys(path, value, ['type', 'block_id', 'text', 'fields', 'accessory']);
      if (value.text === undefined && value.fields === undefined)
        p.add(path, 'a section needs text or fields');
      if (value.text !== undefined) textObject(p, `${path}.text`, value.text);
      if (value.fields !== undefined) {
        if (!Array.isArray(value.fields) || value.fields.length < 1 || value.fields.length > 10)
          p.add(`${path}.fields`, 'must be an array of 1 to 10 text objects');
        else value.fields.forEach((f: unknown, i) => textObject(p, `${path}.fields[${i}]`, f, { max: 2000 }));
      }
      if (value.accessory !== undefined) button(p, `${path}.accessory`, value.accessory);
      return;
    }
    case 'context':
      p.onlyKeys(path, value, ['type', 'block_id', 'elements']);
      if (!Array.isArray(value.elements) || value.elements.length < 1 || value.elements.length > 10)
        return p.add(`${path}.elements`, 'must be an array of 1 to 10 elements');
      value.elements.forEach((e: unknown, i) => textObject(p, `${path}.elements[${i}]`, e));
      return;
    case 'actions':
      p.onlyKeys(path, value, ['type', 'block_id', 'elements']);
      if (!Array.isArray(value.elements) || value.elements.length < 1 || value.elements.length > 25)
        return p.add(`${path}.elements`, 'must be an array of 1 to 25 elements');
      value.elements.forEach((e: unknown, i) => button(p, `${path}.elements[${i}]`, e));
      return;
    case 'divider':
      p.onlyKeys(path, value, ['type', 'block_id']);
      return;
    default:
      p.add(`${path}.type`, `unsupported block type ${JSON.stringify(value.type)}`);
  }
}

/**
 * Slack incoming webhooks: each `webhook(channel)` is a URL of its own, like
 * https://hooks.slack.com/services/T…/B…/…; a valid message is answered 200 `ok`, an invalid one 400
 * `invalid_payload` (its problems are recorded), an unknown webhook 404 `no_service`, and an archived
 * channel 410 `channel_is_archived`. Messages need `text` (the notification fallback) and valid
 * `blocks`: at most 50, each checked against Block Kit's fields and limits.
 */
export class SlackStandIn extends ScriptedPeer<SlackMessageReceived> {
  private readonly channels = new Map<string, string>();
  private readonly archived = new Set<string>();

  /** A new incoming-webhook URL that posts to `channel`. */
  webhook(channel: string): string {
    const path = `/services/T${randomBytes(4).toString('hex').toUpperCase()}/B${randomBytes(4).toString('hex').toUpperCase()}/${randomBytes(12).toString('hex')}`;
    this.channels.set(path, channel);
    return `${this.url}${path}`;
  }

  /** The channel is archived: its webhook answers 410 from now on. */
  archive(channel: string): void {
    this.archived.add(channel);
  }

  /** Messages accepted for one channel, in order. */
  messages(channel: string): SlackMessageReceived[] {
    return this.accepted.filter((m) => m.channel === channel);
  }

  protected judge(req: RecordedRequest): Verdict<SlackMessageReceived> {
    const p = new Problems();
    const channel = this.channels.get(req.url);
    const plain = (status: number, body: string) => ({ status, body });
    if (channel === undefined)
      return { problems: [], accept: () => plain(404, 'no_service'), reject: () => plain(404, 'no_service') };
    if (req.method !== 'POST') p.add('method', `must be POST, got ${req.method}`);
    const body = parseJson(req, p);
    if (body !== undefined) {
      if (!isObject(body)) p.add('body', 'must be a JSON object');
      else {
        p.onlyKeys('message', body, [
          'text',
          'blocks',
          'mrkdwn',
          'unfurl_links',
          'unfurl_media',
          'thread_ts',
        ]);
        p.string('text', body.text, { required: true, min: 1, max: 40_000 });
        if (!Array.isArray(body.blocks) || body.blocks.length < 1 || body.blocks.length > 50)
          p.add('blocks', 'must be an array of 1 to 50 blocks');
        else body.blocks.forEach((b: unknown, i) => block(p, `blocks[${i}]`, b));
      }
    }
    const message = { channel, ...(body as Omit<SlackMessageReceived, 'channel'>) };
    return {
      problems: p.list,
      payload: message,
      accept: () => (this.archived.has(channel) ? plain(410, 'channel_is_archived') : plain(200, 'ok')),
      reject: () => plain(400, 'invalid_payload'),
    };
  }
}
