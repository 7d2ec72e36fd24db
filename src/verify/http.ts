// HTTP health checks for verification (`verification.http`): one GET, judged by its status and
// optionally one field of its JSON body. The adapter runs the request; the judgement is a pure
// function, so every way a check can fail is tested without a server.
import axios, { type AxiosInstance } from 'axios';
import type { HttpCheck } from '../api/remediation.ts';
import { errorMessage } from '../telemetry/logger.ts';

export type HttpFailureReason =
  | 'UnexpectedStatus'
  | 'NotJson'
  | 'FieldMissing'
  | 'FieldMismatch'
  | 'Timeout'
  | 'ConnectionRefused'
  | 'Unreachable';

/** One check's outcome. `message` summarises the answer: the pending reason while it fails. */
export type HttpObservation =
  { passed: true; message: string } | { passed: false; reason: HttpFailureReason; message: string };

export type HttpService = NonNullable<HttpCheck['service']>;

/** Where a Service endpoint is reached from; tests point it at a loopback server. */
export type ServiceResolver = (service: HttpService, namespace: string) => string;

/** In-cluster DNS: `<scheme>://<service>.<namespace>.svc:<port><path>`. */
export const clusterServiceUrl: ServiceResolver = (s, namespace) =>
  `${s.scheme}://${s.name}.${namespace}.svc:${s.port}${s.path}`;

/** The URL a check requests: its own, or its Service's through the resolver. */
export function checkUrl(
  check: HttpCheck,
  namespace: string,
  resolve: ServiceResolver = clusterServiceUrl,
): string {
  if (check.url) return check.url;
  if (check.service) return resolve(check.service, namespace);
  throw new Error('an HTTP check needs a url or a service');
}

/** The URL as messages show it: no query string or fragment, which may carry tokens. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url.replace(/[?#].*$/, '');
  }
}

const BODY_SHOWN = 200;
/** A body in one line, at most BODY_SHOWN characters, for a status message. */
export function summariseBody(body: string): string {
  const line = body.replace(/\s+/g, ' ').trim();
  if (line === '') return '(empty body)';
  return line.length > BODY_SHOWN ? `${line.slice(0, BODY_SHOWN)}…` : line;
}

/** `a.b[0].c` → ['a', 'b', 0, 'c']. */
export function fieldPath(path: string): (string | number)[] {
  return path.split('.').flatMap((part) => {
    const [name = '', ...indexes] = part.split('[');
    return [name, ...indexes.map((i) => Number(i.replace(']', '')))].filter((p) => p !== '');
  });
}

/** The value at `path` in a parsed JSON document, or `found: false`. */
export function jsonField(
  document: unknown,
  path: string,
): { found: true; value: unknown } | { found: false } {
  let value = document;
  for (const segment of fieldPath(path)) {
    if (typeof segment === 'number' ? !Array.isArray(value) : typeof value !== 'object' || value === null)
      return { found: false };
    const container = value as Record<string | number, unknown>;
    if (!Object.hasOwn(container, segment)) return { found: false };
    value = container[segment];
  }
  return { found: true, value };
}

/** A JSON value as expectedValue is written: strings as they are, everything else as JSON. */
function asExpected(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Whether an answer satisfies the check (pure). */
export function evaluateHttpResponse(
  check: Pick<HttpCheck, 'expectedStatus' | 'jsonPath' | 'expectedValue'>,
  url: string,
  response: { status: number; body: string },
): HttpObservation {
  const answered = `GET ${shownUrl(url)} answered ${response.status}`;
  if (response.status !== check.expectedStatus)
    return {
      passed: false,
      reason: 'UnexpectedStatus',
      message: `${answered} (expected ${check.expectedStatus}): ${summariseBody(response.body)}`,
    };
  const { jsonPath, expectedValue } = check;
  if (jsonPath === undefined || expectedValue === undefined) return { passed: true, message: answered };
  let document: unknown;
  try {
    document = JSON.parse(response.body);
  } catch {
    return {
      passed: false,
      reason: 'NotJson',
      message: `${answered} but the body is not JSON (${jsonPath} expected ${JSON.stringify(expectedValue)}): ${summariseBody(response.body)}`,
    };
  }
  const field = jsonField(document, jsonPath);
  if (!field.found)
    return {
      passed: false,
      reason: 'FieldMissing',
      message: `${answered} without the field ${jsonPath}: ${summariseBody(response.body)}`,
    };
  const shown = `${answered} with ${jsonPath} ${JSON.stringify(field.value)}`;
  if (asExpected(field.value) !== expectedValue)
    return {
      passed: false,
      reason: 'FieldMismatch',
      message: `${shown} (expected ${JSON.stringify(expectedValue)})`,
    };
  return { passed: true, message: shown };
}

/** A request that got no answer, by cause (pure). */
export function unanswered(url: string, timeoutMs: number, error: unknown): HttpObservation {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  const get = `GET ${shownUrl(url)}`;
  if (code === 'ERR_CANCELED' || code === 'ECONNABORTED' || code === 'ETIMEDOUT')
    return { passed: false, reason: 'Timeout', message: `${get}: no answer within ${timeoutMs} ms` };
  if (code === 'ECONNREFUSED')
    return { passed: false, reason: 'ConnectionRefused', message: `${get}: connection refused` };
  return { passed: false, reason: 'Unreachable', message: `${get}: ${errorMessage(error)}` };
}

const MAX_BODY_BYTES = 64 * 1024;

/** Runs one HTTP check against the real endpoint. */
export class HttpHealthChecker {
  private readonly http: AxiosInstance;
  private readonly resolve: ServiceResolver;

  constructor(options: { resolveService?: ServiceResolver } = {}) {
    this.resolve = options.resolveService ?? clusterServiceUrl;
    this.http = axios.create({
      // Judge the first answer as it is: a redirect is an unexpected status, not followed.
      maxRedirects: 0,
      maxContentLength: MAX_BODY_BYTES,
      responseType: 'text',
      transformResponse: (body: unknown) => body,
      validateStatus: () => true,
      headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.1', 'user-agent': 'selfheal-verify' },
    });
  }

  /** One GET of the check's endpoint, within `timeoutMs` (the check's timeout, parsed by the caller). */
  async check(check: HttpCheck, namespace: string, timeoutMs: number): Promise<HttpObservation> {
    const url = checkUrl(check, namespace, this.resolve);
    try {
      const response = await this.http.get<string>(url, { signal: AbortSignal.timeout(timeoutMs) });
      return evaluateHttpResponse(check, url, { status: response.status, body: response.data });
    } catch (error) {
      return unanswered(url, timeoutMs, error);
    }
  }
}
