// Which RemediationPolicy an alert falls under, and what that policy makes of it: severity and
// target. Matchers follow Alertmanager's semantics, so that a policy reads like the route that
// delivered the alert.
import { SEVERITIES, type Severity, type WorkloadKind } from '../api/group.ts';
import { DEFAULT_SEVERITY_MAPPING, type LabelMatcher, type RemediationPolicy } from '../api/policy.ts';

type Labels = Record<string, string>;

/** The policy's spec.target name pattern (objectName in api/schema.ts): a DNS-1123 subdomain. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_OBJECT_NAME = 253;

/**
 * Compiled matcher patterns. Policies are few and change rarely while alerts arrive often, so
 * each pattern is compiled once; the bound only guards against policies churning forever.
 */
const regexCache = new Map<string, RegExp | { error: string }>();
const MAX_CACHED = 1000;

/**
 * The anchored RegExp for a `=~`/`!~` pattern, or why it is invalid; cached per pattern.
 * Policies are written in Alertmanager's RE2 syntax while this runs JavaScript's engine: their
 * common subset behaves the same, and what lies outside it is refused rather than half-supported.
 */
export function compileMatcherRegex(pattern: string): RegExp | { error: string } {
  const cached = regexCache.get(pattern);
  if (cached) return cached;
  let compiled: RegExp | { error: string };
  const unsupported = unsupportedSyntax(pattern);
  if (unsupported)
    compiled = { error: `invalid regular expression ${JSON.stringify(pattern)}: ${unsupported}` };
  else
    try {
      // Alone first: wrapped at once, "a)|(b" would compile as ^(?:a)|(b)$ and match unanchored.
      new RegExp(pattern);
      compiled = new RegExp(`^(?:${pattern})$`);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // V8 writes "Invalid regular expression: /<source>/<flags>: <reason>"; the pattern is quoted separately.
      const reason = message.slice(message.lastIndexOf(': ') + 2) || message;
      compiled = { error: `invalid regular expression ${JSON.stringify(pattern)}: ${reason}` };
    }
  if (regexCache.size >= MAX_CACHED) regexCache.clear();
  regexCache.set(pattern, compiled);
  return compiled;
}

/**
 * Why a pattern is refused though JavaScript could run it: backreferences and lookaround are not
 * RE2, and inline flags such as (?i) are RE2 but escape the linear-time engine V8 can fall back to
 * on catastrophic backtracking (--enable-experimental-regexp-engine-on-excessive-backtracks), so
 * a policy could stall the operator with them. A repeated group that itself repeats, such as
 * (a+)+, is valid RE2 (and linear there) but is the classic catastrophic pattern of backtracking
 * engines: it is refused rather than left to the fallback's heuristics.
 */
function unsupportedSyntax(pattern: string): string | undefined {
  let inClass = false as boolean;
  // Per open group: whether it contains an unbounded repetition.
  const groups: boolean[] = [];
  let lastGroupRepeats = false;
  const unbounded = (at: number) => {
    const c = pattern[at];
    return c === '+' || c === '*' || (c === '{' && /^\{[0-9]+,\}/.test(pattern.slice(at)));
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const closedGroupRepeats = lastGroupRepeats;
    lastGroupRepeats = false;
    if (c === '\\') {
      const next = pattern[++i] ?? '';
      if (!inClass && /[1-9k]/.test(next)) return 'backreferences are not supported';
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') inClass = true;
    else if (c === '(') {
      const after = pattern.slice(i + 1, i + 4);
      if (/^\?(=|!|<=|<!)/.test(after)) return 'lookaround is not supported';
      if (/^\?[a-zA-Z-]/.test(after) && !after.startsWith('?P<'))
        return 'inline flags such as (?i) are not supported; spell out cases, as in [Cc]ritical';
      groups.push(false);
    } else if (c === ')') {
      lastGroupRepeats = groups.pop() ?? false;
    } else if (unbounded(i)) {
      if (closedGroupRepeats)
        return 'a repeated group that itself repeats, such as (a+)+, can backtrack catastrophically; write it without the nesting, as in a+';
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
    // A repetition inside a group marks every enclosing group too.
    if (c === ')' && lastGroupRepeats && groups.length > 0) groups[groups.length - 1] = true;
  }
  return undefined;
}

export function matcherHolds(matcher: LabelMatcher, labels: Labels): boolean {
  // As in Alertmanager, an absent label has the empty value: `foo!=""` means foo is present.
  const value = labels[matcher.name] ?? '';
  switch (matcher.operator) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
    case '!~': {
      const re = compileMatcherRegex(matcher.value);
      // An invalid pattern matches nothing, negated or not: a broken policy must not act on alerts.
      if (!(re instanceof RegExp)) return false;
      return re.test(value) === (matcher.operator === '=~');
    }
  }
}

/** Whether the alert is the policy's alertname and every label matcher holds. */
export function matchesPolicy(policy: RemediationPolicy, alert: { labels: Labels }): boolean {
  const { match } = policy.spec;
  if (alert.labels.alertname !== match.alertName) return false;
  return (match.labels ?? []).every((m) => matcherHolds(m, alert.labels));
}

/** The policy's regex matchers that do not compile, as `<path>: <reason>`, for the caller to report. */
export function invalidMatchers(policy: RemediationPolicy): string[] {
  const problems: string[] = [];
  for (const [i, m] of (policy.spec.match.labels ?? []).entries()) {
    if (m.operator !== '=~' && m.operator !== '!~') continue;
    const re = compileMatcherRegex(m.value);
    if (!(re instanceof RegExp)) problems.push(`spec.match.labels[${i}].value: ${re.error}`);
  }
  return problems;
}

function isSeverity(value: string | undefined): value is Severity {
  return (SEVERITIES as readonly (string | undefined)[]).includes(value);
}

/**
 * The severity of the policy's incident for this alert: the fixed value, else the mapped value of
 * the severity label, else the policy's default.
 */
export function severityFor(policy: RemediationPolicy, alert: { labels: Labels }): Severity {
  // The API server fills in the defaults; a policy built elsewhere (a test, a dry run) may lack them.
  const spec: Partial<RemediationPolicy['spec']['severity']> = policy.spec.severity;
  const fallback = spec.default ?? 'P3';
  if (spec.value) return spec.value;
  const labelValue = alert.labels[spec.fromLabel ?? 'severity']?.toLowerCase();
  if (!labelValue) return fallback;
  const mapping: Record<string, string> = spec.mapping ?? DEFAULT_SEVERITY_MAPPING;
  const mapped = Object.entries(mapping).find(([key]) => key.toLowerCase() === labelValue)?.[1];
  return isSeverity(mapped) ? mapped : fallback;
}

/** The workload the policy acts on for this alert, or why the alert does not name one. */
export function targetFor(
  policy: RemediationPolicy,
  alert: { labels: Labels },
): { kind: WorkloadKind; name: string } | { error: string } {
  const { kind, name, nameFromLabel } = policy.spec.target;
  if (name) return { kind, name };
  if (!nameFromLabel) return { error: 'spec.target gives neither name nor nameFromLabel' };
  const value = alert.labels[nameFromLabel];
  const source = `label ${JSON.stringify(nameFromLabel)} (spec.target.nameFromLabel)`;
  if (value === undefined) return { error: `${source} is missing from the alert` };
  if (value === '') return { error: `${source} is empty` };
  const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value.length > MAX_OBJECT_NAME)
    return {
      error: `${source} is ${value.length} characters, more than the ${MAX_OBJECT_NAME} of a ${kind} name`,
    };
  if (!DNS1123_SUBDOMAIN.test(value))
    return {
      error:
        `${source} is ${shown}, not a valid ${kind} name: a DNS-1123 subdomain is lowercase ` +
        `letters, digits, '-' and '.', starting and ending with a letter or digit`,
    };
  return { kind, name: value };
}

function specificity(policy: RemediationPolicy): number {
  return policy.spec.match.labels?.length ?? 0;
}

function compare(a: string, b: string): number {
  // Code-unit order, not localeCompare: the choice must not depend on the process's locale.
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether policy `a` wins an alert that both match: the one with more label matchers; among equally
 * specific ones, the first by name (then namespace), so every replica and every restart agrees.
 */
export function winsOver(a: RemediationPolicy, b: RemediationPolicy): boolean {
  const order =
    specificity(b) - specificity(a) ||
    compare(a.metadata.name ?? '', b.metadata.name ?? '') ||
    compare(a.metadata.namespace ?? '', b.metadata.namespace ?? '');
  return order < 0;
}

/** The policy an alert falls under: of those that match, the one that wins over all others. */
export function selectPolicy(
  policies: readonly RemediationPolicy[],
  alert: { labels: Labels },
): RemediationPolicy | undefined {
  let best: RemediationPolicy | undefined;
  for (const policy of policies) {
    if (matchesPolicy(policy, alert) && (!best || winsOver(policy, best))) best = policy;
  }
  return best;
}
