// /history.atom: one entry per incident on the page (current and past), updated with each public
// update, as Statuspage's and Cachet's feeds do. The entry's content is HTML (escaped twice: once
// as HTML, once as XML), so feed readers show each update's status, time and message as text.
import { escapeMarkup as e } from './escape.ts';
import { humanTime, type PageInfo } from './html.ts';
import { pageId } from './summary.ts';
import { STATUS_LABELS, type PageIncident, type StatusPageModel } from './model.ts';

/** Tag URIs (RFC 4151) stay the same whatever URL the page is served at. */
const tag = (what: string) => `tag:selfheal.dev,2026:${what}`;

function entry(incident: PageIncident, page: PageInfo): string {
  const updates = incident.updates
    .map(
      (u) =>
        `<p><strong>${e(STATUS_LABELS[u.status])}</strong> (${e(humanTime(u.time))}): ${e(u.message)}</p>`,
    )
    .join('');
  const published = incident.updates.at(-1)?.time ?? incident.startedAt;
  const updated = incident.updates[0]?.time ?? incident.startedAt;
  return `<entry>
<id>${e(tag(`incident:${incident.id}`))}</id>
<title>${e(incident.title)}</title>
<link rel="alternate" type="text/html" href="${e(`${page.url}#incident-${incident.id}`)}"/>
<published>${e(published)}</published>
<updated>${e(updated)}</updated>
<content type="html">${e(updates)}</content>
</entry>`;
}

export function renderAtom(model: StatusPageModel, page: PageInfo): string {
  const incidents = [...model.current, ...model.history].sort(
    (a, b) => (b.updates[0]?.time ?? '').localeCompare(a.updates[0]?.time ?? '') || a.id.localeCompare(b.id),
  );
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<id>${e(tag(`statuspage:${pageId(page)}`))}</id>
<title>${e(`${page.title}: incident history`)}</title>
<link rel="alternate" type="text/html" href="${e(page.url)}"/>
<link rel="self" type="application/atom+xml" href="${e(`${page.url}history.atom`)}"/>
<updated>${e(model.updatedAt)}</updated>
<author><name>${e(page.title)}</name></author>
${incidents.map((i) => entry(i, page)).join('\n')}
</feed>
`;
}
