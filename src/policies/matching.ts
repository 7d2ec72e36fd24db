// Which RemediationPolicy an alert falls under, and what that policy makes of it: severity and
// target. Matchers follow Alertmanager's semantics, regexes included (RE2, anchored: src/base/regex.ts),
// so that a policy reads like the route that delivered the alert.
import { SEVERITIES, type Severity, type WorkloadKind } from '../api/group.ts';
import { DEFAULT_SEVERITY_MAPPING, type LabelMatcher, type RemediationPolicy } from '../api/policy.ts';
import { AnchoredRegex, compileAnchored } from '../base/regex.ts';

type Labels = Record<string, string>;

/** The policy's spec.target name pattern (objectName in api/schema.ts): a DNS-1123 subdomain. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_OBJECT_NAME = 253;

/**
 * The RE2 work (AnchoredRegex.cost steps) one alert may cost across the policies of its namespace:
 * about a tenth of a second at worst. One pattern costs at most about 2 million steps on a label value
 * (src/base/regex.ts), but a namespace may hold many policies of 16 matchers each, and every alert of
 * the namespace is matched against all of them on the intake path.
 */
export const ALERT_MATCH_BUDGET = 4_000_000;

/** What is left of an alert's matching budget; the matchers spend it. */
export interface MatchBudget {
  steps: number;
}

/** Matching an alert stopped: its namespace's regexes cost more than one alert may. */
export class MatchBudgetExhausted extends Error {}

export function matcherHolds(
  matcher: LabelMatcher,
  labels: Labels,
  budget: MatchBudget = { steps: Infinity },
): boolean {
  // As in Alertmanager, an absent label has the empty value: `foo!=""` means foo is present.
  const value = labels[matcher.name] ?? '';
  switch (matcher.operator) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
    case '!~': {
      const re = compileAnchored(matcher.value);
      // An invalid pattern matches nothing, negated or not: a broken policy must not act on alerts.
      if (!(re instanceof AnchoredRegex)) return false;
      const cost = re.cost(value);
      if (cost > budget.steps)
        throw new MatchBudgetExhausted(
          `matching ${matcher.name} ${matcher.operator} ${JSON.stringify(matcher.value)}`,
        );
      budget.steps -= cost;
      return re.matches(value) === (matcher.operator === '=~');
    }
  }
}

/** Whether the alert is the policy's alertname and every label matcher holds. */
export function matchesPolicy(
  policy: RemediationPolicy,
  alert: { labels: Labels },
  budget: MatchBudget = { steps: Infinity },
): boolean {
  const { match } = policy.spec;
  if (alert.labels.alertname !== match.alertName) return false;
  return (match.labels ?? []).every((m) => matcherHolds(m, alert.labels, budget));
}

/** The policy's regex matchers that do not compile, as `<path>: <reason>`, for the caller to report. */
export function invalidMatchers(policy: RemediationPolicy): string[] {
  const problems: string[] = [];
  for (const [i, m] of (policy.spec.match.labels ?? []).entries()) {
    if (m.operator !== '=~' && m.operator !== '!~') continue;
    const re = compileAnchored(m.value);
    if (!(re instanceof AnchoredRegex)) problems.push(`spec.match.labels[${i}].value: ${re.error}`);
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

/**
 * The policy an alert falls under: of those that match, the one that wins over all others. Throws
 * MatchBudgetExhausted when the policies' regexes would cost more than ALERT_MATCH_BUDGET: the alert
 * then falls under none, and the caller says why, rather than holding the intake for as long as the
 * namespace's patterns take.
 */
export function selectPolicy(
  policies: readonly RemediationPolicy[],
  alert: { labels: Labels },
): RemediationPolicy | undefined {
  const budget = { steps: ALERT_MATCH_BUDGET };
  let best: RemediationPolicy | undefined;
  for (const policy of policies) {
    if (matchesPolicy(policy, alert, budget) && (!best || winsOver(policy, best))) best = policy;
  }
  return best;
}
