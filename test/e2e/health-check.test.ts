import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { HttpCheck } from '../../src/api/remediation.ts';
import { EgressPolicy } from '../../src/base/egress.ts';
import { HttpHealthChecker, type HttpObservation } from '../../src/verify/http.ts';
import { StandInServer } from '../support/http.ts';

// The HTTP health check against real local servers: one that is unhealthy and then recovers, one
// that never answers, and a port nobody listens on.
const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

// The stand-ins listen on loopback, which the install must allow.
const egress = new EgressPolicy({ allow: [], lifted: ['loopback'], selfAddresses: [] });

const service = { name: 'api', port: 8080, path: '/api/v1/health', scheme: 'http' as const };
const check: HttpCheck = {
  service,
  expectedStatus: 200,
  jsonPath: 'checks.db.status',
  expectedValue: 'up',
  interval: '10s',
  timeout: '2s',
  holdFor: '1m',
};

describe('the HTTP health check', () => {
  it('fails while the service is unhealthy, saying which comparison failed but not what it answered, then passes', async () => {
    let requests = 0;
    const answers = [
      { status: 503, body: '{"status":"starting"}' },
      { status: 200, body: '{"checks":{"db":{"status":"down"}}}' },
      { status: 200, body: '{"checks":{"db":{"status":"up"}}}' },
    ];
    const server = new StandInServer(() => ({
      ...(answers[Math.min(requests++, answers.length - 1)] ?? { status: 500, body: '' }),
      contentType: 'application/json',
    }));
    servers.push(server);
    const base = await server.listen();
    // The resolver stands in for cluster DNS: the Service resolves to the loopback server.
    const checker = new HttpHealthChecker({
      egress,
      resolveService: (s, ns) => `${base}${s.path}?ns=${ns}`,
    });

    const observed: HttpObservation[] = [];
    for (let i = 0; i < 4; i++) observed.push(await checker.check(check, 'shop', 2000));

    const shown = `GET ${base}/api/v1/health`;
    const look = `to see the answer, curl ${base}/api/v1/health from a pod in the namespace`;
    const up = `${shown} answered 200; field checks.db.status equals the expected value`;
    expect(observed).toEqual([
      {
        passed: false,
        reason: 'UnexpectedStatus',
        message: `${shown} answered 503; expected status 200 (${look})`,
      },
      {
        passed: false,
        reason: 'FieldMismatch',
        message: `${shown} answered 200; field checks.db.status did not equal the expected value (${look})`,
      },
      { passed: true, message: up },
      { passed: true, message: up },
    ]);
    expect(JSON.stringify(observed)).not.toMatch(/starting|down/);
    expect(server.requests.map((r) => [r.method, r.url])).toEqual(
      Array.from({ length: 4 }, () => ['GET', '/api/v1/health?ns=shop']),
    );
    expect(server.requests[0]?.headers['user-agent']).toBe('selfheal-verify');
  });

  it('reports a refused connection and a request that gets no answer in time', async () => {
    const silent: Server = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () =>
        new Promise<void>((resolve) => {
          silent.closeAllConnections();
          silent.close(() => resolve());
        }),
    });
    const port = (silent.address() as AddressInfo).port;
    const checker = new HttpHealthChecker({ egress });
    const timedOut = await checker.check(
      { ...check, service: undefined, url: `http://127.0.0.1:${port}/health` },
      'shop',
      300,
    );
    expect(timedOut).toEqual({
      passed: false,
      reason: 'Timeout',
      message: `GET http://127.0.0.1:${port}/health: no answer within 300 ms`,
    });

    const closed = new StandInServer();
    const url = `${await closed.listen()}/health`;
    await closed.close();
    expect(await checker.check({ ...check, service: undefined, url }, 'shop', 2000)).toEqual({
      passed: false,
      reason: 'ConnectionRefused',
      message: `GET ${url}: connection refused`,
    });
  });

  it('does not follow a redirect: the first answer is judged', async () => {
    const server = new StandInServer(() => ({ status: 302, body: 'moved' }));
    servers.push(server);
    const url = `${await server.listen()}/health`;
    const observation = await new HttpHealthChecker({ egress }).check(
      { ...check, service: undefined, url },
      'shop',
      2000,
    );
    expect(observation).toMatchObject({ passed: false, reason: 'UnexpectedStatus' });
    expect(observation.message).toBe(
      `GET ${url} answered 302; expected status 200 (to see the answer, curl ${url} from a pod in the namespace)`,
    );
  });

  it('refuses a loopback endpoint where the install does not allow loopback egress', async () => {
    const server = new StandInServer(() => ({ status: 200, body: 'ok' }));
    servers.push(server);
    const url = `${await server.listen()}/health`;
    const strict = new HttpHealthChecker({
      egress: new EgressPolicy({ allow: [], lifted: [], selfAddresses: [] }),
    });
    const observation = await strict.check({ ...check, service: undefined, url }, 'shop', 2000);
    expect(observation).toMatchObject({ passed: false, reason: 'EgressRefused' });
    expect(observation.message).toContain('127.0.0.1 is a loopback address');
    expect(server.requests).toHaveLength(0);
  });
});
