// The status page server on a loopback port, over in-memory caches and a clock moved by hand: what
// each route answers, with which headers, before and after the caches are filled.
import { request } from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { ObjectCache } from '@kubernetes/client-node';
import type { Incident } from '../../src/api/incident.ts';
import type { StatusComponent } from '../../src/api/statuscomponent.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { opaqueId } from '../../src/statuspage/model.ts';
import { StatusPageServer, type StatusPageServerOptions } from '../../src/statuspage/server.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { parseFeed, summaryErrors } from '../support/statuspage.ts';

class ListCache<T extends { metadata: { name?: string; namespace?: string } }> implements ObjectCache<T> {
  items: T[] = [];
  get(name: string, namespace?: string): T | undefined {
    return this.items.find((i) => i.metadata.name === name && i.metadata.namespace === namespace);
  }
  list(namespace?: string): readonly T[] {
    return this.items.filter((i) => namespace === undefined || i.metadata.namespace === namespace);
  }
}

const T0 = '2026-06-15T12:00:00.000Z';
const component: StatusComponent = {
  metadata: { name: 'api', namespace: 'shop', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { displayName: 'Public API', order: 1 },
};
const incident: Incident = {
  metadata: { name: 'api-down', namespace: 'shop', creationTimestamp: '2026-06-15T11:00:00Z' },
  spec: {
    severity: 'P1',
    title: 'internal',
    dryRun: false,
    source: { type: 'manual' },
    public: {
      components: ['api'],
      updates: [{ time: '2026-06-15T11:05:00Z', status: 'investigating', message: 'The API is down.' }],
    },
  },
  status: { phase: 'Escalated' },
};

let server: StatusPageServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Partial<StatusPageServerOptions> = {}) {
  const components = new ListCache<StatusComponent>();
  const incidents = new ListCache<Incident>();
  const clock = new ManualClock(T0);
  let synced = true;
  server = new StatusPageServer({
    components,
    incidents,
    synced: () => synced,
    title: 'Acme status',
    // The install opted shop in; every other namespace is silent on the page.
    speaksFor: (namespace) => namespace === 'shop',
    clock,
    logger: silentLogger,
    ...options,
  });
  const port = await server.listen('127.0.0.1', 0);
  const base = `http://127.0.0.1:${port}`;
  return {
    components,
    incidents,
    clock,
    base,
    setSynced: (value: boolean) => (synced = value),
    get: (path: string, init?: RequestInit) => fetch(base + path, init),
  };
}

describe('StatusPageServer', () => {
  it('answers 503 until its caches have been filled once, then from them even when they fall out of sync', async () => {
    const s = await start();
    s.setSynced(false);
    const starting = await s.get('/');
    expect(starting.status).toBe(503);
    expect(await starting.text()).toBe('the status page is starting: its caches are not filled yet\n');

    s.components.items = [component];
    s.incidents.items = [incident];
    s.setSynced(true);
    expect((await s.get('/')).status).toBe(200);
    s.setSynced(false);
    const stale = await s.get('/');
    expect(stale.status).toBe(200);
    expect(await stale.text()).toContain('The API is down.');
  });

  it('serves the HTML with its security headers', async () => {
    const s = await start();
    s.components.items = [component];
    const res = await s.get('/');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<span class="component-name">Public API</span>');
    expect((await s.get('/index.html')).status).toBe(200);
  });

  it('serves summary.json and status.json for other sites, with the URL from the Host header', async () => {
    const s = await start();
    s.components.items = [component];
    s.incidents.items = [incident];
    const res = await s.get('/api/v2/summary.json');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const summary = (await res.json()) as { page: { url: string }; status: { indicator: string } };
    expect(summaryErrors(summary)).toEqual([]);
    expect(summary.page.url).toBe(`${s.base}/`);
    expect(summary.status.indicator).toBe('critical');
    const status = (await (await s.get('/api/v2/status.json')).json()) as Record<string, unknown>;
    expect(Object.keys(status)).toEqual(['page', 'status']);
  });

  it('uses the configured URL when there is one', async () => {
    const s = await start({ url: 'https://status.acme.example/' });
    const summary = (await (await s.get('/api/v2/summary.json')).json()) as { page: { url: string } };
    expect(summary.page.url).toBe('https://status.acme.example/');
  });

  it('serves the Atom feed', async () => {
    const s = await start();
    s.incidents.items = [incident];
    const res = await s.get('/history.atom');
    expect(res.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    const feed = await parseFeed(await res.text());
    expect(feed.items).toHaveLength(1);
  });

  it('serves the badge of the page, or of one component by its id', async () => {
    const s = await start();
    s.components.items = [component];
    s.incidents.items = [incident];
    const page = await s.get('/badge.svg');
    expect(page.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(await page.text()).toContain('aria-label="status: major outage"');
    const id = opaqueId('StatusComponent', 'shop', 'api');
    expect(await (await s.get(`/badge.svg?component=${id}`)).text()).toContain(
      'aria-label="Public API: major outage"',
    );
    expect((await s.get('/badge.svg?component=api')).status).toBe(404);
  });

  it('shows only the namespaces the install opted in', async () => {
    const s = await start();
    const staging = (o: { metadata: { name?: string; namespace?: string } }) => ({
      ...o,
      metadata: { ...o.metadata, namespace: 'staging' },
    });
    s.components.items = [
      component,
      { ...staging(component), spec: { displayName: 'Staging API', order: 2 } },
    ];
    s.incidents.items = [staging(incident) as Incident];
    const body = await (await s.get('/')).text();
    expect(body).toContain('Public API');
    expect(body).not.toContain('Staging API');
    expect(body).toContain('All systems operational');
  });

  it("does not change summary.json for a tenant's public incident in a namespace not opted in", async () => {
    const s = await start();
    s.components.items = [component];
    const before = await (await s.get('/api/v2/summary.json')).text();
    const tenant: Incident = {
      ...incident,
      metadata: { ...incident.metadata, name: 'claim', namespace: 'tenant' },
      spec: {
        ...incident.spec,
        public: {
          title: 'Everything is down',
          impact: 'major_outage',
          updates: [
            { time: '2026-06-15T11:05:00Z', status: 'investigating', message: 'Send us your password.' },
          ],
        },
      },
    };
    s.incidents.items = [tenant];
    server?.changed();
    s.clock.advance(61_000);
    const after = await (await s.get('/api/v2/summary.json')).text();
    const strip = (body: string) => body.replace(/"updated_at": "[^"]*"/g, '');
    expect(strip(after)).toBe(strip(before));
    expect(after).not.toContain('Send us your password.');
    expect((JSON.parse(after) as { status: { indicator: string } }).status.indicator).toBe('none');
  });

  it('speaks for no namespace unless told to', async () => {
    const s = await start({ speaksFor: () => false });
    s.components.items = [component];
    s.incidents.items = [incident];
    const summary = (await (await s.get('/api/v2/summary.json')).json()) as {
      components: unknown[];
      incidents: unknown[];
    };
    expect(summary).toMatchObject({ components: [], incidents: [] });
  });

  it('serves a rendered copy: built again on a change (at most once a second) or when a minute old', async () => {
    const s = await start();
    s.components.items = [component];
    await s.get('/');
    s.incidents.items = [incident];
    // No change reported: the copy stands, even after a second.
    s.clock.advance(1_000);
    expect(await (await s.get('/')).text()).toContain('All systems operational');
    // A change is shown once a second has passed since the last build.
    server?.changed();
    expect(await (await s.get('/')).text()).toContain('Major outage');
    s.incidents.items = [];
    server?.changed();
    expect(await (await s.get('/')).text()).toContain('Major outage');
    s.clock.advance(1_000);
    expect(await (await s.get('/')).text()).toContain('All systems operational');
    // Without a change report, the page is built again once a minute (the days roll over).
    s.incidents.items = [incident];
    s.clock.advance(59_999);
    expect(await (await s.get('/')).text()).toContain('All systems operational');
    s.clock.advance(1);
    expect(await (await s.get('/')).text()).toContain('Major outage');
  });

  it('answers a conditional request for the same copy with 304', async () => {
    const s = await start({ url: 'https://status.acme.example/' });
    s.components.items = [component];
    const first = await s.get('/api/v2/summary.json');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const again = await s.get('/api/v2/summary.json', { headers: { 'if-none-match': etag ?? '' } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    s.incidents.items = [incident];
    server?.changed();
    s.clock.advance(1_000);
    const changed = await s.get('/api/v2/summary.json', { headers: { 'if-none-match': etag ?? '' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it.each([
    ['POST', '/', 405],
    ['DELETE', '/api/v2/summary.json', 405],
    ['GET', '/admin', 404],
    ['GET', '/api/v2/incidents.json', 404],
  ])('%s %s → %i', async (method, path, status) => {
    const s = await start();
    expect((await s.get(path, { method })).status).toBe(status);
  });

  it('refuses a Host header that is not a host name, rather than put it into links', async () => {
    const s = await start();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        `${s.base}/api/v2/summary.json`,
        { headers: { host: 'evil.example"><b>x' } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });

  it('answers HEAD with the headers and no body', async () => {
    const s = await start();
    const res = await s.get('/', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(1000);
    expect(await res.text()).toBe('');
  });
});
