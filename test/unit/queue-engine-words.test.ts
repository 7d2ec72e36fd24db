// The broker is the tenant's to choose, and a Connection.Close it sends carries a reply text of its
// choosing: the engine's log lines and its failures say what happened in our words, never that text.
// A loopback stand-in for the broker opens the connection and closes it at once with such a text.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { parseConnectionSecret } from '../../src/actions/queue/connection.ts';
import { QueueEngine } from '../../src/actions/queue/engine.ts';
import { QueueFailure } from '../../src/actions/queue/failure.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { LOCAL_BROKER_EGRESS } from '../support/rabbit.ts';

const CANARY = 'CANARY-AKIAIOSFODNN7EXAMPLE';

interface Defs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  ConnectionStart: number;
  ConnectionTune: number;
  ConnectionOpenOk: number;
  ConnectionClose: number;
}
// amqplib's own frame encoder; its package exports do not name the file, so it is required by path.
const require = createRequire(import.meta.url);
const defs = require(join(dirname(require.resolve('amqplib')), 'lib', 'defs.js')) as Defs;

/** Answers the handshake, then closes the connection with CANARY as the reply text. */
function closingBroker(socket: Socket): void {
  let buffered = Buffer.alloc(0);
  let headerSeen = false;
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (!headerSeen && buffered.length >= 8) {
      headerSeen = true;
      buffered = buffered.subarray(8);
      socket.write(
        defs.encodeMethod(defs.ConnectionStart, 0, {
          versionMajor: 0,
          versionMinor: 9,
          serverProperties: {},
          mechanisms: Buffer.from('PLAIN'),
          locales: Buffer.from('en_US'),
        }),
      );
    }
    // Frames: type (1), channel (2), size (4), payload, end (1); a method's payload opens with its ids.
    while (headerSeen && buffered.length >= 7 && buffered.length >= 8 + buffered.readUInt32BE(3)) {
      const size = buffered.readUInt32BE(3);
      const method = buffered[0] === 1 ? buffered.readUInt32BE(7) : 0;
      buffered = buffered.subarray(8 + size);
      if (method === 0x000a000b /* Connection.StartOk */)
        socket.write(
          defs.encodeMethod(defs.ConnectionTune, 0, { channelMax: 0, frameMax: 131072, heartbeat: 0 }),
        );
      if (method === 0x000a0028 /* Connection.Open */) {
        socket.write(defs.encodeMethod(defs.ConnectionOpenOk, 0, { knownHosts: '' }));
        // A moment later, once the client holds the open connection (and waits on a channel); a hard
        // error (541, unlike 320 CONNECTION_FORCED) is what amqplib emits as the connection's 'error'.
        setTimeout(
          () =>
            socket.write(
              defs.encodeMethod(defs.ConnectionClose, 0, {
                replyCode: 541,
                replyText: `INTERNAL_ERROR - ${CANARY}`,
                classId: 0,
                methodId: 0,
              }),
            ),
          50,
        );
      }
    }
  });
}

let broker: Server;
let management: HttpServer;
let engine: QueueEngine;
let connection: ReturnType<typeof parseConnectionSecret>;
const logged: string[] = [];

beforeAll(async () => {
  broker = createServer(closingBroker);
  management = createHttpServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ messages_ready: 5, consumers: 0 }));
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => management.listen(0, '127.0.0.1', resolve));
  connection = parseConnectionSecret(
    { namespace: 'shop', name: 'rabbitmq' },
    {
      'amqp-url': `amqp://127.0.0.1:${(broker.address() as AddressInfo).port}`,
      'management-url': `http://127.0.0.1:${(management.address() as AddressInfo).port}`,
      username: 'u',
      password: 'p',
    },
  );
  engine = new QueueEngine({
    clock: systemClock,
    egress: LOCAL_BROKER_EGRESS,
    logger: pino({ level: 'debug' }, { write: (line: string) => void logged.push(line) }),
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => management.close(() => resolve()));
});

describe("the broker's words", () => {
  it('are neither logged nor in the failure when the broker closes the connection', async () => {
    const run = engine.purge(
      connection,
      { vhost: '/', queue: 'orders', threshold: 0 },
      new AbortController().signal,
    );
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueueFailure);
    expect((error as QueueFailure).message).not.toContain(CANARY);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(logged.some((line) => line.includes('AMQP connection error'))).toBe(true);
    expect(logged.filter((line) => line.includes(CANARY))).toEqual([]);
  });
});
