// Kubernetes-style durations (90s, 15m, 4h, 1h30m, 500ms), as the CRD pattern admits them.
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const PART = /([0-9]+)(ms|s|m|h)/g;

/** Milliseconds in a duration string; throws with the offending text when it is not one. */
export function parseDuration(text: string): number {
  if (!/^([0-9]+(ms|s|m|h))+$/.test(text))
    throw new Error(`"${text}" is not a duration such as 90s, 15m, 4h or 1h30m`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART))
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
