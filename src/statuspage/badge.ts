// /badge.svg: a shields.io-style badge of the overall status (or of one component), for READMEs and
// dashboards. Its text widths are estimated from the character count, as no font is measured here.
import type { Impact } from '../api/public.ts';
import { escapeMarkup as e } from './escape.ts';

const COLORS: Record<Impact, string> = {
  operational: '#2e7d32',
  degraded_performance: '#9a5b00',
  partial_outage: '#bf360c',
  major_outage: '#c62828',
};

const VALUES: Record<Impact, string> = {
  operational: 'operational',
  degraded_performance: 'degraded performance',
  partial_outage: 'partial outage',
  major_outage: 'major outage',
};

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Verdana at 11 px averages about 7 px a character; 10 px of padding on each side. */
const widthOf = (text: string) => [...graphemes.segment(text)].length * 7 + 20;

export function renderBadge(label: string, impact: Impact): string {
  const value = VALUES[impact];
  const left = widthOf(label);
  const right = widthOf(value);
  const total = left + right;
  const text = `${label}: ${value}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="20" role="img" aria-label="${e(text)}">
<title>${e(text)}</title>
<clipPath id="r"><rect width="${total}" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="${left}" height="20" fill="#555"/><rect x="${left}" width="${right}" height="20" fill="${COLORS[impact]}"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">
<text x="${left / 2}" y="14">${e(label)}</text>
<text x="${left + right / 2}" y="14">${e(value)}</text>
</g>
</svg>
`;
}
