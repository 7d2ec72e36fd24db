// Regular expressions that make backtracking engines explode, each with an input of a chosen length
// on which it fails only at the very end: the corpus of the linear-time unit test
// (test/unit/regex.test.ts) and of the regex benchmark (bench/scenarios/regex.ts).

/** a/b in a fixed pseudo-random order, ending with b and twenty more: what `[ab]*a[ab]{20}` refuses. */
function scrambled(length: number): string {
  let text = '';
  for (let i = 0; i < length - 21; i++) text += (Math.imul(i + 1, 2654435761) >>> 15) & 1 ? 'a' : 'b';
  return `${text}b${'a'.repeat(20)}`;
}

export const CATASTROPHIC: readonly { pattern: string; input: (length: number) => string }[] = [
  { pattern: '(a+)+$', input: (n) => `${'a'.repeat(n - 1)}!` },
  { pattern: '(a|aa)+$', input: (n) => `${'a'.repeat(n - 1)}!` },
  { pattern: '(a|a?)+$', input: (n) => `${'a'.repeat(n - 1)}!` },
  { pattern: '(.*a){20}', input: (n) => `${'a'.repeat(n - 1)}!` },
  { pattern: '(x+x+)+y', input: (n) => `${'x'.repeat(n - 2)}yx` },
  { pattern: '^(\\w+\\s?)*$', input: (n) => `${'a '.repeat(n / 2 - 1)}a!` },
  { pattern: '([a-zA-Z]+)*$', input: (n) => `${'a'.repeat(n - 1)}1` },
  { pattern: '(\\d+)*$', input: (n) => `${'1'.repeat(n - 1)}x` },
  { pattern: '^(([a-z])+.)+[A-Z]([a-z])+$', input: (n) => `${'a'.repeat(n - 1)}!` },
  { pattern: '(.{0,50}){0,50}x', input: (n) => 'a'.repeat(n) },
  // Not a backtracking trap but RE2's own worst case: a DFA with 2^21 states, built as it goes.
  { pattern: '[ab]*a[ab]{20}', input: scrambled },
];
