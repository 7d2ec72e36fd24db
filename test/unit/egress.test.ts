// The egress policy against real sockets: loopback servers stand in for every destination, and an
// injected resolver stands in for DNS where a name must resolve to a chosen address.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  EgressPolicy,
  EgressRefused,
  egressRefusal,
  parseAllowList,
  type EgressSettings,
  type Resolver,
} from '../../src/base/egress.ts';
import { guardedRequest, outboundClient, transportProblem } from '../../src/base/outbound.ts';
import { guardedSocket } from '../../src/actions/queue/connection.ts';
import { HttpHealthChecker } from '../../src/verify/http.ts';
import type { HttpCheck } from '../../src/api/remediation.ts';

const policy = (settings: Partial<EgressSettings> = {}, resolver?: Resolver) =>
  new EgressPolicy({ allow: [], lifted: [], selfAddresses: [], ...settings }, resolver);
const loopbackAllowed = (resolver?: Resolver) => policy({ lifted: ['loopback'] }, resolver);
/** A resolver that knows only these names. */
const hosts =
  (table: Record<string, string[]>): Resolver =>
  (host) => {
    const found = table[host];
    if (!found) return Promise.reject(Object.assign(new Error(`no ${host}`), { code: 'ENOTFOUND' }));
    return Promise.resolve(found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };

/** A loopback server that counts requests; `handle` answers them. */
class Stand {
  requests = 0;
  port = 0;
  readonly server: Server;
  constructor(handle: (res: import('node:http').ServerResponse) => void) {
    this.server = createServer((_req, res) => {
      this.requests++;
      handle(res);
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const ok = new Stand((res) => res.end('{"status":"ok"}'));
const redirect = new Stand((res) => {
  res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
  res.end();
});
const endless = new Stand((res) => {
  // A never-ending answer: the client must cut it off, not buffer it whole.
  res.writeHead(200, { 'content-type': 'text/plain' });
  const chunk = 'x'.repeat(16 * 1024);
  const write = () => {
    while (res.write(chunk));
    res.once('drain', write);
  };
  write();
});
beforeAll(() => Promise.all([ok.listen(), redirect.listen(), endless.listen()]));
afterAll(() => Promise.all([ok.close(), redirect.close(), endless.close()]));

/** GET through a namespace's guard; the error when refused. */
async function get(p: EgressPolicy, url: string, namespace = 'shop') {
  const http = outboundClient({ maxAnswerBytes: 64 * 1024, validateStatus: () => true, timeout: 2000 });
  return http.get<string>(url, { ...guardedRequest(p.forNamespace(namespace)), responseType: 'text' });
}
async function refusal(p: EgressPolicy, url: string, namespace = 'shop'): Promise<EgressRefused> {
  const error = await get(p, url, namespace).then(
    () => undefined,
    (e: unknown) => e,
  );
  const refused = egressRefusal(error);
  if (!refused) throw new Error(`expected a refusal, got ${String(error)}`);
  return refused;
}

describe('loopback', () => {
  it('is refused by default, before any request reaches the server', async () => {
    const before = ok.requests;
    const refused = await refusal(policy(), `http://127.0.0.1:${ok.port}/health`);
    expect(refused.message).toBe(
      'egress to 127.0.0.1 refused: 127.0.0.1 is a loopback address; the install does not allow loopback egress (--egress-allow-loopback)',
    );
    expect(ok.requests).toBe(before);
  });

  it('is reached with --egress-allow-loopback', async () => {
    const answer = await get(loopbackAllowed(), `http://127.0.0.1:${ok.port}/health`);
    expect(answer.status).toBe(200);
  });

  it('is refused for a name that resolves to it, on the address the socket would connect to', async () => {
    // The name itself is allowed: only the resolved address, checked in the agent's lookup, refuses it.
    const p = policy({ allow: ['status.example.com'] }, hosts({ 'status.example.com': ['127.0.0.1'] }));
    const before = ok.requests;
    const refused = await refusal(p, `http://status.example.com:${ok.port}/`);
    expect(refused.message).toContain('127.0.0.1 is a loopback address');
    expect(ok.requests).toBe(before);
  });

  it('is refused when any one of the addresses a name has is refused', async () => {
    const p = policy({ allow: ['*.example.com'] }, hosts({ 'a.example.com': ['93.184.216.34', '::1'] }));
    expect((await refusal(p, `http://a.example.com:${ok.port}/`)).message).toContain(
      '::1 is a loopback address',
    );
  });

  it('refuses the name localhost with the system resolver as well', async () => {
    expect((await refusal(policy(), `http://localhost:${ok.port}/`)).message).toContain(
      'localhost is a loopback address',
    );
  });
});

describe('literal addresses (Node resolves none, so the agent checks them)', () => {
  it.each([
    [
      '169.254.169.254',
      'http://169.254.169.254/latest/meta-data/',
      'is a cloud metadata address',
      'metadata',
    ],
    ['an IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]:PORT/', 'is a loopback address', 'loopback'],
    ['the unspecified address', 'http://0.0.0.0:PORT/', 'is a loopback address', 'loopback'],
    ['IPv6 loopback', 'http://[::1]:PORT/', 'is a loopback address', 'loopback'],
    ['IPv6 link-local', 'http://[fe80::1]/', 'is a link-local address', 'link-local'],
    ['IPv4 link-local', 'http://169.254.10.10/', 'is a link-local address', 'link-local'],
    ['Alibaba metadata', 'http://100.100.100.200/', 'is a cloud metadata address', 'metadata'],
    ['AWS IMDS over IPv6', 'http://[fd00:ec2::254]/', 'is a cloud metadata address', 'metadata'],
  ])('refuses %s', async (_what, url, words, flag) => {
    const refused = await refusal(policy(), url.replace('PORT', String(ok.port)));
    expect(refused.message).toContain(words);
    expect(refused.message).toContain(`--egress-allow-${flag}`);
  });

  it('refuses metadata addresses even where link-local egress is allowed', async () => {
    const refused = await refusal(policy({ lifted: ['link-local'] }), 'http://169.254.169.254/');
    expect(refused.message).toContain('is a cloud metadata address');
  });

  it("refuses the operator's own address, even inside an allowed CIDR", async () => {
    const p = policy({ allow: ['10.0.0.0/8'], selfAddresses: ['10.1.2.3'] });
    expect((await refusal(p, 'http://10.1.2.3:8081/metrics')).message).toBe(
      "egress to 10.1.2.3 refused: 10.1.2.3 is the operator's own address; the install does not allow self egress (--egress-allow-self)",
    );
  });

  it('classifies an address that embeds IPv4 as that address, from DNS too', async () => {
    const p = policy(
      { allow: ['*.example.com'] },
      hosts({ 'm.example.com': ['::ffff:169.254.169.254'], 'n.example.com': ['64:ff9b::a9fe:a9fe'] }),
    );
    expect((await refusal(p, 'http://m.example.com/')).message).toContain(
      '169.254.169.254 is a cloud metadata',
    );
    expect((await refusal(p, 'http://n.example.com/')).message).toContain(
      '169.254.169.254 is a cloud metadata',
    );
  });
});

describe('redirects', () => {
  it('are never followed: the redirect is the answer', async () => {
    const answer = await get(loopbackAllowed(), `http://127.0.0.1:${redirect.port}/`);
    expect(answer.status).toBe(302);
  });

  it('make a failed check, not a request to where they point', async () => {
    const checker = new HttpHealthChecker({ egress: loopbackAllowed() });
    const observation = await checker.check(
      { url: `http://127.0.0.1:${redirect.port}/health`, expectedStatus: 200 } as HttpCheck,
      'shop',
      2000,
    );
    expect(observation).toMatchObject({ passed: false, reason: 'UnexpectedStatus' });
    expect(observation.message).not.toContain('169.254');
  });
});

describe('Services', () => {
  const dns = hosts({
    'api.shop.svc': ['127.0.0.1'],
    'api.shop.svc.cluster.local': ['10.96.0.10'],
    'db.payments.svc': ['127.0.0.1'],
    'db.payments.svc.cluster.local': ['10.96.0.11'],
    'example.com': ['93.184.216.34'],
  });

  it("of the object's own namespace are allowed, by name", async () => {
    await expect(policy({}, dns).resolve('api.shop.svc.cluster.local', 'shop')).resolves.toEqual([
      { address: '10.96.0.10', family: 4 },
    ]);
    const checker = new HttpHealthChecker({ egress: loopbackAllowed(dns) });
    const check = {
      service: { name: 'api', port: ok.port, path: '/health', scheme: 'http' },
      expectedStatus: 200,
    };
    const before = ok.requests;
    expect(await checker.check(check as HttpCheck, 'shop', 2000)).toEqual({
      passed: true,
      message: `GET http://api.shop.svc:${ok.port}/health answered 200`,
    });
    expect(ok.requests).toBe(before + 1);
  });

  it('of another namespace are refused, even where the address would be allowed', async () => {
    await expect(
      policy({ allow: ['10.0.0.0/8'] }, dns).resolve('db.payments.svc.cluster.local', 'shop'),
    ).rejects.toThrow(
      "egress to db.payments.svc.cluster.local refused: a Service of namespace payments; only Services of the object's own namespace (shop) are allowed unless --egress-allow lists the host",
    );
    const before = ok.requests;
    expect((await refusal(loopbackAllowed(dns), `http://db.payments.svc:${ok.port}/`)).message).toContain(
      'a Service of namespace payments',
    );
    expect(ok.requests).toBe(before);
  });

  it('of another namespace are allowed when the install lists them', async () => {
    const p = policy({ allow: ['db.payments.svc.cluster.local'] }, dns);
    await expect(p.resolve('db.payments.svc.cluster.local', 'shop')).resolves.toHaveLength(1);
  });

  it('leave every other host to the allow list', async () => {
    await expect(policy({}, dns).resolve('example.com', 'shop')).rejects.toThrow(
      '93.184.216.34 is not an allowed destination',
    );
    await expect(
      policy({ allow: ['example.com'] }, dns).resolve('example.com', 'shop'),
    ).resolves.toHaveLength(1);
    await expect(
      policy({ allow: ['93.184.0.0/16'] }, dns).resolve('example.com', 'shop'),
    ).resolves.toHaveLength(1);
  });
});

describe('answer size', () => {
  it('cuts an endless answer off at the cap and reports it as too large', async () => {
    const error = await get(loopbackAllowed(), `http://127.0.0.1:${endless.port}/`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(transportProblem(error, 2000)).toEqual({
      kind: 'too-large',
      text: 'the answer was larger than 65536 bytes and was cut off',
    });
  });

  it('makes a check fail as AnswerTooLarge', async () => {
    const checker = new HttpHealthChecker({ egress: loopbackAllowed() });
    const observation = await checker.check(
      { url: `http://127.0.0.1:${endless.port}/`, expectedStatus: 200 } as HttpCheck,
      'shop',
      5000,
    );
    expect(observation).toMatchObject({ passed: false, reason: 'AnswerTooLarge' });
    expect(observation.message).toContain('larger than 65536 bytes');
  });
});

describe('AMQP connections', () => {
  it('check a literal host before connecting', () => {
    expect(() => guardedSocket('127.0.0.1', policy().forNamespace('shop'))).toThrow(EgressRefused);
    expect(guardedSocket('127.0.0.1', loopbackAllowed().forNamespace('shop'))).toHaveProperty('lookup');
  });

  it('check a name on the address net.connect resolves it to', async () => {
    const p = policy({ allow: ['rabbit.example.com'] }, hosts({ 'rabbit.example.com': ['127.0.0.1'] }));
    const options = guardedSocket('rabbit.example.com', p.forNamespace('shop'));
    const error = await new Promise<Error>((resolve, reject) => {
      const socket = connect({ host: 'rabbit.example.com', port: ok.port, ...options });
      socket.once('connect', () => reject(new Error('connected')));
      socket.once('error', resolve);
    });
    expect(error).toBeInstanceOf(EgressRefused);
    expect(error.message).toContain('127.0.0.1 is a loopback address');
  });
});

describe('the check without DNS (for validation)', () => {
  it.each([
    ['http://169.254.169.254/x', 'is a cloud metadata address'],
    [
      'http://metadata.google.internal/computeMetadata/v1/',
      'metadata.google.internal is a cloud metadata address',
    ],
    ['http://db.payments.svc:5432/', 'a Service of namespace payments'],
    ['file:///etc/passwd', 'only http and https URLs'],
    ['http://[::1]/', '::1 is a loopback address'],
  ])('refuses %s', (url, words) => {
    expect(policy().urlProblem(url, 'shop')).toContain(words);
  });

  it('passes what only DNS can decide, and own Services', () => {
    expect(policy().urlProblem('http://api.shop.svc:8080/health', 'shop')).toBeUndefined();
    expect(policy().urlProblem('https://hooks.example.com/x', 'shop')).toBeUndefined();
  });
});

describe('the allow list', () => {
  it('takes names, wildcards, addresses and CIDRs', () => {
    expect(() =>
      parseAllowList(['hooks.slack.com', '*.example.com', '10.0.0.0/8', 'fd00::/8', '192.0.2.1']),
    ).not.toThrow();
  });

  it.each([
    [
      '127.0.0.1',
      '"127.0.0.1" is a loopback address: --egress-allow never lifts that class; use --egress-allow-loopback',
    ],
    ['169.254.0.0/16', 'use --egress-allow-link-local'],
    ['10.0.0.0/33', 'is not a CIDR'],
    ['exa mple.com', 'is not a host name'],
  ])('refuses %s', (entry, message) => {
    expect(() => parseAllowList([entry])).toThrow(message);
  });
});
