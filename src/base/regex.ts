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
    try {
      RE2JS.compile(pattern);
      return new AnchoredRegex(pattern, RE2JS.compile(`^(?:${pattern})$`));
    } catch (error) {
      return { error: `invalid regular expression ${JSON.stringify(pattern)}: ${reason(error)}` };
    }
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
