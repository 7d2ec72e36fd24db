// Whether a RemediationPolicy can do what it says, as its Ready condition: every problem a person
// must fix, found before an alert depends on it (a regex refused, an action this build cannot run or
// that cannot act on the target's kind, a fixed target that does not exist, another policy that
// wins the same alerts) or learnt from the alerts it matched (a target label they do not carry).
import type { Incident } from '../api/incident.ts';
import type { LabelMatcher, RemediationPolicy } from '../api/policy.ts';
import {
  ALERT_REMEDIATION_ENABLED,
  ALERT_REMEDIATION_LABEL,
  TARGET_PROBLEM_ANNOTATION,
} from '../api/group.ts';
import { describeSelector, selectorProblems } from '../api/selector.ts';
import type { RemediationAction } from '../actions/action.ts';
import { AnchoredRegex, compileAnchored } from '../base/regex.ts';
import { invalidMatchers, matcherHolds, winsOver } from './matching.ts';

export interface PolicyObservations {
  /** The other policies of the namespace. */
  peers: readonly RemediationPolicy[];
  actions: Partial<Record<string, RemediationAction>>;
  /** Whether the fixed target exists; undefined when the policy names it from a label. */
  fixedTargetExists?: boolean;
  /** The newest incident the policy raised, if any. */
  latestIncident?: Incident;
}

export interface Readiness {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/**
 * The regex work one readiness may spend comparing the policy with its peers, in RE2 steps
 * (AnchoredRegex.cost): about a tenth of a second at worst. Every change of a policy re-validates
 * each peer of its namespace against every other, and a pair can take 16 × 16 matchers whose
 * pinned values (1,024 characters) meet patterns of a thousand instructions: linear on RE2, yet
 * seconds in all without a bound.
 */
const PEER_REGEX_BUDGET = 2_000_000;

interface Budget {
  steps: number;
}

/** Whether the matcher holds for this value of its label; undefined when that would overrun the budget. */
function holdsWithin(matcher: LabelMatcher, value: string, budget: Budget): boolean | undefined {
  if (matcher.operator === '=~' || matcher.operator === '!~') {
    const re = compileAnchored(matcher.value);
    if (re instanceof AnchoredRegex) {
      const cost = re.cost(value);
      if (cost > budget.steps) return undefined;
      budget.steps -= cost;
    }
  }
  return matcherHolds(matcher, { [matcher.name]: value });
}

/**
 * Two matchers on one label that no value satisfies together (one pins the value, the other
 * excludes it). Past the budget they count as contradicting: two policies are called ambiguous
 * only when shown to be.
 */
function contradict(a: LabelMatcher, b: LabelMatcher, budget: Budget): boolean {
  if (a.operator === '=') return holdsWithin(b, a.value, budget) !== true;
  if (b.operator === '=') return holdsWithin(a, b.value, budget) !== true;
  return false;
}

/** Whether no alert can match both policies (a label one pins to a value the other excludes). */
function disjoint(a: RemediationPolicy, b: RemediationPolicy, budget: Budget): boolean {
  if (a.spec.match.alertName !== b.spec.match.alertName) return true;
  const left = a.spec.match.labels ?? [];
  const right = b.spec.match.labels ?? [];
  return left.some((m) => right.some((n) => m.name === n.name && contradict(m, n, budget)));
}

const specificity = (p: RemediationPolicy) => p.spec.match.labels?.length ?? 0;

/** Which workloads the policy may act on, as the Ready message says it (decide/policytarget.ts enforces it). */
function allowedTargets(policy: RemediationPolicy): string {
  const { selector, name } = policy.spec.target;
  if (selector) {
    const described = describeSelector(selector);
    return described === 'everything' ? ', any in the namespace' : `, if it matches ${described}`;
  }
  return name ? '' : `, if it is labelled ${ALERT_REMEDIATION_LABEL}=${ALERT_REMEDIATION_ENABLED}`;
}

export function readiness(policy: RemediationPolicy, obs: PolicyObservations): Readiness {
  const problems: { reason: string; message: string }[] = [];
  for (const problem of invalidMatchers(policy))
    problems.push({ reason: 'InvalidMatcher', message: problem });
  const { kind, name } = policy.spec.target;
  for (const [index, action] of policy.spec.actions.entries()) {
    const handler = obs.actions[action.type];
    if (!handler) {
      problems.push({
        reason: 'ActionUnavailable',
        message: `spec.actions[${index}]: ${action.type} is not available in this build`,
      });
      continue;
    }
    // A probe with only the kind: what the action refuses for every workload of that kind.
    const refusal = handler.refusal({ kind, object: {} }, action);
    if (refusal)
      problems.push({ reason: 'ActionImpossible', message: `spec.actions[${index}]: ${refusal.message}` });
  }
  if (name && obs.fixedTargetExists === false)
    problems.push({
      reason: 'TargetNotFound',
      message: `spec.target: ${kind} ${policy.metadata.namespace ?? ''}/${name} does not exist`,
    });
  const { selector } = policy.spec.target;
  for (const problem of selector ? selectorProblems(selector, 'spec.target.selector') : [])
    problems.push({ reason: 'InvalidSelector', message: problem });
  const targetProblem = obs.latestIncident?.metadata.annotations?.[TARGET_PROBLEM_ANNOTATION];
  if (targetProblem) {
    const incident = obs.latestIncident?.metadata.name ?? '';
    problems.push({
      reason: 'TargetUnresolved',
      message: `the last alert it matched (incident ${incident}) names no target: ${targetProblem}`,
    });
  }
  const budget = { steps: PEER_REGEX_BUDGET };
  for (const peer of obs.peers) {
    if (peer.metadata.name === policy.metadata.name || specificity(peer) !== specificity(policy)) continue;
    // The cheap test first: only a peer that would win the shared alerts is compared matcher by matcher.
    if (!winsOver(peer, policy) || disjoint(policy, peer, budget)) continue;
    problems.push({
      reason: 'AmbiguousMatch',
      message: `policy ${peer.metadata.name ?? ''} matches the same alerts with as many label matchers and wins them (the first by name wins); make one more specific`,
    });
  }
  const first = problems[0];
  if (!first) {
    const matchers = specificity(policy);
    return {
      status: 'True',
      reason: 'Valid',
      message: `matches alert ${policy.spec.match.alertName}${matchers ? ` with ${matchers} label matcher(s)` : ''}; ${policy.spec.actions.length} action(s) on ${kind} ${name ?? `from label ${policy.spec.target.nameFromLabel ?? ''}`}${allowedTargets(policy)}`,
    };
  }
  return {
    status: 'False',
    reason: first.reason,
    message: problems
      .map((p) => p.message)
      .join('; ')
      .slice(0, 32_000),
  };
}
