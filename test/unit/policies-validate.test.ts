// A RemediationPolicy's Ready condition: every problem a person must fix, found from the policy, its
// peers in the namespace, the actions of this build, its fixed target, and the last alert it matched.
import { describe, expect, it } from '@jest/globals';
import { ACTIONS } from '../../src/actions/registry.ts';
import { TARGET_PROBLEM_ANNOTATION } from '../../src/api/group.ts';
import type { LabelMatcher, RemediationPolicy, RemediationPolicySpec } from '../../src/api/policy.ts';
import { readiness, type PolicyObservations, type Readiness } from '../../src/policies/validate.ts';
import { incident, NAMESPACE, policy, queueDrain, scaleBy } from './fixtures.ts';

const named = (name: string, spec: Partial<RemediationPolicySpec> = {}): RemediationPolicy => {
  const p = policy(spec);
  return { ...p, metadata: { ...p.metadata, name } };
};
const matchers = (...labels: LabelMatcher[]) => ({ match: { alertName: 'CheckoutErrors', labels } });
const team = (operator: LabelMatcher['operator'], value: string): LabelMatcher => ({
  name: 'team',
  operator,
  value,
});

const obs = (o: Partial<PolicyObservations> = {}): PolicyObservations => ({
  peers: [],
  actions: ACTIONS,
  fixedTargetExists: true,
  ...o,
});

const missingLabel = 'label "deployment" (spec.target.nameFromLabel) is missing from the alert';
const VALID = 'matches alert CheckoutErrors; 1 action(s) on Deployment checkout';

describe('readiness', () => {
  // The message may be a matcher where only its beginning is the policy's own text.
  it.each<{
    name: string;
    policy: RemediationPolicy;
    obs: PolicyObservations;
    expected: Omit<Readiness, 'message'> & { message: unknown };
  }>([
    {
      name: 'a valid policy with a fixed target that exists',
      policy: policy(),
      obs: obs(),
      expected: { status: 'True', reason: 'Valid', message: VALID },
    },
    {
      name: 'a valid policy that names its target from a label, with matchers',
      policy: policy({
        ...matchers(team('=', 'payments'), { name: 'service.name', operator: '=~', value: 'checkout|cart' }),
        target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      }),
      obs: obs({ fixedTargetExists: undefined }),
      expected: {
        status: 'True',
        reason: 'Valid',
        message:
          'matches alert CheckoutErrors with 2 label matcher(s); 1 action(s) on Deployment from label deployment',
      },
    },
    {
      name: 'an invalid regular expression',
      policy: policy(matchers(team('=', 'payments'), { name: 'queue', operator: '=~', value: 'orders-(' })),
      obs: obs(),
      expected: {
        status: 'False',
        reason: 'InvalidMatcher',
        message: expect.stringMatching(
          /^spec\.match\.labels\[1\]\.value: invalid regular expression "orders-\(": .+/,
        ),
      },
    },
    {
      name: 'a regular expression that can backtrack catastrophically',
      policy: policy(matchers({ name: 'queue', operator: '!~', value: '(a+)+' })),
      obs: obs(),
      expected: {
        status: 'False',
        reason: 'InvalidMatcher',
        message: expect.stringContaining(
          'spec.match.labels[0].value: invalid regular expression "(a+)+": a repeated group that itself repeats',
        ),
      },
    },
    {
      name: 'an action this build cannot run (queueDrain, no actions at all)',
      policy: policy({ actions: [queueDrain] }),
      obs: obs({ actions: {} }),
      expected: {
        status: 'False',
        reason: 'ActionUnavailable',
        message: 'spec.actions[0]: queueDrain is not available in this build',
      },
    },
    {
      name: 'scale on a DaemonSet target',
      policy: policy({ target: { kind: 'DaemonSet', name: 'node-agent' }, actions: [scaleBy(1)] }),
      obs: obs(),
      expected: {
        status: 'False',
        reason: 'ActionImpossible',
        message: 'spec.actions[0]: a DaemonSet runs one pod per node and cannot be scaled',
      },
    },
    {
      name: 'a fixed target that does not exist',
      policy: policy(),
      obs: obs({ fixedTargetExists: false }),
      expected: {
        status: 'False',
        reason: 'TargetNotFound',
        message: `spec.target: Deployment ${NAMESPACE}/checkout does not exist`,
      },
    },
    {
      name: 'the last incident it raised names no target',
      policy: policy({ target: { kind: 'Deployment', nameFromLabel: 'deployment' } }),
      obs: obs({
        fixedTargetExists: undefined,
        latestIncident: incident({
          metadata: {
            name: 'checkout-errors-c1a2b3d4e5f60718-3',
            annotations: { [TARGET_PROBLEM_ANNOTATION]: missingLabel },
          },
        }),
      }),
      expected: {
        status: 'False',
        reason: 'TargetUnresolved',
        message: `the last alert it matched (incident checkout-errors-c1a2b3d4e5f60718-3) names no target: ${missingLabel}`,
      },
    },
    {
      name: 'the last incident it raised has its target',
      policy: policy(),
      obs: obs({ latestIncident: incident() }),
      expected: { status: 'True', reason: 'Valid', message: VALID },
    },
    {
      name: 'several problems: the first gives the reason, all are listed',
      policy: policy({
        ...matchers({ name: 'queue', operator: '=~', value: '[' }),
        actions: [queueDrain, scaleBy(1)],
      }),
      obs: obs({ fixedTargetExists: false, actions: { scale: ACTIONS.scale } }),
      expected: {
        status: 'False',
        reason: 'InvalidMatcher',
        message: expect.stringMatching(
          /^spec\.match\.labels\[0\]\.value: invalid regular expression "\[": .+; spec\.actions\[0\]: queueDrain is not available in this build; spec\.target: Deployment shop\/checkout does not exist$/,
        ),
      },
    },
  ])('$name', ({ policy: p, obs: o, expected }) => {
    expect(readiness(p, o)).toEqual(expected);
  });

  describe('against the other policies of the namespace', () => {
    const ambiguous = (winner: string) =>
      `policy ${winner} matches the same alerts with as many label matchers and wins them (the first by name wins); make one more specific`;

    it.each<{ name: string; a: RemediationPolicy; b: RemediationPolicy; a_: string; b_: string }>([
      {
        name: 'equally specific and overlapping: the loser by name is AmbiguousMatch, the winner Valid',
        a: named('a-first', matchers(team('=', 'payments'))),
        b: named('b-second', matchers(team('!=', 'shop'))),
        a_: 'Valid',
        b_: 'AmbiguousMatch',
      },
      {
        name: 'equally specific regexes that may overlap: AmbiguousMatch',
        a: named('a-first', matchers(team('=~', 'pay.*'))),
        b: named('b-second', matchers(team('=~', '.*ments'))),
        a_: 'Valid',
        b_: 'AmbiguousMatch',
      },
      {
        name: 'both without matchers on the same alert: AmbiguousMatch',
        a: named('a-first'),
        b: named('b-second'),
        a_: 'Valid',
        b_: 'AmbiguousMatch',
      },
      {
        name: 'disjoint: one label pinned to different values',
        a: named('a-first', matchers(team('=', 'payments'))),
        b: named('b-second', matchers(team('=', 'shop'))),
        a_: 'Valid',
        b_: 'Valid',
      },
      {
        name: 'disjoint: pinned by one, excluded by the other',
        a: named('a-first', matchers(team('=', 'payments'))),
        b: named('b-second', matchers(team('!=', 'payments'))),
        a_: 'Valid',
        b_: 'Valid',
      },
      {
        name: 'disjoint: pinned by one, outside the other one’s regex',
        a: named('a-first', matchers(team('=~', 'shop|cart'))),
        b: named('b-second', matchers(team('=', 'payments'))),
        a_: 'Valid',
        b_: 'Valid',
      },
      {
        name: 'disjoint: other alert names',
        a: named('a-first', { match: { alertName: 'CheckoutErrors' } }),
        b: named('b-second', { match: { alertName: 'CheckoutLatency' } }),
        a_: 'Valid',
        b_: 'Valid',
      },
      {
        name: 'not equally specific: the more specific one wins its alerts, both Valid',
        a: named('a-first', matchers(team('=', 'payments'))),
        b: named(
          'b-second',
          matchers(team('=', 'payments'), { name: 'queue', operator: '=', value: 'orders' }),
        ),
        a_: 'Valid',
        b_: 'Valid',
      },
    ])('$name', ({ a, b, a_, b_ }) => {
      const peers = [a, b];
      const ra = readiness(a, obs({ peers }));
      const rb = readiness(b, obs({ peers }));
      expect([ra.reason, rb.reason]).toEqual([a_, b_]);
      if (b_ === 'AmbiguousMatch')
        expect(rb).toEqual({ status: 'False', reason: 'AmbiguousMatch', message: ambiguous('a-first') });
    });

    it('does not compare a policy with itself', () => {
      const p = named('only', matchers(team('=', 'payments')));
      expect(readiness(p, obs({ peers: [p] })).reason).toBe('Valid');
    });
  });
});
