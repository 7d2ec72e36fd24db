// The status page's renderers from one model: escaping, the HTML (and its Content-Security-Policy),
// summary.json against a Statuspage schema, the Atom feed through a strict feed parser, the badge.
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { Incident } from '../../src/api/incident.ts';
import type { StatusComponent } from '../../src/api/statuscomponent.ts';
import { renderAtom } from '../../src/statuspage/atom.ts';
import { renderBadge } from '../../src/statuspage/badge.ts';
import { escapeMarkup } from '../../src/statuspage/escape.ts';
import { HTML_CSP, humanTime, renderHtml } from '../../src/statuspage/html.ts';
import { buildStatusPage, opaqueId } from '../../src/statuspage/model.ts';
import { renderStatus, renderSummary } from '../../src/statuspage/summary.ts';
import { parseFeed, summaryErrors } from '../support/statuspage.ts';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();
const PAGE = { title: 'Acme status', url: 'https://status.acme.example/' };
const HOSTILE = `<script>window.pwned = 1</script><img src=x onerror="alert('x')"> & "quotes"`;

const components: StatusComponent[] = [
  {
    metadata: { name: 'contentgen', namespace: 'ml', creationTimestamp: ago(100_000) },
    spec: {
      displayName: 'Content generation API',
      description: 'Articles & summaries <fast>',
      order: 1,
      workloads: [{ kind: 'Deployment', name: 'contentgen-api' }],
    },
  },
  {
    metadata: { name: 'web', namespace: 'ml', creationTimestamp: ago(100_000) },
    spec: { displayName: 'Web app', order: 2 },
  },
];

const internal = {
  target: { kind: 'Deployment', name: 'contentgen-api' },
  source: {
    type: 'alertmanager',
    alertName: 'ContentGenLatencyHigh',
    labels: { team: 'ml-platform', pod: 'contentgen-api-7d9f' },
    startsAt: ago(90),
  },
} as const;

const incidents: Incident[] = [
  {
    metadata: { name: 'contentgen-latency-ab12', namespace: 'ml', creationTimestamp: ago(88) },
    spec: {
      severity: 'P2',
      title: 'ContentGenLatencyHigh on contentgen-api',
      dryRun: false,
      ...internal,
      public: {
        title: 'Slow responses from content generation',
        impact: 'partial_outage',
        updates: [
          { time: ago(85), status: 'investigating', message: 'We are looking into slow responses.' },
          { time: ago(40), status: 'identified', message: HOSTILE },
          { time: ago(10), status: 'monitoring', message: 'A fix is out; we are watching.' },
        ],
      },
    },
    status: { phase: 'Escalated', openedAt: ago(88), sla: { nextUpdateDueAt: ago(-20) } },
  },
  {
    metadata: { name: 'web-outage-1', namespace: 'ml', creationTimestamp: ago(3000) },
    spec: {
      severity: 'P1',
      title: 'web-frontend crashloop',
      dryRun: false,
      source: { type: 'manual' },
      public: {
        components: ['web'],
        updates: [
          { time: ago(2990), status: 'investigating', message: 'The web app is down.' },
          { time: ago(2900), status: 'resolved', message: 'The web app is back.' },
        ],
      },
    },
    status: { phase: 'Closed', openedAt: ago(3000), resolvedAt: ago(2905) },
  },
];

const model = buildStatusPage({ components, incidents, now: NOW });
const INTERNAL_NAMES = [
  'contentgen-api',
  'ContentGenLatencyHigh',
  'ml-platform',
  'contentgen-latency-ab12',
  'web-outage-1',
  'web-frontend',
  'crashloop',
];

describe('escapeMarkup', () => {
  it.each([
    ['plain text', 'plain text'],
    ['<script>x</script>', '&lt;script&gt;x&lt;/script&gt;'],
    [`a & b "c" 'd'`, 'a &amp; b &quot;c&quot; &#39;d&#39;'],
    ['&amp; stays text', '&amp;amp; stays text'],
    ['bell\u0007 and NUL\u0000', 'bell\uFFFD and NUL\uFFFD'],
    ['lone \uD800 surrogate, whole 😀', 'lone \uFFFD surrogate, whole 😀'],
    ['tab\tnewline\n', 'tab\tnewline\n'],
  ])('%j → %j', (input, output) => {
    expect(escapeMarkup(input)).toBe(output);
  });
});

describe('renderHtml', () => {
  const html = renderHtml(model, PAGE);

  it('shows public text as text: no markup of its own, no script at all', () => {
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain(
      '&lt;script&gt;window.pwned = 1&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp; &quot;quotes&quot;',
    );
    expect(html).toContain('Articles &amp; summaries &lt;fast&gt;');
  });

  it('never shows an internal name', () => {
    for (const name of INTERNAL_NAMES) expect(html).not.toContain(name);
  });

  it('says the overall status, each component, the current incident with its updates newest first, and the history', () => {
    expect(html).toContain(
      '<p class="overall bg-partial_outage" id="overall" role="status" data-status="partial_outage">Partial outage</p>',
    );
    const contentgen = opaqueId('StatusComponent', 'ml', 'contentgen');
    expect(html).toMatch(
      new RegExp(
        `id="component-${contentgen}" data-status="partial_outage">\\n<div class="component-head"><span class="component-name">Content generation API</span><span class="component-status fg-partial_outage">Partial outage</span>`,
      ),
    );
    const current = html.slice(html.indexOf('id="current"'), html.indexOf('id="components"'));
    const statuses = [...current.matchAll(/<strong class="update-status">(\w+)<\/strong>/g)].map((m) => m[1]);
    expect(statuses).toEqual(['Monitoring', 'Identified', 'Investigating']);
    expect(current).toContain(
      `Next update by <time class="next-update" datetime="${ago(-20)}">${humanTime(ago(-20))}</time>`,
    );
    const history = html.slice(html.indexOf('id="history"'));
    expect(history).toContain('The web app is back.');
    expect(history).toContain('Affects <span class="incident-components">Web app</span>');
  });

  it('draws 90 days per component, and says there are no past incidents when there are none', () => {
    expect(html.match(/<span class="day /g)).toHaveLength(2 * 90);
    const empty = renderHtml(buildStatusPage({ components, incidents: [], now: NOW }), PAGE);
    expect(empty).toContain('All systems operational');
    expect(empty).toContain('No incidents in the last 90 days.');
    expect(empty).not.toContain('id="current"');
  });

  it('loads nothing from elsewhere, and its policy allows exactly its own inline stylesheet', () => {
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    expect(HTML_CSP).toContain(`style-src 'sha256-${hash}'`);
    expect(HTML_CSP).toMatch(/^default-src 'none';/);
    expect(HTML_CSP).not.toContain('script-src');
  });

  it('is made for phones: a viewport, and no fixed widths', () => {
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).not.toMatch(/width:\s*\d+px/);
  });
});

describe('renderSummary', () => {
  const summary = renderSummary(model, PAGE);

  it("validates against Statuspage's summary.json schema", () => {
    expect(summaryErrors(JSON.parse(JSON.stringify(summary)))).toEqual([]);
  });

  it('the schema check can fail', () => {
    const broken = JSON.parse(JSON.stringify(summary)) as { status: { indicator: string } };
    broken.status.indicator = 'partial_outage';
    expect(summaryErrors(broken)).toEqual(['/status/indicator must be equal to one of the allowed values']);
  });

  it('has the status indicator, the components and only the current incidents', () => {
    expect(summary.status).toEqual({ indicator: 'major', description: 'Partial outage' });
    expect(summary.components.map((c) => [c.name, c.status, c.position])).toEqual([
      ['Content generation API', 'partial_outage', 1],
      ['Web app', 'operational', 2],
    ]);
    expect(summary.incidents).toHaveLength(1);
    const [incident] = summary.incidents;
    expect(incident).toMatchObject({
      name: 'Slow responses from content generation',
      status: 'monitoring',
      impact: 'major',
      created_at: ago(85),
      updated_at: ago(10),
      monitoring_at: ago(10),
      resolved_at: null,
      started_at: ago(90),
      shortlink: `https://status.acme.example/#incident-${incident?.id ?? ''}`,
    });
    expect(incident?.incident_updates.map((u) => u.status)).toEqual([
      'monitoring',
      'identified',
      'investigating',
    ]);
    expect(incident?.incident_updates[1]?.body).toBe(HOSTILE);
    expect(incident?.components.map((c) => c.name)).toEqual(['Content generation API']);
  });

  it.each([
    ['operational', 'none'],
    ['degraded_performance', 'minor'],
    ['partial_outage', 'major'],
    ['major_outage', 'critical'],
  ] as const)('an overall %s is the indicator %s', (overall, indicator) => {
    expect(renderStatus({ ...model, overall }, PAGE).status.indicator).toBe(indicator);
  });

  it('never says an internal name', () => {
    const text = JSON.stringify(summary);
    for (const name of INTERNAL_NAMES) expect(text).not.toContain(name);
  });
});

describe('renderAtom', () => {
  it('parses as Atom with one entry per incident, the latest changed first, its updates as escaped text', async () => {
    const feed = await parseFeed(renderAtom(model, PAGE));
    expect(feed.meta['#type']).toBe('atom');
    expect(feed.meta.title).toBe('Acme status: incident history');
    expect(feed.meta.link).toBe('https://status.acme.example/');
    expect(feed.items.map((i) => i.title)).toEqual([
      'Slow responses from content generation',
      'Issue affecting Web app',
    ]);
    const [current] = feed.items;
    expect(current?.guid).toBe(
      `tag:selfheal.dev,2026:incident:${opaqueId('Incident', 'ml', 'contentgen-latency-ab12')}`,
    );
    expect(current?.date?.toISOString()).toBe(ago(10));
    expect(current?.pubdate?.toISOString()).toBe(ago(85));
    expect(current?.description).toContain('<p><strong>Monitoring</strong>');
    expect(current?.description).toContain('&lt;script&gt;window.pwned = 1&lt;/script&gt;');
    expect(current?.description).not.toContain('<script');
  });

  it('stays well-formed XML whatever the public text holds', async () => {
    const odd: Incident = {
      ...incidents[1],
      metadata: { name: 'odd', namespace: 'ml', creationTimestamp: ago(5) },
      spec: {
        severity: 'P3',
        title: 't',
        dryRun: false,
        source: { type: 'manual' },
        public: {
          title: ']]> <!-- & \u0001',
          updates: [{ time: ago(4), status: 'investigating', message: '<![CDATA[ x ]]>' }],
        },
      },
      status: { phase: 'Escalated' },
    };
    const feed = await parseFeed(
      renderAtom(buildStatusPage({ components, incidents: [odd], now: NOW }), PAGE),
    );
    expect(feed.items.map((i) => i.title)).toEqual([']]> <!-- & \uFFFD']);
  });

  it('never says an internal name', () => {
    const xml = renderAtom(model, PAGE);
    for (const name of INTERNAL_NAMES) expect(xml).not.toContain(name);
  });
});

describe('renderBadge', () => {
  it.each([
    ['operational', 'operational', '#2e7d32'],
    ['degraded_performance', 'degraded performance', '#9a5b00'],
    ['partial_outage', 'partial outage', '#bf360c'],
    ['major_outage', 'major outage', '#c62828'],
  ] as const)('%s reads "%s" on %s', (impact, value, color) => {
    const svg = renderBadge('status', impact);
    expect(svg).toContain(`aria-label="status: ${value}"`);
    expect(svg).toContain(`fill="${color}"`);
    expect(svg).toContain(`>${value}</text>`);
  });

  it('escapes the label and widens with it', () => {
    const short = renderBadge('api', 'operational');
    const long = renderBadge('Content <generation> API', 'operational');
    expect(long).toContain('>Content &lt;generation&gt; API</text>');
    const width = (svg: string) => Number(/width="(\d+)"/.exec(svg)?.[1]);
    expect(width(long)).toBeGreaterThan(width(short));
  });
});
