// The operator's HTTP servers on loopback: a client that trickles its headers (slowloris) is cut off
// within the headers timeout, connections beyond the cap are refused, and every endpoint (the alert
// webhook, health and metrics, the status page) runs on these limits.
import { get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { AlertWebhook } from '../../src/alerts/webhook.ts';
import type { AlertIntake } from '../../src/alerts/intake.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { HttpService, SERVER_LIMITS, type ServerLimits } from '../../src/runtime/httpserver.ts';
import { StatusPageServer } from '../../src/statuspage/server.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { HealthServer } from '../../src/telemetry/server.ts';

class Hello extends HttpService {
  protected handle(_req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('hello\n');
  }
}

const FAST: ServerLimits = {
  headersTimeoutMs: 300,
  requestTimeoutMs: 600,
  keepAliveTimeoutMs: 200,
  maxConnections: 2,
  maxConnectionsPerAddress: 2,
  checkIntervalMs: 50,
};

const services: HttpService[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function serve(limits: ServerLimits = FAST): Promise<number> {
  const service = new Hello(limits);
  services.push(service);
  return service.listen('127.0.0.1', 0);
}

/** A raw connection (from `from`: on Linux all of 127/8 is loopback); resolves when it is open. */
function open(port: number, from = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(socket));
    socket.on('error', reject);
    sockets.push(socket);
  });
}

/** Resolves with how long the socket stayed open after the call, and what the server wrote. */
function closedAfter(socket: Socket): Promise<{ ms: number; received: string }> {
  const started = performance.now();
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  return new Promise((resolve) =>
    socket.on('close', () => resolve({ ms: performance.now() - started, received })),
  );
}

describe('HttpService limits', () => {
  it('cuts off a client that trickles its headers (slowloris)', async () => {
    const port = await serve();
    const socket = await open(port);
    const closed = closedAfter(socket);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    // One header line every 100 ms: each byte in time for an idle timeout, never done.
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    const { ms, received } = await closed;
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(2_000);
  });

  it('cuts off a client that trickles its body', async () => {
    const port = await serve();
    const socket = await open(port);
    const closed = closedAfter(socket);
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('a'), 100);
    const { ms } = await closed;
    clearInterval(trickle);
    expect(ms).toBeLessThan(2_000);
  });

  it('refuses connections beyond its cap, and serves again once they are gone', async () => {
    const port = await serve();
    const held = [await open(port), await open(port)];
    const third = await open(port);
    const { received } = await closedAfter(third);
    expect(received).toBe('');
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('hello\n');
  });

  it('closes a connection that never sends a byte within the headers timeout', async () => {
    const port = await serve();
    const { ms, received } = await closedAfter(await open(port));
    expect(received).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(FAST.headersTimeoutMs + 500);
  });

  it('keeps one address to its share of connections, so another is still answered', async () => {
    // Timeouts long enough that only the cap can free a slot while the test runs.
    const port = await serve({
      ...FAST,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 20_000,
      maxConnections: 8,
      maxConnectionsPerAddress: 3,
    });
    // One client opens as many as the whole cap allows, and holds them without sending a byte.
    const flood = await Promise.all(Array.from({ length: 8 }, () => open(port)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(flood.filter((socket) => !socket.destroyed).length).toBe(3);
    // The kubelet, say, from an address of its own.
    const answer = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/', localAddress: '127.0.0.2', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(answer).toBe('hello\n');
  });

  it('is what every endpoint of the operator runs on, with the install-wide limits', () => {
    const metrics = new Metrics({ processMetrics: false });
    const endpoints: HttpService[] = [
      new HealthServer({ registry: new Registry(), notReady: () => [] }),
      new AlertWebhook({
        intake: {} as AlertIntake,
        token: 'secret',
        maxBodyBytes: 1024,
        ready: () => true,
        metrics,
        logger: silentLogger,
      }),
      new StatusPageServer({
        components: { get: () => undefined, list: () => [] },
        incidents: { get: () => undefined, list: () => [] },
        synced: () => true,
        title: 'Status',
        speaksFor: () => false,
        clock: new ManualClock('2026-01-01T00:00:00Z'),
        logger: silentLogger,
      }),
    ];
    for (const endpoint of endpoints) {
      const server = (endpoint as unknown as { server: Server }).server;
      expect({
        headersTimeout: server.headersTimeout,
        requestTimeout: server.requestTimeout,
        keepAliveTimeout: server.keepAliveTimeout,
        maxConnections: server.maxConnections,
      }).toEqual({
        headersTimeout: SERVER_LIMITS.headersTimeoutMs,
        requestTimeout: SERVER_LIMITS.requestTimeoutMs,
        keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
        maxConnections: SERVER_LIMITS.maxConnections,
      });
    }
  });
});
