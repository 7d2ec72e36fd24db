// The RabbitMQ management HTTP API (rabbitmq_management), through axios: a queue's backlog, with
// a missing queue, a missing vhost, a refused login and a refused permission told apart.
import axios, { type AxiosInstance } from 'axios';
import { errorMessage } from '../../telemetry/logger.ts';
import type { RabbitConnection } from './connection.ts';
import { QueueFailure, where } from './failure.ts';

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

interface QueueAnswer {
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  message_stats?: {
    publish_details?: { rate?: number };
    deliver_get_details?: { rate?: number };
    ack_details?: { rate?: number };
  } | null;
}

interface ErrorAnswer {
  error?: string;
  reason?: string;
}

const path = (vhost: string, queue: string) =>
  `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`;

export class ManagementClient implements QueueManagement {
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;

  constructor(connection: RabbitConnection, timeoutMs = 10_000) {
    this.baseUrl = connection.managementUrl;
    this.http = axios.create({
      baseURL: connection.managementUrl,
      auth: { username: connection.username, password: connection.password },
      timeout: timeoutMs,
      validateStatus: () => true,
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
    const q = answer.data as QueueAnswer;
    const stats = q.message_stats ?? {};
    return {
      ready: q.messages_ready ?? 0,
      unacknowledged: q.messages_unacknowledged ?? 0,
      consumers: q.consumers ?? 0,
      rates: {
        publish: stats.publish_details?.rate ?? 0,
        deliver: stats.deliver_get_details?.rate ?? 0,
        ack: stats.ack_details?.rate ?? 0,
      },
    };
  }

  /** A 200 or a 404 answer; every other outcome is a QueueFailure that says what went wrong. */
  private async get(url: string, vhost: string, queue: string): Promise<{ status: number; data: unknown }> {
    const at = `${where(vhost, queue)} via the management API at ${this.baseUrl}`;
    let response;
    try {
      response = await this.http.get<unknown>(url);
    } catch (error) {
      throw new QueueFailure('BrokerUnavailable', `${at}: unreachable: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const { status } = response;
    if (status === 200 || status === 404) return { status, data: response.data };
    const reason = (response.data as ErrorAnswer | undefined)?.reason ?? `HTTP ${status}`;
    if (status === 401 && /login failed/i.test(reason))
      throw new QueueFailure('AuthenticationFailed', `${at}: the broker refused the username and password`);
    if (status === 401 || status === 403)
      throw new QueueFailure('AccessRefused', `${at}: access refused: ${reason}`);
    throw new QueueFailure('BrokerUnavailable', `${at}: answered ${status}: ${reason}`);
  }
}
