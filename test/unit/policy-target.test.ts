// Which workloads an alert can make a policy act on: the label selector's meaning (as Kubernetes
// gives it), and the harm limit that refuses, with a visible reason, a workload the policy does not
// allow, both before an attempt and right before its effect.
import { describe, expect, it } from '@jest/globals';
import type { IncidentSpec } from '../../src/api/incident.ts';
import type { RemediationPolicySpec } from '../../src/api/policy.ts';
import { describeSelector, selectorMatches, type LabelSelector } from '../../src/api/selector.ts';
import type { Workload } from '../../src/actions/workload.ts';
import {
  MINUTE,
  NAMESPACE,
  at,
  attemptsOf,
  conditionMessage,
  conditionsOf,
  deployment,
  incident,
  observations,
  policy,
  run,
  target,
  withStatus,
} from './fixtures.ts';

/** The workload with these labels on its own metadata. */
function labelled(labels: Record<string, string>, workload: Workload = deployment()): Workload {
  const copy = structuredClone(workload);
  (copy.object.metadata ??= {}).labels = labels;
  return copy;
}

describe('selectorMatches: metav1.LabelSelector semantics', () => {
  const labels = { app: 'checkout', tier: 'api', 'app.kubernetes.io/part-of': 'shop' };
  it.each<[string, LabelSelector, boolean]>([
    ['the empty selector selects everything', {}, true],
    ['matchLabels all equal', { matchLabels: { app: 'checkout', tier: 'api' } }, true],
    ['matchLabels with one value different', { matchLabels: { app: 'checkout', tier: 'web' } }, false],
    ['matchLabels on a missing label', { matchLabels: { team: 'payments' } }, false],
    [
      'In with the value',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] },
      true,
    ],
    ['In without the value', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }, false],
    ['In on a missing label', { matchExpressions: [{ key: 'team', operator: 'In', values: [''] }] }, false],
    [
      'NotIn with the value',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['api'] }] },
      false,
    ],
    [
      'NotIn on a missing label',
      { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['x'] }] },
      true,
    ],
    ['Exists', { matchExpressions: [{ key: 'app.kubernetes.io/part-of', operator: 'Exists' }] }, true],
    ['Exists on a missing label', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, true],
    [
      'DoesNotExist on a present label',
      { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] },
      false,
    ],
    [
      'matchLabels and matchExpressions together must all hold',
      {
        matchLabels: { app: 'checkout' },
        matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['api'] }],
      },
      false,
    ],
    [
      'an invalid key selects nothing',
      { matchExpressions: [{ key: 'not a key', operator: 'DoesNotExist' }] },
      false,
    ],
    [
      'In without values selects nothing',
      { matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] },
      false,
    ],
  ])('%s', (_name, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it("is written as kubectl's -l writes it, cut for status messages", () => {
    expect(
      describeSelector({
        matchLabels: { app: 'api' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['web', 'api'] },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
          { key: 'owned', operator: 'Exists' },
          { key: 'canary', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=api,tier in (web,api),env notin (dev),owned,!canary');
    expect(describeSelector({})).toBe('everything');
    expect(
      describeSelector({ matchLabels: { a: 'x'.repeat(63), b: 'y'.repeat(63), c: 'z'.repeat(63) } }, 50),
    ).toHaveLength(50);
  });
});

describe('decide: an alert cannot pick a workload its namespace did not allow', () => {
  /** An incident as alert intake writes it: the target named by the alert, the policy's remediation. */
  const alerted: Partial<IncidentSpec> = {
    actions: undefined,
    policyRef: { name: 'restart-from-alert' },
    source: {
      type: 'alertmanager',
      alertName: 'CheckoutErrors',
      labels: { namespace: NAMESPACE, deployment: 'checkout' },
    },
    target: { kind: 'Deployment', name: 'checkout' },
  };
  const fromLabel = (selector?: LabelSelector): RemediationPolicySpec['target'] => ({
    kind: 'Deployment',
    nameFromLabel: 'deployment',
    ...(selector ? { selector } : {}),
  });
  const policyWith = (targetSpec: RemediationPolicySpec['target']) => ({
    ...policy({ target: targetSpec }),
    metadata: { name: 'restart-from-alert', namespace: NAMESPACE, generation: 1 },
  });
  const decideOn = (
    targetSpec: RemediationPolicySpec['target'],
    labels: Record<string, string>,
    spec = alerted,
  ) =>
    run(
      incident({ spec }),
      observations(at(MINUTE), { policy: policyWith(targetSpec), target: target(labelled(labels)) }),
    );

  it.each<[string, RemediationPolicySpec['target'], Record<string, string>]>([
    [
      'the selector matches the workload',
      fromLabel({ matchLabels: { app: 'checkout' } }),
      { app: 'checkout' },
    ],
    [
      'the selector matches through matchExpressions',
      fromLabel({
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['api', 'web'] },
          { key: 'stateful', operator: 'DoesNotExist' },
        ],
      }),
      { app: 'checkout', tier: 'api' },
    ],
    ['the empty selector allows every workload of the namespace', fromLabel({}), {}],
    ['no selector, and the workload opted in', fromLabel(), { 'selfheal.dev/alert-remediation': 'enabled' }],
    ['no selector, and the policy names the workload itself', { kind: 'Deployment', name: 'checkout' }, {}],
  ])('acts when %s', (_name, targetSpec, labels) => {
    const plan = decideOn(targetSpec, labels);
    expect(plan.effect?.action).toEqual({ type: 'rolloutRestart' });
    expect(attemptsOf(plan.status)).toEqual(['attempt-1 rolloutRestart Running']);
  });

  it.each<[string, RemediationPolicySpec['target'], Record<string, string>, string]>([
    [
      'the selector does not match the workload',
      fromLabel({ matchLabels: { app: 'api' } }),
      { app: 'checkout' },
      'Deployment shop/checkout does not match the target selector app=api of policy restart-from-alert: label the workload to match, or widen spec.target.selector',
    ],
    [
      'a matchExpressions requirement excludes it',
      fromLabel({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }),
      { tier: 'db' },
      'Deployment shop/checkout does not match the target selector tier notin (db) of policy restart-from-alert: label the workload to match, or widen spec.target.selector',
    ],
    [
      'no selector, and the workload did not opt in',
      fromLabel(),
      { app: 'checkout' },
      'Deployment shop/checkout is not labelled selfheal.dev/alert-remediation=enabled, and policy restart-from-alert has no target selector: an alert may name only a workload that opted in; add the label, or give the policy a spec.target.selector that matches the workload',
    ],
    [
      'the opt-in label has another value',
      fromLabel(),
      { 'selfheal.dev/alert-remediation': 'true' },
      'Deployment shop/checkout is not labelled selfheal.dev/alert-remediation=enabled, and policy restart-from-alert has no target selector: an alert may name only a workload that opted in; add the label, or give the policy a spec.target.selector that matches the workload',
    ],
    [
      'the selector is invalid',
      fromLabel({ matchLabels: { 'bad key': 'x' } }),
      { 'bad key': 'x' },
      `policy restart-from-alert has an invalid target selector, which allows no workload: spec.target.selector.matchLabels["bad key"]: "bad key" is not a valid label key: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    ],
    [
      'the policy names another workload',
      { kind: 'Deployment', name: 'cart' },
      { 'selfheal.dev/alert-remediation': 'enabled' },
      'policy restart-from-alert acts only on Deployment shop/cart (spec.target.name), not on Deployment shop/checkout',
    ],
  ])('refuses visibly, touching nothing, when %s', (_name, targetSpec, labels, message) => {
    const plan = decideOn(targetSpec, labels);
    expect(plan.effect).toBeUndefined();
    expect(plan.status.attempts ?? []).toEqual([]);
    expect(plan.status.phase).toBe('Escalated');
    expect(conditionsOf(plan.status)).toMatchObject({
      Remediated: 'False/TargetNotAllowed',
      Escalated: 'True/TargetNotAllowed',
    });
    expect(conditionMessage(plan.status, 'Escalated')).toBe(message);
  });

  it("does not apply to an incident with its own actions: its writer's choice in their own namespace", () => {
    const manual = run(incident(), observations(at(MINUTE), { target: target(labelled({})) }));
    expect(manual.effect?.action).toEqual({ type: 'rolloutRestart' });
  });

  it('comes before the dry run: a dry run does not plan what could never run', () => {
    const plan = run(
      incident({ spec: { ...alerted, dryRun: true } }),
      observations(at(MINUTE), { policy: policyWith(fromLabel()), target: target(labelled({})) }),
    );
    expect(conditionsOf(plan.status)).toMatchObject({ Escalated: 'True/TargetNotAllowed' });
  });

  it('holds at the moment of the effect: the opt-in label removed after the intent stops it', () => {
    const optedIn = { 'selfheal.dev/alert-remediation': 'enabled' };
    const rules = policyWith(fromLabel());
    const first = run(
      incident({ spec: alerted }),
      observations(at(MINUTE), { policy: rules, target: target(labelled(optedIn)) }),
    );
    expect(attemptsOf(first.status)).toEqual(['attempt-1 rolloutRestart Running']);
    // The effect did not land (the operator stopped); the next pass sees the label gone.
    const next = run(
      withStatus(incident({ spec: alerted }), first.status),
      observations(at(2 * MINUTE), { policy: rules, target: target(labelled({})) }),
    );
    expect(next.effect).toBeUndefined();
    expect(attemptsOf(next.status)).toEqual(['attempt-1 rolloutRestart Refused']);
    expect(next.status.attempts?.[0]?.message).toMatch(
      /^not applied: Deployment shop\/checkout is not labelled selfheal.dev\/alert-remediation=enabled/,
    );
    expect(conditionsOf(next.status)).toMatchObject({ Escalated: 'True/TargetNotAllowed' });
  });
});
