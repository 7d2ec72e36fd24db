// Tenant regexes (src/base/regex.ts): Alertmanager's matcher semantics on RE2, refusals with RE2's
// own reasons (those of Go's regexp/syntax, checked against Go 1.26), and matching linear in the
// input for the patterns that make backtracking engines explode.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { AnchoredRegex, compileAnchored, expandedSize, MAX_PROGRAM_SIZE } from '../../src/base/regex.ts';
import { CATASTROPHIC } from '../support/catastrophic-regexes.ts';

function compiled(pattern: string): AnchoredRegex {
  const re = compileAnchored(pattern);
  if (!(re instanceof AnchoredRegex)) throw new Error(re.error);
  return re;
}

describe('Alertmanager semantics', () => {
  it.each<[string, string, boolean]>([
    // Anchored at both ends, as Alertmanager compiles ^(?:pattern)$.
    ['api', 'api', true],
    ['api', 'api-gateway', false],
    ['api', 'my-api', false],
    ['api.*', 'api-gateway', true],
    ['.*api.*', 'my-api-gateway', true],
    ['', '', true],
    ['', 'x', false],
    ['a', 'a\n', false],
    // Alternation inside the anchors: "a|ab" on "ab" is a whole match.
    ['orders|payments', 'payments', true],
    ['orders|payments', 'orders-payments', false],
    ['a|ab', 'ab', true],
    // Classes and repetition.
    ['5[0-9]{2}', '503', true],
    ['5[0-9]{2}', '5030', false],
    ['[^-]+-[0-9]+', 'orders-12', true],
    ['\\d+', '123', true],
    ['\\w+', 'snake_case9', true],
    ['[[:alpha:]]+', 'abc', true],
    ['\\s', '\t', true],
    ['a{2,3}', 'aaaa', false],
    // `.` does not match a newline unless (?s).
    ['.', '\n', false],
    ['(?s).', '\n', true],
    // Inline flags are RE2 and Alertmanager takes them.
    ['(?i)critical', 'CRITICAL', true],
    ['(?i:crit)ical', 'CRITical', true],
    ['(?i:crit)ical', 'critICAL', false],
    ['(?U)a+', 'aaa', true],
    ['(?m)^a$', 'a', true],
    // Unicode: a code point is one character; classes as in Go.
    ['.', '😀', true],
    ['..', '😀', false],
    ['[^a]', '😀', true],
    ['\\x{1F600}', '😀', true],
    ['(?i)é', 'É', true],
    ['(?i)k', '\u212a', true],
    ['\\pL+', 'héllo', true],
    ['\\p{Greek}+', 'αβγ', true],
    ['\\w', 'é', false],
    ['\\d', '٣', false],
    ['\\bfoo\\b', 'foo', true],
    ['\\Q.*\\E', '.*', true],
    ['\\Q.*\\E', 'ab', false],
    // Named groups in both spellings Go accepts.
    ['(?P<q>orders)', 'orders', true],
    ['(?<q>orders)', 'orders', true],
    // Nested repetitions are valid RE2 (and linear there).
    ['(a+)+', 'aaa', true],
    ['(a|aa)+', 'aaab', false],
  ])('%j on %j: %s', (pattern, value, expected) => {
    expect(compiled(pattern).matches(value)).toBe(expected);
  });
});

describe('refusals', () => {
  it.each<[string, string]>([
    ['(?=a)', 'invalid or unsupported Perl syntax: `(?=`'],
    ['api(?!-x).*', 'invalid or unsupported Perl syntax: `(?!`'],
    ['.*(?<=gateway)', 'invalid named capture: `(?<=gateway)`'],
    ['.*(?<!x)', 'invalid named capture: `(?<!x)`'],
    ['(a)\\1', 'invalid escape sequence: `\\1`'],
    ['(?<n>a)\\k<n>', 'invalid escape sequence: `\\k`'],
    ['(.{0,50}){0,50}x', 'invalid repeat count: `{0,50}`'],
    ['a{1001}', 'invalid repeat count: `{1001}`'],
    ['((a{100}){100}){100}', 'invalid repeat count: `{100}`'],
    ['a**', 'invalid nested repetition operator: `**`'],
    ['\\Z', 'invalid escape sequence: `\\Z`'],
    ['(', 'missing closing ): `(`'],
    ['[a-', 'missing closing ]: `[a-`'],
    ['*', 'missing argument to repetition operator: `*`'],
    ['a\\', 'trailing backslash at end of expression'],
    // Parsed alone first: wrapped at once it would compile as ^(?:a)|(b)$ and match "xb".
    ['a)|(b', 'unexpected ): `a)|(b`'],
    // Valid alone, but Alertmanager's ^(?:…)$ does not compile: \Q runs to the end.
    ['\\Qa)', 'missing closing ): `^(?:\\Qa))$`'],
  ])('%j with RE2’s reason', (pattern, reason) => {
    expect(compileAnchored(pattern)).toEqual({
      error: `invalid regular expression ${JSON.stringify(pattern)}: ${reason}`,
    });
  });
});

describe('patterns too large to compile', () => {
  // Valid RE2 (Alertmanager takes it) and within a matcher's 1,024 characters, but 112 counted
  // repetitions of 1000 compile to about 224,000 instructions: a second and 39 MB each.
  const chained = '.{0,1000}'.repeat(112);

  it('are refused from their text, before RE2 compiles them', () => {
    const started = performance.now();
    const refused = AnchoredRegex.compile(chained);
    expect(performance.now() - started).toBeLessThan(200);
    expect(refused).toEqual({
      error: expect.stringMatching(
        /expands to about [0-9]{6} RE2 instructions, more than the 2000 selfheal runs/,
      ),
    });
  });

  it('are still refused with RE2’s own reason where RE2 refuses them', () => {
    expect(expandedSize('(a{10}){101}')).toBeUndefined();
    expect(AnchoredRegex.compile('(a{10}){101}')).toEqual({
      error: 'invalid regular expression "(a{10}){101}": invalid repeat count: `{101}`',
    });
  });

  it('leave ordinary matchers alone', () => {
    for (const pattern of ['[a-z0-9-]{1,63}', '(api|web|worker)-.*', '(?i)crit(ical)?', '[ab]*a[ab]{20}'])
      expect(compileAnchored(pattern)).toBeInstanceOf(AnchoredRegex);
  });

  // The estimate must never fall short of RE2's own program size, or a pattern could pass it and
  // still compile to more than the ceiling.
  const atom = fc.constantFrom('a', '.', '[a-c]', '[^x]', '\\d', '\\pL', '(?i)b', '\\Qx.\\E', '[]a]');
  const quantifier = fc.constantFrom(
    '',
    '*',
    '+',
    '?',
    '*?',
    '{2}',
    '{0,3}',
    '{2,}',
    '{1,5}?',
    '{0}',
    '{7,9}',
  );
  const pattern: fc.Arbitrary<string> = fc.letrec<{ re: string }>((tie) => ({
    re: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.tuple(atom, quantifier).map(([a, q]) => a + q),
      fc.array(tie('re'), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('')),
      fc
        .tuple(
          fc.array(tie('re'), { minLength: 1, maxLength: 3 }),
          fc.constantFrom('(', '(?:', '(?P<n>'),
          quantifier,
        )
        .map(([alternatives, open, q]) => `${open}${alternatives.join('|')})${q}`),
    ),
  })).re;

  it('estimates at least what RE2 compiles', () => {
    fc.assert(
      fc.property(pattern, (p) => {
        let size: number;
        try {
          size = RE2JS.compile(`^(?:${p})$`).programSize();
        } catch {
          return; // RE2 refuses it: nothing to compare
        }
        const estimate = expandedSize(p);
        expect(estimate).toBeDefined();
        expect(estimate).toBeGreaterThanOrEqual(size);
      }),
      { numRuns: 1000 },
    );
  });

  it('bounds the program of every pattern it lets through', () => {
    fc.assert(
      fc.property(pattern, (p) => {
        const re = compileAnchored(p);
        if (re instanceof AnchoredRegex) expect(re.cost('')).toBeLessThanOrEqual(MAX_PROGRAM_SIZE);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the cache', () => {
  it('compiles a pattern once and remembers refusals', () => {
    const first = compileAnchored('orders-[0-9]+');
    expect(compileAnchored('orders-[0-9]+')).toBe(first);
    expect(compileAnchored('orders-[0-9]*')).not.toBe(first);
    const refused = compileAnchored('orders-(');
    expect(compileAnchored('orders-(')).toBe(refused);
  });

  it('is bounded, dropping the least recently used', () => {
    const kept = compileAnchored('kept-[0-9]+');
    const firstChurn = compileAnchored('churn-0');
    for (let i = 1; i < 1000; i++) {
      compileAnchored(`churn-${i}`);
      if (i % 100 === 0) compileAnchored('kept-[0-9]+');
    }
    expect(compileAnchored('kept-[0-9]+')).toBe(kept);
    // Dropped long ago: compiled anew.
    expect(compileAnchored('churn-0')).not.toBe(firstChurn);
    expect(compileAnchored('churn-0')).toEqual(firstChurn);
  });
});

describe('matching is linear in the input', () => {
  it.each(CATASTROPHIC.map((c) => [c.pattern, c] as const))('%j', (_, { pattern, input }) => {
    const re = compileAnchored(pattern);
    // RE2 refuses some outright (a repeat count past 1,000 in all): nothing to run.
    if (!(re instanceof AnchoredRegex)) {
      expect(re.error).toContain('invalid repeat count');
      return;
    }
    const time = (length: number) => {
      const value = input(length);
      const started = performance.now();
      expect(re.matches(value)).toBe(false);
      return performance.now() - started;
    };
    time(10_000); // warm the lazy DFA and the JIT
    const small = Math.max(time(10_000), 0.05);
    const large = time(100_000);
    // RE2 takes about a millisecond for 100k characters; a backtracking engine would not end.
    expect(large).toBeLessThan(2000);
    // Ten times the input, at most fifty times the time (linear: about ten; generous for noise).
    expect(large).toBeLessThan(50 * small + 50);
  });
});
