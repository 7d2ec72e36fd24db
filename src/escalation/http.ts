// One HTTP POST with a hard time limit, and the classification every receiver shares: which answers
// are worth retrying and which are final. Credentials travel in URLs (Slack) and bodies (PagerDuty),
// so no message built here contains a URL's path or query, and `redact` removes any credential an
// answer might echo. A URL a tenant chose (webhook, Slack) goes through the egress policy of the
// incident's namespace, and what its endpoint answers is never repeated: only its status and size.
import type { AxiosInstance } from 'axios';
import type { EgressPolicy } from '../base/egress.ts';
import { guardedRequest, outboundClient, transportProblem } from '../base/outbound.ts';
import type { Clock } from '../runtime/clock.ts';
import { MAX_RETRY_AFTER_MS, type DeliveryResult } from './delivery.ts';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Network failures and time-outs: there was no HTTP answer. */
export class TransportError extends Error {}

/** The largest answer read from a receiver (what is kept of it is its size). */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** The largest request sent: PagerDuty's own limit on an event is the largest body we build. */
const MAX_REQUEST_BYTES = 512 * 1024;
export const USER_AGENT = 'selfheal';

/** Scheme, host and port: what a message may say about where a request went. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(an invalid URL)';
  }
}

/** A URL that is a credential, and its path and query: the parts a redaction must catch. */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [url, `${u.pathname}${u.search}`];
  } catch {
    return [url];
  }
}

export interface PostRequest {
  url: string;
  body: string;
  headers?: Record<string, string>;
  /**
   * The namespace whose egress policy a tenant-chosen URL passes (the incident's); absent only for
   * a URL the install set (PagerDuty's), which the policy does not govern.
   */
  tenant?: string;
}

export class HttpPoster {
  private readonly http: AxiosInstance;
  private readonly egress: EgressPolicy;
  readonly timeoutMs: number;

  constructor(timeoutMs: number, egress: EgressPolicy) {
    this.timeoutMs = timeoutMs;
    this.egress = egress;
    this.http = outboundClient({
      timeout: timeoutMs,
      maxAnswerBytes: MAX_ANSWER_BYTES,
      maxRequestBytes: MAX_REQUEST_BYTES,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
    });
  }

  /** POSTs `body`; resolves with any HTTP answer, rejects with a TransportError when there is none. */
  async post({ url, body, headers = {}, tenant }: PostRequest): Promise<HttpAnswer> {
    try {
      const response = await this.http.post<string>(url, body, {
        headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
        // A hard bound on the whole exchange, connection included, on top of axios' idle timeout.
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(tenant === undefined ? {} : guardedRequest(this.egress.forNamespace(tenant))),
      });
      const answerHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.headers as Record<string, unknown>))
        if (typeof v === 'string') answerHeaders[k.toLowerCase()] = v;
      return {
        status: response.status,
        headers: answerHeaders,
        body: typeof response.data === 'string' ? response.data : '',
      };
    } catch (error) {
      throw new TransportError(transportProblem(error, this.timeoutMs).text, { cause: error });
    }
  }
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3), at most
 * MAX_RETRY_AFTER_MS (the receiver is the tenant's: any number of digits may come); undefined when
 * absent or unreadable.
 */
export function retryAfterMs(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  // An HTTP date names its weekday and month; Date.parse alone would read "-5" as a year.
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now.getTime()), MAX_RETRY_AFTER_MS);
}

/** 408, 429 and 5xx may succeed later; everything else that is not 2xx will not. */
export function retriable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Replaces every occurrence of a credential with [redacted]. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}

/** A receiver's answer body as a short single line (peers answer plain text or JSON). */
export function oneLine(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/**
 * What a message says after "answered <status>" of an answer whose endpoint a tenant chose: its
 * size, never its content.
 */
export function answerSize(answer: HttpAnswer): string {
  return ` (${Buffer.byteLength(answer.body)} bytes)`;
}

export interface Exchange {
  /** `pagerduty receiver "oncall"`: how messages name the receiver. */
  who: string;
  receiver: string;
  /** What the peer is, for messages: `PagerDuty at https://events.pagerduty.com`. */
  peer: string;
  secrets: readonly (string | undefined)[];
}

/** Classifies an answer: 2xx delivered, retriable statuses retry (with Retry-After), the rest failed. */
export function classifyAnswer(
  x: Exchange,
  answer: HttpAnswer,
  clock: Clock,
  explain: (answer: HttpAnswer) => string,
): DeliveryResult {
  const detail = redact(explain(answer), x.secrets);
  const base = { receiver: x.receiver, status: answer.status };
  if (answer.status >= 200 && answer.status < 300)
    return { ...base, outcome: 'delivered', message: `${x.who}: ${x.peer} accepted it (${answer.status})` };
  const message = `${x.who}: ${x.peer} answered ${answer.status}${detail}`;
  if (!retriable(answer.status))
    return { ...base, outcome: 'failed', message: `${message} (not retried: retrying cannot help)` };
  const after = retryAfterMs(answer.headers['retry-after'], clock.now());
  return {
    ...base,
    outcome: 'retry',
    message: after === undefined ? message : `${message} (retry after ${after / 1000}s)`,
    ...(after === undefined ? {} : { retryAfterMs: after }),
  };
}

/** Posts and classifies; a transport failure is a retry. */
export async function deliverJson(
  http: HttpPoster,
  clock: Clock,
  x: Exchange,
  request: PostRequest,
  explain: (answer: HttpAnswer) => string,
): Promise<DeliveryResult> {
  let answer: HttpAnswer;
  try {
    answer = await http.post(request);
  } catch (error) {
    const problem = error instanceof TransportError ? error.message : 'request failed';
    return {
      outcome: 'retry',
      receiver: x.receiver,
      message: `${x.who}: ${x.peer}: ${redact(problem, x.secrets)}`,
    };
  }
  return classifyAnswer(x, answer, clock, explain);
}

/** What every HTTP receiver shares: the poster, the clock, and one classified delivery. */
export abstract class HttpReceiver {
  protected readonly http: HttpPoster;
  protected readonly clock: Clock;

  constructor(options: { http: HttpPoster; clock: Clock }) {
    this.http = options.http;
    this.clock = options.clock;
  }

  /** `explain` says what of a non-2xx answer goes into the ledger: by default its size only. */
  protected deliver(
    x: Exchange,
    request: PostRequest,
    explain: (answer: HttpAnswer) => string = answerSize,
  ): Promise<DeliveryResult> {
    return deliverJson(this.http, this.clock, x, request, explain);
  }
}
