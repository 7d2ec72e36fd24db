// Test and benchmark access to a local RabbitMQ: seed queues with varied messages, read them back,
// cut connections and restart the broker, all against the real server the tier started.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp, { type ChannelModel, type Message, type Options } from 'amqplib';
import axios from 'axios';
import { EgressPolicy } from '../../src/base/egress.ts';
import type { RabbitMqInfo } from '../../hack/localenv/services.ts';
import type { RabbitConnection } from '../../src/actions/queue/connection.ts';

const run = promisify(execFile);

export interface Outgoing {
  content: Buffer;
  options: Options.Publish;
}

/** The `i` each generated message carries in its body, to match copies of the same message. */
/** The egress policy of an install whose broker runs on loopback, as the tests' broker does. */
export const LOCAL_BROKER_EGRESS = new EgressPolicy({ allow: [], lifted: ['loopback'], selfAddresses: [] });

export function idOf(message: Message): number {
  return (JSON.parse(message.content.toString()) as { i: number }).i;
}

/**
 * `count` messages whose properties and headers vary the way real traffic does: JSON and binary
 * bodies of different sizes, header values of every AMQP type amqplib round-trips, messages with
 * and without messageId, expiration, priority and user_id, persistent and (unless `persistentOnly`)
 * transient ones.
 */
export function variedMessages(
  count: number,
  { persistentOnly = false, username = 'guest' } = {},
): Outgoing[] {
  const contentTypes = ['application/json', 'text/plain', 'application/octet-stream'];
  return Array.from({ length: count }, (_, i) => {
    const padding = 'x'.repeat((i * 37) % 1500);
    const content = Buffer.from(JSON.stringify({ i, order: `o-${i}`, padding }));
    const options: Options.Publish = {
      persistent: persistentOnly || i % 5 !== 0,
      contentType: contentTypes[i % contentTypes.length],
      headers: {
        i,
        tenant: `acme-${i % 7}`,
        flag: i % 2 === 0,
        ratio: i / 3,
        big: 2 ** 40 + i,
        nested: { level: i % 5, tags: ['a', `t${i % 3}`] },
        raw: Buffer.from([i % 256, 1, 2]),
        when: { '!': 'timestamp', value: 1_780_000_000 + i },
      },
    };
    if (i % 3 !== 0) options.messageId = `msg-${i}`;
    if (i % 4 === 0) options.correlationId = `corr-${i % 100}`;
    if (i % 6 === 0) options.replyTo = 'replies';
    if (i % 8 === 0) options.expiration = '86400000';
    if (i % 9 === 0) options.priority = i % 10;
    if (i % 10 === 0) options.userId = username;
    if (i % 11 === 0) options.contentEncoding = 'identity';
    if (i % 2 === 1) {
      options.timestamp = 1_780_000_000 + i;
      options.type = 'order.created';
      options.appId = 'shop';
    }
    return { content, options };
  });
}

/** Queue names unique to one test. */
export function queueNames<const K extends string>(prefix: string, ...kinds: K[]): Record<K, string> {
  const id = randomBytes(3).toString('hex');
  return Object.fromEntries(kinds.map((k) => [k, `${prefix}-${id}-${k}`])) as Record<K, string>;
}

export class RabbitTestClient {
  readonly info: RabbitMqInfo;
  private readonly auth: { username: string; password: string };

  constructor(info: RabbitMqInfo) {
    this.info = info;
    this.auth = { username: info.username, password: info.password };
  }

  /** What the connection Secret of these tests says (credentials apart from the URL). */
  connection(overrides: Partial<RabbitConnection> = {}): RabbitConnection {
    const amqpUrl = new URL(this.info.amqpUrl);
    return {
      namespace: 'default',
      amqpUrl: `${amqpUrl.protocol}//${amqpUrl.host}`,
      managementUrl: this.info.managementUrl,
      username: this.info.username,
      password: this.info.password,
      ...overrides,
    };
  }

  async withConnection<T>(use: (c: ChannelModel) => Promise<T>): Promise<T> {
    const c = await amqp.connect(this.info.amqpUrl);
    c.on('error', () => undefined);
    try {
      return await use(c);
    } finally {
      await c.close().catch(() => undefined);
    }
  }

  async declare(...queues: string[]): Promise<void> {
    await this.withConnection(async (c) => {
      const channel = await c.createChannel();
      for (const q of queues) await channel.assertQueue(q, { durable: true });
    });
  }

  /** Publishes with confirms, in order, waiting for the broker every 500 messages. */
  async publish(queue: string, messages: Outgoing[]): Promise<void> {
    await this.withConnection(async (c) => {
      const channel = await c.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      for (const [n, m] of messages.entries()) {
        channel.sendToQueue(queue, m.content, m.options);
        if (n % 500 === 499) await channel.waitForConfirms();
      }
      await channel.waitForConfirms();
    });
  }

  /** Ready messages right now (a passive declare: exact, unlike the management API's sampled figures). */
  async depth(queue: string): Promise<number> {
    return this.withConnection(async (c) => (await (await c.createChannel()).checkQueue(queue)).messageCount);
  }

  /** Takes every ready message out of the queue, in order, acknowledging them. */
  async drain(queue: string): Promise<Message[]> {
    return this.withConnection(async (c) => {
      const channel = await c.createChannel();
      const expected = (await channel.checkQueue(queue)).messageCount;
      const messages: Message[] = [];
      if (expected === 0) return messages;
      await channel.prefetch(1000);
      await new Promise<void>((resolve) => {
        void channel.consume(queue, (m) => {
          if (!m) return;
          messages.push(m);
          channel.ack(m);
          if (messages.length === expected) resolve();
        });
      });
      // Closing the channel first sends its acknowledgements before the connection goes: amqplib may
      // write a connection close ahead of a channel's queued frames, and the broker would requeue.
      await channel.close();
      return messages;
    });
  }

  /** A GET of the management API. */
  async management(path: string): Promise<{ status: number; data: unknown }> {
    const { status, data } = await axios.get<unknown>(`${this.info.managementUrl}${path}`, {
      auth: this.auth,
      validateStatus: () => true,
    });
    return { status, data };
  }

  async deleteQueues(...queues: string[]): Promise<void> {
    for (const q of queues)
      await axios.delete(`${this.info.managementUrl}/api/queues/%2F/${encodeURIComponent(q)}`, {
        auth: this.auth,
        validateStatus: () => true,
      });
  }

  /** Closes, from the broker's side, every client connection whose name starts with `prefix`. */
  /**
   * The connection Secret's data as docs/queue-drain.md describes it. `passwordSuffix` lets a test
   * store the password as editors often leave it (a trailing newline), which the reader must trim.
   */
  connectionSecretData({ passwordSuffix = '' } = {}): Record<string, string> {
    const c = this.connection();
    return {
      'amqp-url': c.amqpUrl,
      'management-url': c.managementUrl,
      username: c.username,
      password: `${c.password}${passwordSuffix}`,
    };
  }

  /** The broker's connections whose client-given name starts with `prefix` (management API). */
  async connections(prefix: string): Promise<string[]> {
    const { data } = await axios.get<{ name: string; client_properties?: { connection_name?: string } }[]>(
      `${this.info.managementUrl}/api/connections`,
      { auth: this.auth },
    );
    return data.filter((c) => c.client_properties?.connection_name?.startsWith(prefix)).map((c) => c.name);
  }

  async closeConnections(prefix: string): Promise<number> {
    const ours = (await this.connections(prefix)).map((name) => ({ name }));
    for (const c of ours)
      await axios.delete(`${this.info.managementUrl}/api/connections/${encodeURIComponent(c.name)}`, {
        auth: this.auth,
        headers: { 'X-Reason': 'test cuts the connection' },
      });
    return ours.length;
  }

  /** rabbitmqctl against this node (stop_app and start_app restart the broker inside its VM). */
  async rabbitmqctl(...args: string[]): Promise<string> {
    const { stdout } = await run('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', this.info.nodeName, ...args], {
      env: { ...process.env, ...this.info.ctlEnv },
      timeout: 120_000,
    });
    return stdout;
  }
}
