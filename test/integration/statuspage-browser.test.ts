/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { stopApiServer } from '../../hack/localenv/controlplane.ts';
import { eventually, freePort } from '../../hack/localenv/wait.ts';
import { API_VERSION, GROUP, VERSION } from '../../src/api/group.ts';
import type { PublicUpdate } from '../../src/api/public.ts';
import type { StatusComponentSpec } from '../../src/api/statuscomponent.ts';
import { createPolicy, postAlerts } from '../support/alerting.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { parseFeed, summaryErrors } from '../support/statuspage.ts';
import { testEnv, tierStateDir } from '../support/tiers.ts';

// The public status page as people see it: headless Chromium (Debian's package, driven by
// puppeteer-core, nothing downloaded) opens the page that a real operator process serves from its
// caches, while incidents come from an alert and from people, change and end on the real API server.
// Every step reads the page as text and fails if an internal name shows; the last one stops the API
// server and the page keeps answering from the cache.
const kc = kubeConfigFor('integration');
const objects = kc.makeApiClient(CustomObjectsApi);
const screenshots = join(tierStateDir('integration'), 'screenshots');
let namespace: string;
let incidents: IncidentClient;
let operator: OperatorProcess;
let browser: Browser;
let page: Page;
let pageUrl: string;
let profile: string;
/** The Incident the alert raised (its name comes from the alert, so it is internal too). */
let alertIncident = '';

const ALERT = 'ContentGenLatencyHigh';
const WORKLOAD = 'contentgen-api';
const LABEL_VALUE = 'ml-platform-squad';
const POLICY = 'contentgen-latency-policy';
const WEB_WORKLOAD = 'web-frontend-v2';
/** Everything internal the page must never show: workloads, the alert, label values, object names. */
const internalNames = () => [
  WORKLOAD,
  ALERT,
  LABEL_VALUE,
  POLICY,
  WEB_WORKLOAD,
  'web-crashloop',
  'uploads-bucket',
  'p99 latency',
  'runbooks.internal',
  namespace,
  ...(alertIncident ? [alertIncident] : []),
];

async function createComponent(name: string, spec: Partial<StatusComponentSpec> & { displayName: string }) {
  await objects.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'statuscomponents',
    body: { apiVersion: API_VERSION, kind: 'StatusComponent', metadata: { name }, spec },
  });
}

async function patchIncident(name: string, spec: Record<string, unknown>): Promise<void> {
  await objects.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural: 'incidents', name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** Appends a public update the way a person (or `kubectl incident update --public`) would. */
async function postUpdate(
  name: string,
  status: PublicUpdate['status'],
  message: string,
  changes: Record<string, unknown> = {},
): Promise<void> {
  const current = (await incidents.get(name)).spec.public;
  const updates = [...(current?.updates ?? []), { time: new Date().toISOString(), status, message }];
  await patchIncident(name, { public: { ...changes, updates } });
}

interface IncidentView {
  title: string;
  impact: string;
  updates: { status: string; message: string }[];
}

interface PageView {
  overall: string;
  components: Record<string, string>;
  current: IncidentView[];
  history: IncidentView[];
  /** Today's bar of each component: its CSS class names the impact. */
  today: Record<string, string>;
  text: string;
  html: string;
  scripts: number;
}

/** Loads the page in the browser and reads it as a person would see it. */
async function readPage(): Promise<PageView> {
  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (response?.status() !== 200) throw new Error(`the page answered ${String(response?.status())}`);
  const html = (await response.text()) || '';
  const view = await page.evaluate(() => {
    const text = (el: Element | null) => el?.textContent.trim() ?? '';
    const incidentsIn = (selector: string) =>
      [...document.querySelectorAll(`${selector} .incident`)].map((i) => ({
        title: text(i.querySelector('.incident-title')),
        impact: text(i.querySelector('.incident-impact')),
        updates: [...i.querySelectorAll('.update')].map((u) => ({
          status: text(u.querySelector('.update-status')),
          message: text(u.querySelector('.update-message')),
        })),
      }));
    const components = [...document.querySelectorAll('.component')];
    return {
      overall: text(document.querySelector('#overall')),
      components: Object.fromEntries(
        components.map((c) => [
          text(c.querySelector('.component-name')),
          text(c.querySelector('.component-status')),
        ]),
      ),
      today: Object.fromEntries(
        components.map((c) => [
          text(c.querySelector('.component-name')),
          [...c.querySelectorAll('.day')].at(-1)?.className ?? '',
        ]),
      ),
      current: incidentsIn('#current'),
      history: incidentsIn('#history'),
      text: document.body.innerText,
      scripts: document.scripts.length,
    };
  });
  return { ...view, html };
}

/** Reloads the page until it shows what is expected; on time-out the error shows what it last said. */
async function waitForPage(what: string, done: (view: PageView) => boolean): Promise<PageView> {
  let last: PageView | undefined;
  try {
    return await eventually(
      `the status page to show ${what}`,
      async () => {
        last = await readPage();
        return done(last) && last;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nlast seen: ${last ? last.text : 'nothing'}`, {
      cause: error,
    });
  }
}

/** The page text, its HTML, summary.json and the feed never contain an internal name. */
async function expectNoInternalNames(view: PageView): Promise<void> {
  const summary = await (await fetch(`${pageUrl}api/v2/summary.json`)).text();
  const feed = await (await fetch(`${pageUrl}history.atom`)).text();
  for (const name of internalNames()) {
    expect({ name, inPageText: view.text.includes(name) }).toEqual({ name, inPageText: false });
    expect({ name, inHtml: view.html.includes(name) }).toEqual({ name, inHtml: false });
    expect({ name, inSummary: summary.includes(name) }).toEqual({ name, inSummary: false });
    expect({ name, inFeed: feed.includes(name) }).toEqual({ name, inFeed: false });
  }
}

async function screenshot(name: string): Promise<string> {
  const file = join(screenshots, `status-page-${name}-${Date.now()}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`status page screenshot: ${file}`);
  return file;
}

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'statuspage');
  incidents = new IncidentClient(kc, namespace);
  mkdirSync(screenshots, { recursive: true });
  await createComponent('contentgen', {
    displayName: 'Content generation API',
    description: 'Writes article drafts and summaries for the web app and the public API.',
    order: 1,
    workloads: [{ kind: 'Deployment', name: WORKLOAD }],
    alertNames: [ALERT],
  });
  await createComponent('web', {
    displayName: 'Web app',
    order: 2,
    workloads: [{ kind: 'Deployment', name: WEB_WORKLOAD }],
  });
  await createComponent('uploads', { displayName: 'Image uploads', order: 3 });
  await createPolicy(kc, namespace, POLICY, {
    match: { alertName: ALERT },
    target: { kind: 'Deployment', nameFromLabel: 'deployment' },
    actions: [{ type: 'rolloutRestart' }],
    public: {
      title: 'Slow responses from content generation',
      impact: 'degraded_performance',
      message: 'Some requests for article drafts take longer than usual. We are investigating.',
    },
  });
  const port = await freePort();
  pageUrl = `http://127.0.0.1:${port}/`;
  operator = await OperatorProcess.start('integration', {
    name: 'statuspage',
    args: [
      '--leader-elect=false',
      '--poll-interval=500ms',
      `--status-page-address=127.0.0.1:${port}`,
      // The tier's other files leave components and incidents in their own namespaces.
      `--status-page-namespaces=${namespace}`,
      '--status-page-title=Acme status',
    ],
  });
  profile = mkdtempSync(join(tmpdir(), 'selfheal-chromium-'));
  browser = await puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 900 });
  // The page carries an ETag and answers 304 to a browser that holds its current copy (the unit
  // tests prove that); every read here must see the page as the server renders it now.
  await page.setCacheEnabled(false);
});

afterAll(async () => {
  // Either may be missing when beforeAll failed part-way.
  await (browser as Browser | undefined)?.close();
  await (operator as OperatorProcess | undefined)?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe('the status page in a real browser', () => {
  it('starts with everything operational and no history', async () => {
    const view = await waitForPage('all operational', (v) => Object.keys(v.components).length === 3);
    expect(view.overall).toBe('All systems operational');
    expect(view.components).toEqual({
      'Content generation API': 'Operational',
      'Web app': 'Operational',
      'Image uploads': 'Operational',
    });
    expect(view.current).toEqual([]);
    expect(view.text).toContain('No incidents in the last 90 days.');
    expect(view.scripts).toBe(0);
  });

  it('shows nothing of an incident until people give it a public side, then its impact from the severity', async () => {
    await incidents.create('web-crashloop', {
      severity: 'P1',
      title: `${WEB_WORKLOAD} pods crashloop after deploy`,
      target: { kind: 'Deployment', name: WEB_WORKLOAD },
    });
    await incidents.waitFor('web-crashloop', 'escalated', (i) => i.status?.phase === 'Escalated');
    expect((await readPage()).overall).toBe('All systems operational');

    await postUpdate('web-crashloop', 'investigating', 'The web app does not load for most visitors.');
    const view = await waitForPage('the web incident', (v) => v.current.length === 1);
    expect(view.overall).toBe('Major outage');
    expect(view.components['Web app']).toBe('Major outage');
    expect(view.components['Content generation API']).toBe('Operational');
    expect(view.current).toEqual([
      {
        title: 'Issue affecting Web app',
        impact: 'Major outage',
        updates: [{ status: 'Investigating', message: 'The web app does not load for most visitors.' }],
      },
    ]);
    await expectNoInternalNames(view);
  });

  it('moves an incident to the history when people resolve it', async () => {
    await postUpdate('web-crashloop', 'resolved', 'The web app is back for everyone.');
    await patchIncident('web-crashloop', {
      resolution: { resolvedBy: 'alice', note: `rolled back ${WEB_WORKLOAD}` },
    });
    const view = await waitForPage(
      'the web incident in the history',
      (v) => v.current.length === 0 && v.history.length === 1,
    );
    expect(view.overall).toBe('All systems operational');
    expect(view.components['Web app']).toBe('Operational');
    expect(view.history[0]?.updates.map((u) => u.status)).toEqual(['Resolved', 'Investigating']);
    expect(view.today['Web app']).toBe('day bg-major_outage');
    await incidents.waitForPhase('web-crashloop', 'Resolved');
    await expectNoInternalNames(await readPage());
  });

  it("gives an alert's incident the policy's plain-language first update, then the updates people post, newest first", async () => {
    const sent = await postAlerts(operator.webhookUrl, [
      {
        labels: { alertname: ALERT, namespace, deployment: WORKLOAD, team: LABEL_VALUE, severity: 'error' },
        annotations: {
          summary: `p99 latency of ${WORKLOAD} above 2s`,
          description: `Runbook: https://runbooks.internal/${WORKLOAD}`,
        },
        startsAt: new Date(Date.now() - 60_000).toISOString(),
        fingerprint: 'a1b2c3d4e5f60789',
      },
    ]);
    expect(sent.status).toBe(200);
    expect(sent.body.alerts?.[0]?.result).toBe('created');
    alertIncident = sent.body.alerts?.[0]?.incident ?? '';
    let view = await waitForPage('the alert incident', (v) => v.current.length === 1);
    expect(view.overall).toBe('Degraded performance');
    expect(view.components['Content generation API']).toBe('Degraded performance');
    expect(view.current[0]).toEqual({
      title: 'Slow responses from content generation',
      impact: 'Degraded performance',
      updates: [
        {
          status: 'Investigating',
          message: 'Some requests for article drafts take longer than usual. We are investigating.',
        },
      ],
    });

    await postUpdate(
      alertIncident,
      'identified',
      'A storage node is overloaded; drafts fail for some users.',
      {
        impact: 'partial_outage',
      },
    );
    await postUpdate(
      alertIncident,
      'monitoring',
      'We moved traffic off the overloaded node and are watching.',
    );
    view = await waitForPage('three updates', (v) => v.current[0]?.updates.length === 3);
    expect(view.overall).toBe('Partial outage');
    expect(view.components).toEqual({
      'Content generation API': 'Partial outage',
      'Web app': 'Operational',
      'Image uploads': 'Operational',
    });
    expect(view.current[0]?.updates).toEqual([
      { status: 'Monitoring', message: 'We moved traffic off the overloaded node and are watching.' },
      { status: 'Identified', message: 'A storage node is overloaded; drafts fail for some users.' },
      {
        status: 'Investigating',
        message: 'Some requests for article drafts take longer than usual. We are investigating.',
      },
    ]);
    expect(view.text).toMatch(/Next update by \d{1,2} \w{3} \d{4}, \d{2}:\d{2} UTC/);
    expect(view.history).toHaveLength(1);
    // The operator tried to act on the (missing) workload: its errors are on the status, never on the page.
    await incidents.waitFor(alertIncident, 'its status to name the workload', (i) =>
      JSON.stringify(i.status).includes(WORKLOAD),
    );
    await expectNoInternalNames(await readPage());
    await screenshot('desktop');

    await page.setViewport({ width: 390, height: 844, isMobile: true });
    await readPage();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot('phone');
    await page.setViewport({ width: 1000, height: 900 });
  });

  it('shows a public update with HTML and a <script> tag as plain text, and runs no script', async () => {
    const hostile = `<script>window.__selfhealPwned = true</script><b>Uploads</b> <img src=x onerror="window.__selfhealPwned = true"> are slow & "flaky"`;
    await incidents.create('uploads-bucket', { severity: 'P3', title: 'uploads-bucket latency' });
    await postUpdate('uploads-bucket', 'investigating', hostile, { components: ['uploads'] });
    const view = await waitForPage('the uploads incident', (v) => v.current.length === 2);
    const uploads = view.current.find((i) => i.updates[0]?.message.includes('Uploads'));
    expect(uploads?.updates[0]?.message).toBe(hostile);
    expect(view.text).toContain(hostile);
    expect(view.scripts).toBe(0);
    const injected = await page.evaluate(() => ({
      pwned: (window as unknown as { __selfhealPwned?: boolean }).__selfhealPwned ?? false,
      bold: document.querySelectorAll('.update-message b, .update-message img').length,
    }));
    expect(injected).toEqual({ pwned: false, bold: 0 });
    expect(view.components['Image uploads']).toBe('Degraded performance');
    expect(view.overall).toBe('Partial outage');

    const res = await fetch(`${pageUrl}api/v2/summary.json`);
    const summary = (await res.json()) as { incidents: { incident_updates: { body: string }[] }[] };
    expect(summaryErrors(summary)).toEqual([]);
    expect(summary.incidents).toHaveLength(2);
    expect(summary.incidents.flatMap((i) => i.incident_updates.map((u) => u.body))).toContain(hostile);
    await expectNoInternalNames(view);
  });

  it('returns to operational when the incidents end, with both in the history and the feed', async () => {
    await postUpdate(alertIncident, 'resolved', 'Drafts are fast again. Thank you for your patience.');
    // Resolved by a person with no public word: selfheal's resolution ends it on the page too.
    await patchIncident('uploads-bucket', { resolution: { resolvedBy: 'bob' } });
    const view = await waitForPage(
      'everything resolved',
      (v) => v.current.length === 0 && v.history.length === 3,
    );
    expect(view.overall).toBe('All systems operational');
    expect(Object.values(view.components)).toEqual(['Operational', 'Operational', 'Operational']);
    expect(view.history.map((i) => i.title)).toEqual([
      'Issue affecting Image uploads',
      'Slow responses from content generation',
      'Issue affecting Web app',
    ]);
    expect(view.history[1]?.updates.map((u) => u.status)).toEqual([
      'Resolved',
      'Monitoring',
      'Identified',
      'Investigating',
    ]);
    expect(view.today).toEqual({
      'Content generation API': 'day bg-partial_outage',
      'Web app': 'day bg-major_outage',
      'Image uploads': 'day bg-degraded_performance',
    });
    await expectNoInternalNames(view);
    await screenshot('resolved');

    const feed = await parseFeed(await (await fetch(`${pageUrl}history.atom`)).text());
    expect(feed.meta.title).toBe('Acme status: incident history');
    expect(feed.items.map((i) => i.title).sort()).toEqual([
      'Issue affecting Image uploads',
      'Issue affecting Web app',
      'Slow responses from content generation',
    ]);
  });

  it('keeps answering from its cache while the API server is down', async () => {
    const env = testEnv('integration');
    if (!env.controlPlane)
      throw new Error(
        'this test stops the local API server: it needs the local control plane, not KUBECONFIG',
      );
    await incidents.create('during-outage', {
      severity: 'P2',
      title: 'internal',
      public: {
        title: 'Delayed image processing',
        components: ['uploads'],
        updates: [
          { time: new Date().toISOString(), status: 'identified', message: 'Thumbnails appear late.' },
        ],
      },
    });
    await waitForPage('the incident before the outage', (v) => v.current.length === 1);
    const restartApiServer = await stopApiServer(tierStateDir('integration'), env.controlPlane);
    try {
      await eventually(
        '/readyz to report stale caches',
        async () => (await operator.get('/readyz')).status === 503,
        {
          timeoutMs: 20_000,
          intervalMs: 200,
        },
      );
      const view = await readPage();
      expect(view.overall).toBe('Partial outage');
      expect(view.components['Image uploads']).toBe('Partial outage');
      expect(view.current[0]?.updates).toEqual([
        { status: 'Identified', message: 'Thumbnails appear late.' },
      ]);
      expect(view.history).toHaveLength(3);
      const summary = await fetch(`${pageUrl}api/v2/summary.json`);
      expect(summary.status).toBe(200);
      expect(summaryErrors(await summary.json())).toEqual([]);
      expect((await fetch(`${pageUrl}history.atom`)).status).toBe(200);
      expect((await operator.get('/readyz')).status).toBe(503);
    } finally {
      await restartApiServer();
    }
    await eventually('/readyz ok again', async () => (await operator.get('/readyz')).status === 200, {
      timeoutMs: 60_000,
    });
  });
});
