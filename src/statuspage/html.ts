// The status page itself: one server-rendered HTML document, readable without JavaScript and on a
// phone, with its stylesheet inline and nothing loaded from elsewhere. Every text goes through
// escapeMarkup; the Content-Security-Policy allows only this stylesheet, so even a mistake here
// could not run a script.
import { createHash } from 'node:crypto';
import type { Impact } from '../api/public.ts';
import { escapeMarkup as e } from './escape.ts';
import {
  IMPACT_LABELS,
  OVERALL_LABELS,
  STATUS_LABELS,
  type PageComponent,
  type PageIncident,
  type StatusPageModel,
} from './model.ts';

export interface PageInfo {
  title: string;
  /** The page's absolute URL, ending with /. */
  url: string;
}

const STYLE = `*{box-sizing:border-box}
body{margin:0;background:#f5f6f8;color:#1d2330;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:48rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.6rem;line-height:1.2;margin:0 0 1rem}
h2{font-size:1.15rem;margin:2rem 0 .75rem}
h3{font-size:1.05rem;margin:0 0 .25rem}
a{color:#1a56c4}
.overall{border-radius:.5rem;padding:1rem 1.25rem;color:#fff;font-size:1.2rem;font-weight:600}
.card{background:#fff;border:1px solid #e1e4e9;border-radius:.5rem;padding:1rem 1.25rem;margin:0 0 .75rem}
.incident{border-left-width:.35rem}
.meta{color:#5b6475;font-size:.875rem;margin:0 0 .5rem}
.updates{list-style:none;margin:0;padding:0}
.update{padding:.6rem 0 0;margin-top:.6rem;border-top:1px solid #e1e4e9}
.update-message{margin:.2rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
.update-time{color:#5b6475;font-size:.875rem}
.components{list-style:none;margin:0;padding:0}
.component-head{display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 1rem}
.component-name{font-weight:600}
.component-status{font-weight:600}
.description{color:#5b6475;font-size:.875rem;margin:.1rem 0 0}
.days{display:grid;grid-auto-flow:column;grid-auto-columns:1fr;gap:1px;height:1.75rem;margin-top:.6rem}
.day{border-radius:1px}
.days-legend{display:flex;justify-content:space-between;color:#5b6475;font-size:.75rem;margin-top:.2rem}
.none{color:#5b6475}
footer{margin-top:2.5rem;color:#5b6475;font-size:.875rem}
.bg-operational{background:#2e7d32}.bg-degraded_performance{background:#9a5b00}.bg-partial_outage{background:#bf360c}.bg-major_outage{background:#c62828}
.fg-operational{color:#2e7d32}.fg-degraded_performance{color:#9a5b00}.fg-partial_outage{color:#bf360c}.fg-major_outage{color:#c62828}
.edge-operational{border-left-color:#2e7d32}.edge-degraded_performance{border-left-color:#9a5b00}.edge-partial_outage{border-left-color:#bf360c}.edge-major_outage{border-left-color:#c62828}`;

/** The policy for the HTML: nothing but its own inline stylesheet; no script, no frame, no form. */
export const HTML_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const TIME_FORMAT = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});
const DAY_FORMAT = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  day: 'numeric',
  month: 'short',
  year: 'numeric',
});

/** A time as people read it, in UTC (no script converts it to the reader's zone). */
export const humanTime = (iso: string) => `${TIME_FORMAT.format(new Date(iso))} UTC`;

const time = (iso: string, cls = '') =>
  `<time${cls ? ` class="${cls}"` : ''} datetime="${e(iso)}">${e(humanTime(iso))}</time>`;

function incidentHtml(incident: PageIncident, names: Map<string, string>): string {
  const affected = incident.componentIds.map((id) => names.get(id)).filter((n) => n !== undefined);
  const when = incident.current
    ? `Detected ${time(incident.startedAt, 'started')}${incident.nextUpdateAt ? ` · Next update by ${time(incident.nextUpdateAt, 'next-update')}` : ''}`
    : `${time(incident.startedAt, 'started')} to ${time(incident.resolvedAt ?? incident.startedAt, 'resolved')}`;
  const updates = incident.updates
    .map(
      (u) =>
        `<li class="update" data-status="${e(u.status)}"><strong class="update-status">${e(STATUS_LABELS[u.status])}</strong> <span class="update-time">${time(u.time)}</span><p class="update-message">${e(u.message)}</p></li>`,
    )
    .join('\n');
  return `<article class="card incident edge-${e(incident.impact)}" id="incident-${e(incident.id)}" data-impact="${e(incident.impact)}" data-status="${e(incident.status)}">
<h3 class="incident-title">${e(incident.title)}</h3>
<p class="meta"><span class="incident-impact fg-${e(incident.impact)}">${e(IMPACT_LABELS[incident.impact])}</span>${affected.length > 0 ? ` · Affects <span class="incident-components">${e(affected.join(', '))}</span>` : ''}</p>
<p class="meta">${when}</p>
<ol class="updates">
${updates}
</ol>
</article>`;
}

function daysHtml(component: PageComponent): string {
  const troubled = component.days.filter((d) => d.impact !== 'operational').length;
  const bars = component.days
    .map(
      (d) =>
        `<span class="day bg-${e(d.impact)}" title="${e(`${DAY_FORMAT.format(new Date(d.date))}: ${IMPACT_LABELS[d.impact]}`)}"></span>`,
    )
    .join('');
  const summary =
    troubled === 0 ? 'no incidents' : `${troubled} day${troubled === 1 ? '' : 's'} with incidents`;
  return `<div class="days" role="img" aria-label="${e(`Last ${component.days.length} days: ${summary}`)}">${bars}</div>
<div class="days-legend" aria-hidden="true"><span>${component.days.length} days ago</span><span>Today</span></div>`;
}

function componentHtml(component: PageComponent): string {
  return `<li class="card component" id="component-${e(component.id)}" data-status="${e(component.status)}">
<div class="component-head"><span class="component-name">${e(component.name)}</span><span class="component-status fg-${e(component.status)}">${e(IMPACT_LABELS[component.status])}</span></div>
${component.description ? `<p class="description">${e(component.description)}</p>\n` : ''}${daysHtml(component)}
</li>`;
}

const overallClass = (impact: Impact) => `overall bg-${e(impact)}`;

export function renderHtml(model: StatusPageModel, page: PageInfo): string {
  const names = new Map(model.components.map((c) => [c.id, c.name]));
  const current =
    model.current.length > 0
      ? `<section id="current" aria-labelledby="current-heading">
<h2 id="current-heading">Current incidents</h2>
${model.current.map((i) => incidentHtml(i, names)).join('\n')}
</section>`
      : '';
  const components =
    model.components.length > 0
      ? `<section id="components" aria-labelledby="components-heading">
<h2 id="components-heading">Components</h2>
<ul class="components">
${model.components.map(componentHtml).join('\n')}
</ul>
</section>`
      : '';
  const history = `<section id="history" aria-labelledby="history-heading">
<h2 id="history-heading">Past incidents</h2>
${model.history.length > 0 ? model.history.map((i) => incidentHtml(i, names)).join('\n') : `<p class="none">No incidents in the last ${model.historyDays} days.</p>`}
</section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(page.title)}</title>
<link rel="alternate" type="application/atom+xml" title="${e(page.title)}: incident history" href="history.atom">
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${e(page.title)}</h1>
<p class="${overallClass(model.overall)}" id="overall" role="status" data-status="${e(model.overall)}">${e(OVERALL_LABELS[model.overall])}</p>
${current}
${components}
${history}
<footer>Updated ${time(model.updatedAt, 'updated')} · <a href="history.atom">Atom feed</a> · <a href="api/v2/summary.json">JSON</a> · <a href="badge.svg">Badge</a></footer>
</main>
</body>
</html>
`;
}
