// HTTP health checks for verification (`verification.http`): one GET, judged by its status and
// optionally one field of its JSON body. The adapter runs the request; the judgement is a pure
// function, so every way a check can fail is tested without a server.
import type { AxiosInstance } from 'axios';
import type { HttpCheck } from '../api/remediation.ts';
import type { EgressPolicy } from '../base/egress.ts';
import { guardedRequest, outboundClient, transportProblem } from '../base/outbound.ts';

export type HttpFailureReason =
  | 'UnexpectedStatus'
  | 'NotJson'
  | 'FieldMissing'
  | 'FieldMismatch'
  | 'Timeout'
  | 'ConnectionRefused'
  | 'EgressRefused'
  | 'AnswerTooLarge'
  | 'Unreachable';

/**
 * One check's outcome. `message` describes the answer without its content (status, size, time,
 * which comparison failed): the pending reason while it fails.
 */
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

/** An answer as it is judged: the body only to parse, never to show. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * How a person sees the answer for themselves, since no message shows it: the Service form gets a
 * port-forward, any other URL a curl from inside the cluster.
 */
export function seeItYourself(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'to see the answer, curl the URL from a pod in the namespace';
  }
  const [service, namespace, svc] = u.hostname.split('.');
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  if (service && namespace && svc === 'svc')
    return `to see the answer: kubectl -n ${namespace} port-forward svc/${service} ${port}, then curl ${u.protocol}//localhost:${port}${u.pathname}`;
  return `to see the answer, curl ${shownUrl(url)} from a pod in the namespace`;
}

/**
 * Whether an answer satisfies the check (pure). Nothing of the body reaches the message: only the
 * status and which comparison failed; the endpoint is the tenant's to choose, so what it answers is
 * never repeated into status, Events or logs. Neither the size nor the time is shown either: they
 * change from one check to the next, and the message is the verification's status, which changes
 * only when something meaningful does.
 */
export function evaluateHttpResponse(
  check: Pick<HttpCheck, 'expectedStatus' | 'jsonPath' | 'expectedValue'>,
  url: string,
  answer: HttpAnswer,
): HttpObservation {
  const answered = `GET ${shownUrl(url)} answered ${answer.status}`;
  const failed = (reason: HttpFailureReason, why: string): HttpObservation => ({
    passed: false,
    reason,
    message: `${answered}; ${why} (${seeItYourself(url)})`,
  });
  if (answer.status !== check.expectedStatus)
    return failed('UnexpectedStatus', `expected status ${check.expectedStatus}`);
  const { jsonPath, expectedValue } = check;
  if (jsonPath === undefined || expectedValue === undefined) return { passed: true, message: answered };
  let document: unknown;
  try {
    document = JSON.parse(answer.body);
  } catch {
    return failed('NotJson', `the body is not JSON, so field ${jsonPath} could not be compared`);
  }
  const field = jsonField(document, jsonPath);
  if (!field.found) return failed('FieldMissing', `the body has no field ${jsonPath}`);
  if (asExpected(field.value) !== expectedValue)
    return failed('FieldMismatch', `field ${jsonPath} did not equal the expected value`);
  return { passed: true, message: `${answered}; field ${jsonPath} equals the expected value` };
}

/** A request that got no (usable) answer, by cause, in our own words (pure). */
export function unanswered(url: string, timeoutMs: number, error: unknown): HttpObservation {
  const get = `GET ${shownUrl(url)}`;
  const problem = transportProblem(error, timeoutMs);
  switch (problem.kind) {
    case 'timeout':
      return { passed: false, reason: 'Timeout', message: `${get}: ${problem.text}` };
    case 'refused':
      return { passed: false, reason: 'ConnectionRefused', message: `${get}: ${problem.text}` };
    case 'egress-refused':
      return { passed: false, reason: 'EgressRefused', message: `${get}: ${problem.text}` };
    case 'too-large':
      return {
        passed: false,
        reason: 'AnswerTooLarge',
        message: `${get}: ${problem.text} (${seeItYourself(url)})`,
      };
    default:
      return { passed: false, reason: 'Unreachable', message: `${get}: ${problem.text}` };
  }
}

/** The largest answer a check reads; a health endpoint's answer is small. */
export const MAX_CHECK_ANSWER_BYTES = 64 * 1024;

/** Runs one HTTP check against the real endpoint, through the egress policy. */
export class HttpHealthChecker {
  private readonly http: AxiosInstance;
  private readonly resolve: ServiceResolver;
  private readonly egress: EgressPolicy;

  constructor(options: { egress: EgressPolicy; resolveService?: ServiceResolver }) {
    this.egress = options.egress;
    this.resolve = options.resolveService ?? clusterServiceUrl;
    this.http = outboundClient({
      maxAnswerBytes: MAX_CHECK_ANSWER_BYTES,
      // Judged as it is: a redirect is an unexpected status (the factory never follows one).
      responseType: 'text',
      transformResponse: (body: unknown) => body,
      validateStatus: () => true,
      headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.1', 'user-agent': 'selfheal-verify' },
    });
  }

  /**
   * One GET of the check's endpoint, within `timeoutMs` (the check's timeout, parsed and capped by
   * the caller), abandoned as soon as `signal` aborts (shutdown, a forgotten incident).
   */
  async check(
    check: HttpCheck,
    namespace: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<HttpObservation> {
    const url = checkUrl(check, namespace, this.resolve);
    const refused = this.egress.urlProblem(url, namespace);
    if (refused)
      return { passed: false, reason: 'EgressRefused', message: `GET ${shownUrl(url)}: refused: ${refused}` };
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await this.http.get<string>(url, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        ...guardedRequest(this.egress.forNamespace(namespace)),
      });
      return evaluateHttpResponse(check, url, {
        status: response.status,
        body: typeof response.data === 'string' ? response.data : '',
      });
    } catch (error) {
      return unanswered(url, timeoutMs, error);
    }
  }
}
