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
          'matches alert CheckoutErrors with 2 label matcher(s); 1 action(s) on Deployment from label deployment, if it is labelled selfheal.dev/alert-remediation=enabled',
      },
    },
    {
      name: 'a valid policy whose target selector says which workloads alerts may name',
      policy: policy({
        target: {
          kind: 'Deployment',
          nameFromLabel: 'deployment',
          selector: {
            matchLabels: { 'app.kubernetes.io/part-of': 'shop' },
            matchExpressions: [
              { key: 'tier', operator: 'In', values: ['api', 'web'] },
              { key: 'stateful', operator: 'DoesNotExist' },
            ],
          },
        },
      }),
      obs: obs({ fixedTargetExists: undefined }),
      expected: {
        status: 'True',
        reason: 'Valid',
        message:
          'matches alert CheckoutErrors; 1 action(s) on Deployment from label deployment, if it matches app.kubernetes.io/part-of=shop,tier in (api,web),!stateful',
      },
    },
    {
      name: 'a target selector with a key and a value Kubernetes refuses',
      policy: policy({
        target: {
          kind: 'Deployment',
          nameFromLabel: 'deployment',
          selector: {
            matchLabels: { 'App Name': 'api' },
            matchExpressions: [{ key: 'Example.com/tier', operator: 'NotIn', values: ['-web'] }],
          },
        },
      }),
      obs: obs({ fixedTargetExists: undefined }),
      expected: {
        status: 'False',
        reason: 'InvalidSelector',
        message:
          `spec.target.selector.matchLabels["App Name"]: "App Name" is not a valid label key: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit; ` +
          `spec.target.selector.matchExpressions[0].key: "Example.com/tier" is not a valid label key: the prefix before '/' must be a DNS-1123 subdomain of at most 253 characters (lowercase letters, digits, '-' and '.'), such as example.com; ` +
          `spec.target.selector.matchExpressions[0].values[0]: "-web" is not a valid label value: a label value is empty or 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
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
      name: 'a regular expression RE2 refuses, as Alertmanager does',
      policy: policy(matchers({ name: 'pod', operator: '=~', value: '(.{0,50}){0,50}x' })),
      obs: obs(),
      expected: {
        status: 'False',
        reason: 'InvalidMatcher',
        message:
          'spec.match.labels[0].value: invalid regular expression "(.{0,50}){0,50}x": invalid repeat count: `{0,50}`',
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

    it('compares a pinned value with a peer’s regex in linear time (the wedge of issue 16)', () => {
      const pod = (operator: LabelMatcher['operator'], value: string): LabelMatcher => ({
        name: 'pod',
        operator,
        value,
      });
      const started = performance.now();
      const pinned = named('a-pinned', matchers(pod('=', `${'a'.repeat(30)}!`)));
      const backtracking = named('b-backtracking', matchers(pod('=~', '(a|aa)+')));
      const refused = named('c-refused', matchers(pod('=~', '(.{0,50}){0,50}x')));
      const long = named('d-long', matchers(pod('=', `${'a'.repeat(1023)}!`)));
      const peers = [pinned, backtracking, refused, long];
      expect(peers.map((p) => readiness(p, obs({ peers })).reason)).toEqual([
        'Valid',
        'Valid',
        'InvalidMatcher',
        'Valid',
      ]);
      // On V8's backtracking engine (a|aa)+ on the long value alone takes longer than the universe.
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('bounds the regex work of one readiness, and then claims no ambiguity', () => {
      // 16 × 16 matchers on one label: every pinned value (1,024 characters) matches every pattern
      // of about six hundred instructions, so shown in full the pair would take seconds; past the budget
      // the rest counts as not overlapping.
      const value = `a${'ab'.repeat(511)}b`;
      const labels = (operator: LabelMatcher['operator'], text: (i: number) => string) =>
        Array.from({ length: 16 }, (_, i): LabelMatcher => ({ name: 'pod', operator, value: text(i) }));
      const winner = named('a-first', {
        match: { alertName: 'CheckoutErrors', labels: labels('=', () => value) },
      });
      const loser = named('b-second', {
        match: { alertName: 'CheckoutErrors', labels: labels('=~', (i) => `[ab]*a[ab]{${600 + i}}b?`) },
      });
      const started = performance.now();
      expect(readiness(loser, obs({ peers: [winner, loser] })).reason).toBe('Valid');
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('does not compare a policy with itself', () => {
      const p = named('only', matchers(team('=', 'payments')));
      expect(readiness(p, obs({ peers: [p] })).reason).toBe('Valid');
    });
  });
});
