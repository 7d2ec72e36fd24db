import type { Row } from '../scenario.ts';

/** Rows as a Markdown table (what docs/performance.md quotes); columns in order of first use. */
export function markdownTable(rows: readonly Row[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const cell = (value: string | number | undefined) => (value === undefined ? '' : String(value));
  const widths = columns.map((c) => Math.max(c.length, 3, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}
