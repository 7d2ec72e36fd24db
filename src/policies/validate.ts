// Whether a RemediationPolicy can do what it says, as its Ready condition: every problem a person
// must fix, found before an alert depends on it (a regex refused, an action this build cannot run or
// that cannot act on the target's kind, a fixed target that does not exist, another policy that
// wins the same alerts) or learnt from the alerts it matched (a target label they do not carry).
import type { Incident } from '../api/incident.ts';
import type { LabelMatcher, RemediationPolicy } from '../api/policy.ts';
import { TARGET_PROBLEM_ANNOTATION } from '../api/group.ts';
import type { RemediationAction } from '../actions/action.ts';
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

/** Two matchers on one label that no value satisfies together (one pins the value, the other excludes it). */
function contradict(a: LabelMatcher, b: LabelMatcher): boolean {
  if (a.operator === '=') return !matcherHolds(b, { [b.name]: a.value });
  if (b.operator === '=') return !matcherHolds(a, { [a.name]: b.value });
  return false;
}

/** Whether no alert can match both policies (a label one pins to a value the other excludes). */
function disjoint(a: RemediationPolicy, b: RemediationPolicy): boolean {
  if (a.spec.match.alertName !== b.spec.match.alertName) return true;
  const left = a.spec.match.labels ?? [];
  const right = b.spec.match.labels ?? [];
  return left.some((m) => right.some((n) => m.name === n.name && contradict(m, n)));
}

const specificity = (p: RemediationPolicy) => p.spec.match.labels?.length ?? 0;

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
  const targetProblem = obs.latestIncident?.metadata.annotations?.[TARGET_PROBLEM_ANNOTATION];
  if (targetProblem) {
    const incident = obs.latestIncident?.metadata.name ?? '';
    problems.push({
      reason: 'TargetUnresolved',
      message: `the last alert it matched (incident ${incident}) names no target: ${targetProblem}`,
    });
  }
  for (const peer of obs.peers) {
    if (peer.metadata.name === policy.metadata.name || specificity(peer) !== specificity(policy)) continue;
    if (disjoint(policy, peer) || !winsOver(peer, policy)) continue;
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
      message: `matches alert ${policy.spec.match.alertName}${matchers ? ` with ${matchers} label matcher(s)` : ''}; ${policy.spec.actions.length} action(s) on ${kind} ${name ?? `from label ${policy.spec.target.nameFromLabel ?? ''}`}`,
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
