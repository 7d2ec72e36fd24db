// The management API's answer is the tenant's to choose (the management URL is in its Secret): the
// backlog reads only counts out of it, and a field that is not one fails the read in our own words.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConnectionSecret } from '../../src/actions/queue/connection.ts';
import { QueueFailure } from '../../src/actions/queue/failure.ts';
import { ManagementClient } from '../../src/actions/queue/management.ts';
import { LOCAL_BROKER_EGRESS } from '../support/rabbit.ts';

const CANARY = 'CANARY-AKIAIOSFODNN7EXAMPLE';

let answer: unknown;
let server: Server;
let client: ManagementClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const connection = parseConnectionSecret(
    { namespace: 'shop', name: 'rabbitmq' },
    {
      'amqp-url': 'amqp://127.0.0.1:5672',
      'management-url': `http://127.0.0.1:${port}`,
      username: 'u',
      password: 'p',
    },
  );
  client = new ManagementClient(connection, LOCAL_BROKER_EGRESS.forNamespace('shop'));
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function failure(): Promise<QueueFailure> {
  try {
    await client.backlog('/', 'orders');
  } catch (error) {
    if (error instanceof QueueFailure) return error;
    throw error;
  }
  throw new Error('the backlog was read');
}

describe('ManagementClient.backlog', () => {
  it('reads a queue, with the figures RabbitMQ leaves out as 0', async () => {
    answer = { messages_ready: 12, consumers: 2, message_stats: { ack_details: { rate: 1.5 } } };
    expect(await client.backlog('/', 'orders')).toEqual({
      ready: 12,
      unacknowledged: 0,
      consumers: 2,
      rates: { publish: 0, deliver: 0, ack: 1.5 },
    });
  });

  it.each([
    ['a string count', { messages_ready: CANARY, consumers: 1 }, 'messages_ready'],
    ['a string consumer count', { messages_ready: 3, consumers: `${CANARY}-2` }, 'consumers'],
    ['a negative count', { messages_ready: -1 }, 'messages_ready'],
    [
      'a string rate',
      { messages_ready: 3, message_stats: { ack_details: { rate: CANARY } } },
      'ack_details.rate',
    ],
    ['an array', [CANARY], 'not a JSON object'],
    ['a string', CANARY, 'not a JSON object'],
  ])('fails on %s, without repeating it', async (_name, body, what) => {
    answer = body;
    const error = await failure();
    expect(error.reason).toBe('UnexpectedAnswer');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('the answer is not a RabbitMQ queue');
    expect(error.message).toContain(what);
    expect(error.message).not.toContain(CANARY);
  });
});
