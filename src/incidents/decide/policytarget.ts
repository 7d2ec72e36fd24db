// Which workloads a RemediationPolicy may act on. An alert's labels, the workload name included, are
// written by whoever writes alert rules, who may not be the namespace's owners (a PrometheusRule in
// another namespace, without prometheus-operator's enforcedNamespaceLabel, sets any `namespace`
// label it likes). So the namespace, not the alert, says which workloads an alert can reach.
import { ALERT_REMEDIATION_ENABLED, ALERT_REMEDIATION_LABEL } from '../../api/group.ts';
import type { RemediationPolicy } from '../../api/policy.ts';
import { describeSelector, selectorMatches, selectorProblems } from '../../api/selector.ts';
import type { Refusal } from '../../actions/action.ts';
import { describeTarget, type TargetRef } from '../../actions/workload.ts';

export const TARGET_NOT_ALLOWED = 'TargetNotAllowed';

/**
 * Why the policy may not act on this workload, if it may not. With a spec.target.selector, it acts
 * only on workloads the selector matches; without one, only on the workload its target.name names,
 * or, when an alert names the workload (nameFromLabel), only on one labelled
 * ALERT_REMEDIATION_LABEL=enabled. Judged on the labels of the workload version the effect is
 * conditioned on, so a label removed after the intent still stops the effect.
 */
export function policyRefusal(
  policy: RemediationPolicy,
  ref: TargetRef,
  labels: Readonly<Record<string, string>>,
): Refusal | undefined {
  const where = describeTarget(ref);
  const policyName = policy.metadata.name ?? '';
  const { selector, name, kind } = policy.spec.target;
  const refuse = (message: string): Refusal => ({ reason: TARGET_NOT_ALLOWED, message });
  if (selector) {
    const problem = selectorProblems(selector, 'spec.target.selector')[0];
    if (problem)
      return refuse(
        `policy ${policyName} has an invalid target selector, which allows no workload: ${problem}`,
      );
    return selectorMatches(selector, labels)
      ? undefined
      : refuse(
          `${where} does not match the target selector ${describeSelector(selector)} of policy ${policyName}: label the workload to match, or widen spec.target.selector`,
        );
  }
  if (name)
    return name === ref.name && kind === ref.kind
      ? undefined
      : refuse(
          `policy ${policyName} acts only on ${kind} ${ref.namespace}/${name} (spec.target.name), not on ${where}`,
        );
  return labels[ALERT_REMEDIATION_LABEL] === ALERT_REMEDIATION_ENABLED
    ? undefined
    : refuse(
        `${where} is not labelled ${ALERT_REMEDIATION_LABEL}=${ALERT_REMEDIATION_ENABLED}, and policy ${policyName} has no target selector: an alert may name only a workload that opted in; add the label, or give the policy a spec.target.selector that matches the workload`,
      );
}
