// Links to the install's diagnostics (Grafana dashboards, Kibana logs, Jaeger traces), written once
// as URL templates with placeholders and filled in per incident, so a page or a message takes people
// straight to the right view of the right workload.

/** What a template can name, and where each value comes from. */
export const LINK_PLACEHOLDERS = [
  'namespace',
  'kind',
  'target',
  'alertname',
  'incident',
  'severity',
] as const;
export type LinkPlaceholder = (typeof LINK_PLACEHOLDERS)[number];
export type LinkValues = Partial<Record<LinkPlaceholder, string>>;

export interface LinkTemplate {
  /** The link's text (Grafana, Kibana, Jaeger ...). */
  text: string;
  /** An http(s) URL with {placeholder}s. */
  url: string;
}

export interface Link {
  text: string;
  href: string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const TEXT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

/**
 * Parses `Text=URL` entries separated by whitespace (URLs hold no raw whitespace, but often commas:
 * Kibana's state is full of them). Every placeholder must be one of LINK_PLACEHOLDERS.
 */
export function parseLinkTemplates(spec: string): LinkTemplate[] {
  const templates: LinkTemplate[] = [];
  for (const entry of spec.split(/\s+/).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const text = eq > 0 ? entry.slice(0, eq) : '';
    const url = entry.slice(eq + 1);
    if (!TEXT.test(text))
      throw new Error(
        `"${entry}" is not Text=URL (Text: 1-40 letters, digits, "_", "." or "-", such as Grafana=https://...)`,
      );
    if (!/^https?:\/\/[^/{}]+/.test(url))
      throw new Error(`${text}: "${url}" is not an http(s) URL with a host`);
    for (const [, name] of url.matchAll(PLACEHOLDER))
      if (!(LINK_PLACEHOLDERS as readonly string[]).includes(name ?? ''))
        throw new Error(
          `${text}: unknown placeholder {${name ?? ''}}; use ${LINK_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        );
    if (templates.some((t) => t.text === text)) throw new Error(`${text}: given twice`);
    templates.push({ text, url });
  }
  return templates;
}

/**
 * The links of one incident. Values are URL-encoded. A template that names a value the incident does
 * not have (an alert name on a manual incident, a target on an incident without one) is left out
 * rather than sent half-filled, which would show the wrong data.
 */
export function renderLinks(templates: readonly LinkTemplate[], values: LinkValues): Link[] {
  return templates
    .filter((t) => [...t.url.matchAll(PLACEHOLDER)].every(([, name]) => values[name as LinkPlaceholder]))
    .map((t) => ({
      text: t.text,
      href: t.url.replace(PLACEHOLDER, (_match, name: string) =>
        encodeURIComponent(values[name as LinkPlaceholder] ?? ''),
      ),
    }));
}
