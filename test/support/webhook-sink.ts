import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RecordedRequest } from './http.ts';
import { isObject, parseJson, Problems, ScriptedPeer, type Verdict } from './scripted-peer.ts';

export interface WebhookDelivery {
  /** Which endpoint received it: the name given to `endpoint()`. */
  endpoint: string;
  event: string;
  deliveryId?: string;
  body: Record<string, unknown>;
}

const EVENTS = ['trigger', 'acknowledge', 'update', 'resolve'];
const TOLERANCE_S = 300;

/**
 * The receiving end of selfheal's generic webhook, written from docs/escalation.md alone (not from
 * the sender's code), as a user's receiver would be: with a signing secret it rejects, with 401, a
 * request whose X-Selfheal-Signature is not the HMAC-SHA256 of "<timestamp>.<body>" or whose
 * timestamp is more than five minutes away (a replay).
 */
export class WebhookSink extends ScriptedPeer<WebhookDelivery> {
  private readonly endpoints = new Map<string, { name: string; secret?: string }>();
  /** Requests refused for their signature: counted here, not as contract violations. */
  readonly unauthorized: string[] = [];

  /** A new endpoint URL; with `signingSecret`, only correctly signed requests are accepted. */
  endpoint(name: string, { signingSecret }: { signingSecret?: string } = {}): string {
    const path = `/hooks/${name}`;
    this.endpoints.set(path, { name, ...(signingSecret ? { secret: signingSecret } : {}) });
    return `${this.url}${path}`;
  }

  /** Deliveries accepted by one endpoint, in order. */
  deliveries(name: string): WebhookDelivery[] {
    return this.accepted.filter((d) => d.endpoint === name);
  }

  protected judge(req: RecordedRequest): Verdict<WebhookDelivery> {
    const plain = (status: number, body: string) => ({ status, body });
    const endpoint = this.endpoints.get(req.url);
    if (!endpoint)
      return { problems: [], accept: () => plain(404, 'not found'), reject: () => plain(404, 'not found') };
    const p = new Problems();
    if (req.method !== 'POST') p.add('method', `must be POST, got ${req.method}`);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const refusal = endpoint.secret ? this.signatureProblem(endpoint.secret, req, header) : undefined;
    const body = parseJson(req, p);
    let delivery: WebhookDelivery | undefined;
    if (body !== undefined) {
      if (!isObject(body)) p.add('body', 'must be a JSON object');
      else {
        if (body.version !== '1') p.add('version', `must be "1", got ${JSON.stringify(body.version)}`);
        if (typeof body.event !== 'string' || !EVENTS.includes(body.event))
          p.add('event', `must be one of ${EVENTS.join(', ')}, got ${JSON.stringify(body.event)}`);
        if (header('x-selfheal-event') !== body.event) p.add('x-selfheal-event', 'must equal the body event');
        if (body.deliveryId !== undefined && header('x-selfheal-delivery') !== body.deliveryId)
          p.add('x-selfheal-delivery', 'must equal the body deliveryId');
        if (typeof body.sentAt !== 'string' || Number.isNaN(Date.parse(body.sentAt)))
          p.add('sentAt', 'must be an RFC 3339 time');
        const incident = body.incident;
        if (!isObject(incident)) p.add('incident', 'required, an object');
        else {
          for (const field of ['name', 'namespace', 'severity', 'title', 'phase', 'ackCommand'])
            p.string(`incident.${field}`, incident[field], { required: true, min: 1 });
          for (const field of ['attempts', 'links', 'context'])
            if (!Array.isArray(incident[field])) p.add(`incident.${field}`, 'required, an array');
        }
        delivery = {
          endpoint: endpoint.name,
          event: String(body.event),
          ...(typeof body.deliveryId === 'string' ? { deliveryId: body.deliveryId } : {}),
          body,
        };
      }
    }
    return {
      problems: p.list,
      ...(delivery ? { payload: delivery } : {}),
      accept: () => {
        if (!refusal) return plain(200, 'ok');
        this.unauthorized.push(refusal);
        return plain(401, refusal);
      },
      reject: () => plain(400, p.list.join('; ')),
    };
  }

  private signatureProblem(
    secret: string,
    req: RecordedRequest,
    header: (name: string) => string | undefined,
  ): string | undefined {
    const timestamp = header('x-selfheal-timestamp');
    const signature = header('x-selfheal-signature');
    if (!timestamp || !/^[0-9]+$/.test(timestamp)) return 'missing or malformed X-Selfheal-Timestamp';
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_S)
      return 'timestamp too far from now (replay?)';
    if (!signature?.startsWith('v1=')) return 'missing or malformed X-Selfheal-Signature';
    const expected = Buffer.from(
      createHmac('sha256', secret).update(`${timestamp}.${req.body}`).digest('hex'),
    );
    const given = Buffer.from(signature.slice(3));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature mismatch';
    return undefined;
  }
}
