import { eventually } from '../../hack/localenv/wait.ts';
import { StandInServer, type Answer, type RecordedRequest } from './http.ts';

/** One request a stand-in received: what it was, what was wrong with it, and what was answered. */
export interface Exchange<T> {
  at: Date;
  method: string;
  path: string;
  headers: RecordedRequest['headers'];
  body: string;
  /** Everything the stand-in found wrong with the request, per the peer's contract; empty when valid. */
  problems: string[];
  /** The request as the peer understood it, when it was valid. */
  payload?: T;
  /** The HTTP status answered; undefined when the stand-in hung up or never answered. */
  status?: number;
  /** Whether the answer came from the script rather than from validation. */
  scripted: boolean;
}

/**
 * What the next requests get instead of the peer's own answer: an HTTP status (429 with Retry-After,
 * 500, 400 ...), `hang` (never answer: the client's time-out), or `reset` (drop the connection).
 */
export type ScriptedAnswer =
  { status: number; retryAfter?: number | string; body?: string } | 'hang' | 'reset';

export interface Verdict<T> {
  problems: string[];
  payload?: T;
  /** The peer's answer to a valid request; called only when it is answered (not scripted away). */
  accept: () => Answer;
  /** The peer's answer to an invalid one, given its problems. */
  reject: (problems: string[]) => Answer;
}

/**
 * A local server that implements a peer's contract (PagerDuty, Slack, a webhook receiver): it checks
 * every field of every request, records what arrived and answers as the peer would, unless a test
 * scripted the next answers to drive retries. Subclasses say what the contract is (`judge`).
 */
export abstract class ScriptedPeer<T> {
  readonly exchanges: Exchange<T>[] = [];
  private readonly server: StandInServer;
  private readonly script: ScriptedAnswer[] = [];

  constructor() {
    this.server = new StandInServer((req) => this.handle(req));
  }

  protected abstract judge(req: RecordedRequest): Verdict<T>;

  async start(): Promise<this> {
    await this.server.listen();
    return this;
  }

  /** The base URL, http://127.0.0.1:<port>. */
  get url(): string {
    return this.server.url;
  }

  /** The next requests, one each, get these answers in order; then the peer answers normally again. */
  answerNext(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  /** Refuses connections until `up()`, as a peer that is down. */
  down(): Promise<void> {
    return this.server.down();
  }

  up(): Promise<void> {
    return this.server.up();
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** Valid requests the peer accepted (answered 2xx itself, not scripted away), in arrival order. */
  get accepted(): T[] {
    return this.exchanges.flatMap((e) =>
      !e.scripted && e.status !== undefined && e.status < 300 && e.payload !== undefined ? [e.payload] : [],
    );
  }

  /** Requests that broke the contract. A correct client never sends one. */
  get invalid(): Exchange<T>[] {
    return this.exchanges.filter((e) => e.problems.length > 0);
  }

  /** Waits until `probe` holds (returns a value other than undefined or false) and returns it. */
  waitFor<R>(
    what: string,
    probe: () => Promise<R | undefined | false> | R | undefined | false,
    timeoutMs = 30_000,
  ): Promise<R> {
    return eventually(what, probe, { timeoutMs, intervalMs: 100 });
  }

  private handle(req: RecordedRequest): Answer {
    const verdict = this.judge(req);
    const exchange: Exchange<T> = {
      at: new Date(),
      method: req.method,
      path: req.url,
      headers: req.headers,
      body: req.body,
      problems: verdict.problems,
      ...(verdict.payload !== undefined && verdict.problems.length === 0 ? { payload: verdict.payload } : {}),
      scripted: false,
    };
    this.exchanges.push(exchange);
    const scripted = this.script.shift();
    let answer: Answer;
    if (scripted !== undefined) {
      exchange.scripted = true;
      answer =
        typeof scripted === 'string'
          ? scripted
          : {
              status: scripted.status,
              body: scripted.body ?? `scripted ${scripted.status}`,
              ...(scripted.retryAfter !== undefined
                ? { headers: { 'retry-after': String(scripted.retryAfter) } }
                : {}),
            };
    } else answer = verdict.problems.length ? verdict.reject(verdict.problems) : verdict.accept();
    if (typeof answer !== 'string') exchange.status = answer.status;
    return answer;
  }
}

/** Collects a contract's violations with the path of each offending field. */
export class Problems {
  readonly list: string[] = [];

  add(path: string, problem: string): void {
    this.list.push(`${path}: ${problem}`);
  }

  /** Checks a string field: present when required, a string, within its length. */
  string(path: string, value: unknown, { required = false, min = 0, max = Infinity } = {}): value is string {
    if (value === undefined) {
      if (required) this.add(path, 'required');
      return false;
    }
    if (typeof value !== 'string') {
      this.add(path, `must be a string, got ${typeof value}`);
      return false;
    }
    if (value.length < min) this.add(path, `must be at least ${min} characters, got ${value.length}`);
    if (value.length > max) this.add(path, `must be at most ${max} characters, got ${value.length}`);
    return true;
  }

  /** Reports keys the contract does not know (a typo a lenient peer would silently ignore). */
  onlyKeys(path: string, value: Record<string, unknown>, allowed: readonly string[]): void {
    for (const key of Object.keys(value))
      if (!allowed.includes(key))
        this.add(`${path}.${key}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body as JSON, or a problem. */
export function parseJson(req: RecordedRequest, problems: Problems): unknown {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json'))
    problems.add('content-type', `must be application/json, got "${type}"`);
  try {
    return JSON.parse(req.body) as unknown;
  } catch (error) {
    problems.add('body', `not JSON: ${(error as Error).message}`);
    return undefined;
  }
}
