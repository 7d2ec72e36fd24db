// A small SVG writer for latency distributions: each series as its percentile curve, latency on a
// log scale against percentiles on a "nines" scale (p50, p90, p99, p99.9 evenly spaced), the way
// HdrHistogram plots show tails. No plotting dependency: a few lines, axes and labels.

export interface PlotSeries {
  label: string;
  /** Samples, e.g. latencies in ms. */
  values: readonly number[];
  color: string;
}

export interface PercentilePlot {
  title: string;
  /** The unit of the values, e.g. "ms". */
  unit: string;
  series: readonly PlotSeries[];
}

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 170, top: 40, bottom: 50 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

const escapeXml = (text: string) =>
  text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );

/** The "nines" of a quantile: 0.9 → 1, 0.99 → 2. */
const nines = (q: number) => -Math.log10(1 - q);

const n2 = (x: number) => x.toFixed(1);

/** Ticks at 1, 2, 5 × powers of ten covering [low, high]. */
function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(low)); e <= Math.ceil(Math.log10(high)); e++)
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= low && t <= high) ticks.push(t);
    }
  return ticks;
}

const tickLabel = (value: number, unit: string) =>
  unit === 'ms' && value >= 1000 ? `${value / 1000} s` : `${value} ${unit}`;

export function percentilePlot(plot: PercentilePlot): string {
  const series = plot.series.filter((s) => s.values.length > 0);
  const all = series.flatMap((s) => s.values.filter((v) => v > 0));
  const maxN = Math.max(2, ...series.map((s) => s.values.length));
  const xMax = Math.log10(maxN);
  const low = all.length ? 10 ** Math.floor(Math.log10(Math.min(...all))) : 1;
  const high = all.length ? 10 ** Math.ceil(Math.log10(Math.max(...all))) : 10;
  const x = (q: number) => MARGIN.left + (Math.min(nines(q), xMax) / xMax) * PLOT_W;
  const y = (v: number) =>
    MARGIN.top +
    PLOT_H -
    ((Math.log10(Math.max(v, low)) - Math.log10(low)) / Math.log10(high / low)) * PLOT_H;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escapeXml(plot.title)}</text>`,
  ];
  for (const t of logTicks(low, high)) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${n2(y(t))}" y2="${n2(y(t))}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${n2(y(t) + 4)}" text-anchor="end">${escapeXml(tickLabel(t, plot.unit))}</text>`,
    );
  }
  for (const [q, label] of [
    [0, 'p0'],
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99.9'],
  ] as const) {
    if (nines(q) > xMax + 1e-9) continue;
    parts.push(
      `<line x1="${n2(x(q))}" x2="${n2(x(q))}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#ddd"/>`,
      `<text x="${n2(x(q))}" y="${MARGIN.top + PLOT_H + 18}" text-anchor="middle">${label}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#888"/>`,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 12}" text-anchor="middle">percentile</text>`,
  );
  series.forEach((s, i) => {
    const sorted = [...s.values].sort((a, b) => a - b);
    // Each sample at its rank: the curve's last point is the maximum.
    const points = sorted.map((v, rank) => `${n2(x(rank / sorted.length))},${n2(y(v))}`);
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points.join(' ')}"/>`,
      `<rect x="${WIDTH - MARGIN.right + 14}" y="${MARGIN.top + 8 + i * 22}" width="14" height="4" fill="${s.color}"/>`,
      `<text x="${WIDTH - MARGIN.right + 34}" y="${MARGIN.top + 14 + i * 22}">${escapeXml(`${s.label} (n=${sorted.length})`)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
