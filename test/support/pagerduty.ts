import type { Answer, RecordedRequest } from './http.ts';
import { isObject, parseJson, Problems, ScriptedPeer, type Verdict } from './scripted-peer.ts';

export interface PagerDutyEventReceived {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload?: {
    summary: string;
    source: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  links?: { href: string; text?: string }[];
  images?: { src: string; href?: string; alt?: string }[];
  client?: string;
  client_url?: string;
}

export type AlertState = 'triggered' | 'acknowledged' | 'resolved';

const ACTIONS = ['trigger', 'acknowledge', 'resolve'];
const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const TOP_LEVEL = [
  'routing_key',
  'event_action',
  'dedup_key',
  'payload',
  'links',
  'images',
  'client',
  'client_url',
];
const PAYLOAD = [
  'summary',
  'source',
  'severity',
  'timestamp',
  'component',
  'group',
  'class',
  'custom_details',
];
const MAX_BYTES = 512 * 1024;

function checkEvent(body: unknown, p: Problems, routingKeys: ReadonlySet<string> | undefined): void {
  if (!isObject(body)) {
    p.add('body', 'must be a JSON object');
    return;
  }
  p.onlyKeys('event', body, TOP_LEVEL);
  if (p.string('routing_key', body.routing_key, { required: true })) {
    if (body.routing_key.length !== 32)
      p.add('routing_key', `must be 32 characters, got ${body.routing_key.length}`);
    else if (routingKeys && !routingKeys.has(body.routing_key)) p.add('routing_key', 'Invalid routing key');
  }
  const action = body.event_action;
  if (typeof action !== 'string' || !ACTIONS.includes(action))
    p.add('event_action', `must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
  p.string('dedup_key', body.dedup_key, { required: action !== 'trigger', min: 1, max: 255 });
  if (action === 'trigger' || body.payload !== undefined) {
    const payload = body.payload;
    if (!isObject(payload))
      p.add('payload', action === 'trigger' ? 'required for trigger, as an object' : 'must be an object');
    else {
      p.onlyKeys('payload', payload, PAYLOAD);
      p.string('payload.summary', payload.summary, { required: true, min: 1, max: 1024 });
      p.string('payload.source', payload.source, { required: true, min: 1 });
      if (typeof payload.severity !== 'string' || !SEVERITIES.includes(payload.severity))
        p.add(
          'payload.severity',
          `must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(payload.severity)}`,
        );
      if (p.string('payload.timestamp', payload.timestamp) && Number.isNaN(Date.parse(payload.timestamp)))
        p.add('payload.timestamp', `not an ISO 8601 time: ${payload.timestamp}`);
      for (const field of ['component', 'group', 'class']) p.string(`payload.${field}`, payload[field]);
      if (payload.custom_details !== undefined && !isObject(payload.custom_details))
        p.add('payload.custom_details', 'must be an object');
    }
  }
  if (body.links !== undefined) {
    if (!Array.isArray(body.links)) p.add('links', 'must be an array');
    else
      body.links.forEach((link: unknown, i) => {
        if (!isObject(link)) return p.add(`links[${i}]`, 'must be an object');
        p.onlyKeys(`links[${i}]`, link, ['href', 'text']);
        if (
          p.string(`links[${i}].href`, link.href, { required: true, min: 1 }) &&
          !/^https?:\/\//.test(link.href)
        )
          p.add(`links[${i}].href`, `not an http(s) URL: ${link.href}`);
        p.string(`links[${i}].text`, link.text);
      });
  }
  if (body.images !== undefined && !Array.isArray(body.images)) p.add('images', 'must be an array');
  p.string('client', body.client);
  if (p.string('client_url', body.client_url) && !/^https?:\/\//.test(body.client_url))
    p.add('client_url', `not an http(s) URL: ${body.client_url}`);
}

/**
 * PagerDuty's Events API v2 (`POST /v2/enqueue`), as its documentation and go-pagerduty describe it:
 * every field checked; 202 with `{status, message, dedup_key}` for a valid event; 400 with
 * `{status: "invalid event", message, errors[]}` otherwise. It keeps each alert's state by dedup_key,
 * as PagerDuty does (a trigger on a resolved alert opens a new one). Give `routingKeys` to refuse
 * every other key, as PagerDuty refuses a key that names no integration.
 */
export class PagerDutyStandIn extends ScriptedPeer<PagerDutyEventReceived> {
  private readonly routingKeys: ReadonlySet<string> | undefined;
  /** Alert state per dedup_key, after every accepted event. */
  readonly alerts = new Map<string, { state: AlertState; opened: number }>();
  private generated = 0;

  constructor({ routingKeys }: { routingKeys?: string[] } = {}) {
    super();
    this.routingKeys = routingKeys ? new Set(routingKeys) : undefined;
  }

  protected judge(req: RecordedRequest): Verdict<PagerDutyEventReceived> {
    const p = new Problems();
    if (req.method !== 'POST') p.add('method', `must be POST, got ${req.method}`);
    if (req.url !== '/v2/enqueue') p.add('path', `must be /v2/enqueue, got ${req.url}`);
    if (Buffer.byteLength(req.body) > MAX_BYTES) p.add('body', `over ${MAX_BYTES} bytes`);
    const body = parseJson(req, p);
    if (body !== undefined) checkEvent(body, p, this.routingKeys);
    const event = body as PagerDutyEventReceived;
    return {
      problems: p.list,
      payload: event,
      accept: () => this.accept(event),
      reject: (problems) => ({
        status: 400,
        contentType: 'application/json',
        body: JSON.stringify({
          status: 'invalid event',
          message: 'Event object is invalid',
          errors: problems,
        }),
      }),
    };
  }

  /** Accepts a valid event: the alert's state moves as PagerDuty's would. */
  private accept(event: PagerDutyEventReceived): Answer {
    const dedupKey = event.dedup_key ?? `generated-${++this.generated}`;
    const alert = this.alerts.get(dedupKey);
    if (event.event_action === 'trigger') {
      if (!alert || alert.state === 'resolved')
        this.alerts.set(dedupKey, { state: 'triggered', opened: (alert?.opened ?? 0) + 1 });
    } else if (alert && alert.state !== 'resolved')
      alert.state = event.event_action === 'acknowledge' ? 'acknowledged' : 'resolved';
    return {
      status: 202,
      contentType: 'application/json',
      body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: dedupKey }),
    };
  }

  /** Accepted events for one alert, in order. */
  eventsFor(dedupKey: string): PagerDutyEventReceived[] {
    return this.accepted.filter((e) => e.dedup_key === dedupKey);
  }
}
