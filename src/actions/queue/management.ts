// The RabbitMQ management HTTP API (rabbitmq_management), through axios: a queue's backlog, with
// a missing queue, a missing vhost, a refused login and a refused permission told apart.
import type { AxiosInstance } from 'axios';
import type { EgressGuard } from '../../base/egress.ts';
import { outboundClient, transportProblem } from '../../base/outbound.ts';
import type { RabbitConnection } from './connection.ts';
import { QueueFailure, where } from './failure.ts';
import type { QueueSettings } from './parking.ts';

/** One queue's depth and flow, as the management API last sampled it. */
export interface QueueBacklog {
  /** Waiting for a consumer: what a drain moves and what thresholds compare against. */
  ready: number;
  /** Delivered to a consumer and not yet acknowledged. */
  unacknowledged: number;
  consumers: number;
  /** Per second, over the management plugin's sampling window; 0 until the queue has seen traffic. */
  rates: { publish: number; deliver: number; ack: number };
}

export interface QueueManagement {
  backlog(vhost: string, queue: string): Promise<QueueBacklog>;
}

/** A JSON object's fields; anything else (an array, a string, null) has none. */
function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

interface ErrorAnswer {
  error?: string;
  reason?: string;
}

/**
 * The largest answer read: one queue's object, with a line per consumer, is far below this for any
 * queue a drain is meant for; anything larger is cut off while it arrives and reported.
 */
export const MAX_MANAGEMENT_ANSWER_BYTES = 4 * 1024 * 1024;
const TIMEOUT_MS = 10_000;

const path = (vhost: string, queue: string) =>
  `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`;

export class ManagementClient implements QueueManagement {
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;

  private readonly timeoutMs: number;

  /**
   * `egress`: the guard of the connection Secret's namespace, through which every request goes
   * (the management URL is the tenant's); undefined only where no policy applies (see QueueEngine).
   */
  constructor(connection: RabbitConnection, egress: EgressGuard | undefined, timeoutMs = TIMEOUT_MS) {
    this.baseUrl = connection.managementUrl;
    this.timeoutMs = timeoutMs;
    this.http = outboundClient({
      baseURL: connection.managementUrl,
      auth: { username: connection.username, password: connection.password },
      timeout: timeoutMs,
      maxAnswerBytes: MAX_MANAGEMENT_ANSWER_BYTES,
      validateStatus: () => true,
      ...(egress ? { egress } : {}),
    });
  }

  async backlog(vhost: string, queue: string): Promise<QueueBacklog> {
    const answer = await this.get(path(vhost, queue), vhost, queue);
    if (answer.status === 404) {
      const vhostAnswer = await this.get(`/api/vhosts/${encodeURIComponent(vhost)}`, vhost, queue);
      if (vhostAnswer.status === 404)
        throw new QueueFailure('VhostNotFound', `${where(vhost, queue)}: vhost ${vhost} does not exist`);
      throw new QueueFailure('QueueNotFound', `${where(vhost, queue)}: the queue does not exist`);
    }
    // The management URL is the tenant's, so the answer may be anything. A figure that is absent is
    // 0, as RabbitMQ leaves them out of a queue that has seen no traffic yet; one that is present and
    // not a count is a failure rather than 0, because 0 ready messages would end a drain as skipped
    // or a wait as done when nothing is known. The value itself is never repeated.
    const unexpected = (what: string) =>
      new QueueFailure(
        'UnexpectedAnswer',
        `${where(vhost, queue)} via the management API at ${this.baseUrl}: the answer is not a RabbitMQ queue (${what})`,
      );
    if (Object.keys(record(answer.data)).length === 0) throw unexpected('not a JSON object');
    const q = record(answer.data);
    const stats = record(q['message_stats']);
    const figure = (value: unknown, name: string): number => {
      if (value === undefined || value === null) return 0;
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
      throw unexpected(`${name} is not a count`);
    };
    const rate = (details: string) => figure(record(stats[details])['rate'], `${details}.rate`);
    return {
      ready: figure(q['messages_ready'], 'messages_ready'),
      unacknowledged: figure(q['messages_unacknowledged'], 'messages_unacknowledged'),
      consumers: figure(q['consumers'], 'consumers'),
      rates: {
        publish: rate('publish_details'),
        deliver: rate('deliver_get_details'),
        ack: rate('ack_details'),
      },
    };
  }

  /** The queue's declared arguments and effective policy; undefined when the queue does not exist. */
  async settings(vhost: string, queue: string): Promise<QueueSettings | undefined> {
    const answer = await this.get(path(vhost, queue), vhost, queue);
    if (answer.status === 404) return undefined;
    const q = record(answer.data);
    // An answer that is not an object of settings counts as none: RabbitMQ sends `[]` for no policy.
    return { arguments: record(q['arguments']), policy: record(q['effective_policy_definition']) };
  }

  /**
   * A 200 or a 404 answer; every other outcome is a QueueFailure that says what went wrong, in our
   * own words: the management URL is the tenant's, so an answer's `reason` is read to tell a failed
   * login from a refused permission, never repeated.
   */
  private async get(url: string, vhost: string, queue: string): Promise<{ status: number; data: unknown }> {
    const at = `${where(vhost, queue)} via the management API at ${this.baseUrl}`;
    let response;
    try {
      response = await this.http.get<unknown>(url);
    } catch (error) {
      const problem = transportProblem(error, this.timeoutMs);
      throw new QueueFailure(
        problem.kind === 'egress-refused' ? 'EgressRefused' : 'BrokerUnavailable',
        `${at}: ${problem.kind === 'egress-refused' ? '' : 'unreachable: '}${problem.text}`,
        { cause: error },
      );
    }
    const { status } = response;
    if (status === 200 || status === 404) return { status, data: response.data };
    const reason = (response.data as ErrorAnswer | undefined)?.reason;
    if (status === 401 && typeof reason === 'string' && /login failed/i.test(reason))
      throw new QueueFailure('AuthenticationFailed', `${at}: the broker refused the username and password`);
    if (status === 401 || status === 403)
      throw new QueueFailure(
        'AccessRefused',
        `${at}: access refused (HTTP ${status}): the user has no permission on vhost ${vhost} or lacks the monitoring tag`,
      );
    throw new QueueFailure('BrokerUnavailable', `${at}: answered HTTP ${status}`);
  }
}
