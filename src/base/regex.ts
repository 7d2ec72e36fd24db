// The one place a regular expression written by a tenant is compiled and run (DESIGN rule 14).
//
// The engine is re2js, the JavaScript port of Go's regexp (RE2): the very engine and syntax of
// Alertmanager's matchers, so a policy means here what it means in an Alertmanager route, and a
// pattern Alertmanager refuses is refused with the same reason. RE2 matches in time linear in the
// input, whatever the pattern; V8's RegExp backtracks and a tenant's pattern could hold the event
// loop for minutes. re2js is pure JavaScript: no native build (as the `re2` binding needs) and no
// WebAssembly module and memory to manage (as `re2-wasm` does), so the image and the tests run it
// as they are.
import { RE2JS, RE2JSSyntaxException } from 're2js';

/** A tenant's pattern, compiled to match a whole value as Alertmanager's `=~` and `!~` do. */
export class AnchoredRegex {
  readonly pattern: string;
  readonly #compiled: RE2JS;

  private constructor(pattern: string, compiled: RE2JS) {
    this.pattern = pattern;
    this.#compiled = compiled;
  }

  /**
   * The pattern compiled as Alertmanager does, `^(?:pattern)$`, or why RE2 refuses it. The pattern
   * is parsed alone first: wrapped at once, "a)|(b" would compile as ^(?:a)|(b)$ and match values
   * that merely end in b.
   */
  static compile(pattern: string): AnchoredRegex | InvalidRegex {
    const invalid = (why: string) => ({
      error: `invalid regular expression ${JSON.stringify(pattern)}: ${why}`,
    });
    // Before RE2 compiles it: compiling is what costs, in time and memory, for a pattern whose
    // counted repetitions multiply out (112 × `.{0,1000}` fits a matcher's 1,024 characters,
    // compiles for a second and keeps 39 MB).
    const estimated = expandedSize(pattern);
    if (estimated !== undefined && estimated > MAX_PROGRAM_SIZE) return invalid(tooLarge(estimated));
    let compiled: RE2JS;
    try {
      RE2JS.compile(pattern);
      compiled = RE2JS.compile(`^(?:${pattern})$`);
    } catch (error) {
      return invalid(reason(error));
    }
    // The estimate is an upper bound of RE2's own measure; this holds should it ever fall short.
    if (compiled.programSize() > MAX_PROGRAM_SIZE) return invalid(tooLarge(compiled.programSize()));
    return new AnchoredRegex(pattern, compiled);
  }

  /** Whether the pattern matches the whole value; linear in the value's length. */
  matches(value: string): boolean {
    return this.#compiled.test(value);
  }

  /**
   * An upper bound of the work `matches(value)` does, in steps: RE2's program size (its own
   * measure of a pattern's cost) per character. For a caller that runs many patterns on many
   * values at once and must bound the whole.
   */
  cost(value: string): number {
    return (value.length + 1) * this.#compiled.programSize();
  }
}

/**
 * The largest program (RE2's instructions) a tenant pattern may compile to. Matching costs program
 * size × input length, so this bounds one match of a 1,024-character label value to about 2 million
 * steps (a few tens of milliseconds). Alertmanager allows up to RE2's own limit (about 1.4 million):
 * a pattern between the two is refused here though Alertmanager would take it. Ordinary matchers
 * compile to tens of instructions; `[a-z0-9-]{1,63}` to about 130.
 */
export const MAX_PROGRAM_SIZE = 2_000;

const tooLarge = (size: number) =>
  `it expands to about ${size} RE2 instructions, more than the ${MAX_PROGRAM_SIZE} selfheal runs (write counted repetitions such as {0,1000} with smaller counts, or use * and +)`;

/**
 * An upper bound of the instructions RE2 compiles a pattern to, anchored, read from its text without
 * compiling it: RE2 expands `x{n,m}` into m copies of x, so counted repetitions multiply. Only the
 * sizes are estimated; the syntax is RE2's to judge, so a pattern whose nested counts RE2 refuses
 * itself (more than 1000 in all, "invalid repeat count", found while parsing, at no cost) gives
 * undefined: RE2's reason is the one to give, as Alertmanager gives it.
 */
export function expandedSize(pattern: string): number | undefined {
  interface Group {
    /** The alternatives closed so far. */
    done: number;
    /** The alternative being read. */
    branch: number;
    /** The last atom's size: what a repetition applies to. */
    last: number;
    /** The product of the counts nested in the last atom, and the largest in the group. */
    lastCounts: number;
    counts: number;
  }
  const group = (): Group => ({ done: 0, branch: 0, last: 0, lastCounts: 1, counts: 1 });
  const stack: Group[] = [group()];
  const top = () => stack[stack.length - 1] as Group;
  const atom = (size: number, counts = 1) => {
    const g = top();
    g.branch += size;
    g.last = size;
    g.lastCounts = counts;
    g.counts = Math.max(g.counts, counts);
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === 'Q') {
        // \Q...\E: every character literal.
        const end = pattern.indexOf('\\E', i + 2);
        top().branch += end === -1 ? pattern.length - i - 2 : end - i - 2;
        atom(1);
        i = end === -1 ? pattern.length : end + 1;
        continue;
      }
      // \p{Greek}, \x{10FFFF}: one atom, braces included.
      if ((next === 'p' || next === 'P' || next === 'x') && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i);
        i = end === -1 ? pattern.length : end;
      } else i++;
      atom(1);
    } else if (c === '[') {
      // A class is one instruction whatever its ranges; find its end (`]` first is literal).
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      for (; j < pattern.length && pattern[j] !== ']'; j++) {
        if (pattern[j] === '\\') j++;
        else if (pattern[j] === '[' && pattern[j + 1] === ':') {
          const end = pattern.indexOf(':]', j + 2);
          if (end !== -1) j = end + 1;
        }
      }
      i = j;
      atom(1);
    } else if (c === '(') {
      // (?i) alone sets flags and is no group; (?:, (?P<name>, (?i: open one.
      const flags = /^\(\?[a-zA-Z-]*\)/.exec(pattern.slice(i, i + 12));
      if (flags) i += flags[0].length - 1;
      else stack.push(group());
    } else if (c === ')' && stack.length > 1) {
      const closed = stack.pop() as Group;
      atom(closed.done + closed.branch + 2, closed.counts);
    } else if (c === '|') {
      const g = top();
      g.done += g.branch + 1;
      g.branch = 0;
      g.last = 0;
    } else if (c === '*' || c === '+' || c === '?') {
      // A loop or a choice: two instructions where what repeats may match empty.
      top().branch += 2;
      if (pattern[i + 1] === '?') i++;
    } else if (c === '{') {
      const repeat = /^\{([0-9]+)(,([0-9]*))?\}/.exec(pattern.slice(i, i + 24));
      if (!repeat) {
        atom(1);
        continue;
      }
      const min = Number(repeat[1]);
      const max = repeat[2] === undefined ? min : repeat[3] === '' ? -1 : Number(repeat[3]);
      const g = top();
      // RE2's own rule (repeatIsValid): the counts nested in one another multiply to at most 1000.
      const count = max === -1 ? min : max;
      const counts = g.lastCounts * Math.max(count, 1);
      if ((min >= 2 || max >= 2) && counts > 1000) return undefined;
      // m copies of the atom (one is already counted) and two instructions per optional copy.
      const copies = Math.max(min, max === -1 ? min + 1 : max, 1);
      g.branch += g.last * (copies - 1) + 2 * copies;
      g.last = g.last * copies + 2 * copies;
      g.lastCounts = counts;
      g.counts = Math.max(g.counts, counts);
      i += repeat[0].length - 1;
      if (pattern[i + 1] === '?') i++;
    } else atom(1);
  }
  // Groups left open are RE2's to refuse; count them all the same. The 2: the anchors ^ and $.
  return stack.reduce((sum, g) => sum + g.done + g.branch + 2, 2);
}

export interface InvalidRegex {
  /** `invalid regular expression "<pattern>": <RE2's reason>`. */
  error: string;
}

/** RE2's reason as Go's regexp/syntax words it (`invalid repeat count: `{0,50}``), without its prefix. */
function reason(error: unknown): string {
  if (error instanceof RE2JSSyntaxException) {
    const fragment = error.getPattern();
    return fragment === null ? error.getDescription() : `${error.getDescription()}: \`${fragment}\``;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Compiled patterns, most recently used last. Policies are few and change rarely while alerts
 * arrive often, so a pattern is compiled once; the bound keeps memory in check, since each
 * compiled pattern may grow a lazily built DFA (RE2 caps it at 8 MB of states).
 */
const cache = new Map<string, AnchoredRegex | InvalidRegex>();
const MAX_CACHED = 256;

/** `AnchoredRegex.compile`, remembered per pattern (refusals too). */
export function compileAnchored(pattern: string): AnchoredRegex | InvalidRegex {
  let compiled = cache.get(pattern);
  if (compiled) cache.delete(pattern);
  else {
    compiled = AnchoredRegex.compile(pattern);
    if (cache.size >= MAX_CACHED) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
  }
  cache.set(pattern, compiled);
  return compiled;
}
