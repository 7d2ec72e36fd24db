// Tenant regexes: what matching costs per input length on RE2 (src/base/regex.ts) for the corpus of
// patterns that make backtracking engines explode (test/support/catastrophic-regexes.ts), each on
// an input that fails only at its end. Linear matching shows as a time ratio close to the length
// ratio. V8's RegExp is timed beside it on one short input only (--v8-length, 20 characters by
// default, at most 25): longer, some of these would not end.
import { AnchoredRegex, compileAnchored } from '../../src/base/regex.ts';
import { CATASTROPHIC } from '../../test/support/catastrophic-regexes.ts';
import { fmt, ratio } from '../lib/stats.ts';
import { intParam, listParam, type Row, type Scenario } from '../scenario.ts';

const V8_MAX_LENGTH = 25;

/** The pattern as a Markdown table cell: in code, its `|` escaped. */
const cell = (pattern: string) => `\`${pattern.replaceAll('|', '\\|')}\``;

/** The median time of one call, in ms: repeated until about `budgetMs` is spent (at least 3 times). */
function timeOf(run: () => void, budgetMs: number): number {
  run(); // warm: the lazy DFA, the JIT
  const samples: number[] = [];
  const started = performance.now();
  while (samples.length < 3 || (performance.now() - started < budgetMs && samples.length < 1000)) {
    const t = performance.now();
    run();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

const scenario: Scenario = {
  name: 'regex',
  description: 'tenant regexes on RE2: matching cost per input length for catastrophic patterns',
  params: {
    lengths: 'input lengths, comma-separated (default 1000,10000,100000,1000000)',
    'v8-length': `the one input length V8's RegExp is timed on (default 20, at most ${V8_MAX_LENGTH})`,
  },
  async run(ctx) {
    const lengths = listParam(ctx, 'lengths', [1_000, 10_000, 100_000, 1_000_000], [1_000, 10_000]);
    const v8Length = intParam(ctx, 'v8-length', 20, 16);
    if (v8Length > V8_MAX_LENGTH)
      throw new Error(`--v8-length=${v8Length}: at most ${V8_MAX_LENGTH}, or V8 may not end`);
    const budgetMs = ctx.smoke ? 20 : 300;
    const rows: Row[] = [];
    const results = [];
    for (const { pattern, input } of CATASTROPHIC) {
      const re = compileAnchored(pattern);
      if (!(re instanceof AnchoredRegex)) {
        ctx.log(`${pattern}: refused (${re.error})`);
        rows.push({ pattern: cell(pattern), note: 'refused by RE2 (invalid repeat count)' });
        results.push({ pattern, refused: re.error });
        continue;
      }
      const times = lengths.map((length) => {
        const value = input(length);
        return timeOf(() => re.matches(value), budgetMs);
      });
      const v8Value = input(v8Length);
      const v8 = new RegExp(`^(?:${pattern})$`);
      const re2Short = timeOf(() => re.matches(v8Value), budgetMs);
      const v8Short = timeOf(() => v8.test(v8Value), budgetMs);
      ctx.log(
        `${pattern}: ${times.map((t) => fmt(t)).join(' / ')} ms; V8 at ${v8Length}: ${fmt(v8Short)} ms`,
      );
      const first = times[0] ?? Number.NaN;
      const row: Row = { pattern: cell(pattern) };
      lengths.forEach((length, i) => {
        row[`RE2 ms @${length}`] = fmt(times[i] ?? Number.NaN);
        if (i > 0) row[`×@${length}`] = ratio(times[i] ?? Number.NaN, first);
      });
      row[`RE2 ms @${v8Length}`] = fmt(re2Short);
      row[`V8 ms @${v8Length}`] = fmt(v8Short);
      rows.push(row);
      results.push({
        pattern,
        lengths,
        re2Ms: times,
        short: { length: v8Length, re2Ms: re2Short, v8Ms: v8Short },
      });
    }
    return Promise.resolve({ rows, json: { lengths, v8Length, results } });
  },
};
export default scenario;
