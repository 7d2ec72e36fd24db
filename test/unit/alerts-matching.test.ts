import { describe, expect, it } from '@jest/globals';
import {
  invalidMatchers,
  matcherHolds,
  matchesPolicy,
  selectPolicy,
  severityFor,
  targetFor,
  winsOver,
} from '../../src/policies/matching.ts';
import type { Severity } from '../../src/api/group.ts';
import type { LabelMatcher, RemediationPolicy, RemediationPolicySpec } from '../../src/api/policy.ts';

type Labels = Record<string, string>;

/** A defaulted policy for QueueBacklog alerts that restarts the Deployment named by the `deployment` label. */
function policy(
  spec: Partial<RemediationPolicySpec> = {},
  name = 'queue-backlog',
  namespace = 'shop',
): RemediationPolicy {
  return {
    apiVersion: 'selfheal.dev/v1alpha1',
    kind: 'RemediationPolicy',
    metadata: { name, namespace, generation: 1 },
    spec: {
      match: { alertName: 'QueueBacklog' },
      severity: { fromLabel: 'severity', default: 'P3' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: [{ type: 'rolloutRestart' }],
      guards: { maxAttempts: 3, cooldown: '30m', maxPerHour: 3 },
      dryRun: false,
      ...spec,
    },
  };
}

function matching(matchers: LabelMatcher[], name = 'queue-backlog'): RemediationPolicy {
  return policy({ match: { alertName: 'QueueBacklog', labels: matchers } }, name);
}

const alert = (labels: Labels = {}) => ({ labels: { alertname: 'QueueBacklog', ...labels } });

describe('matchesPolicy', () => {
  it.each<[string, LabelMatcher, Labels, boolean]>([
    ['= on an equal value', { name: 'queue', operator: '=', value: 'orders' }, { queue: 'orders' }, true],
    ['= on another value', { name: 'queue', operator: '=', value: 'orders' }, { queue: 'payments' }, false],
    ['= is case-sensitive', { name: 'queue', operator: '=', value: 'orders' }, { queue: 'Orders' }, false],
    ['= on a missing label', { name: 'queue', operator: '=', value: 'orders' }, {}, false],
    ['= "" on a missing label', { name: 'queue', operator: '=', value: '' }, {}, true],
    ['= "" on a present label', { name: 'queue', operator: '=', value: '' }, { queue: 'orders' }, false],
    ['!= on an equal value', { name: 'queue', operator: '!=', value: 'orders' }, { queue: 'orders' }, false],
    ['!= on another value', { name: 'queue', operator: '!=', value: 'orders' }, { queue: 'payments' }, true],
    ['!= on a missing label', { name: 'queue', operator: '!=', value: 'orders' }, {}, true],
    ['!= "" on a present label', { name: 'queue', operator: '!=', value: '' }, { queue: 'orders' }, true],
    ['!= "" on a missing label', { name: 'queue', operator: '!=', value: '' }, {}, false],
    ['!= "" on an empty label', { name: 'queue', operator: '!=', value: '' }, { queue: '' }, false],
    ['=~ on the whole value', { name: 'service', operator: '=~', value: 'api' }, { service: 'api' }, true],
    [
      '=~ anchored at the end',
      { name: 'service', operator: '=~', value: 'api' },
      { service: 'api-gateway' },
      false,
    ],
    [
      '=~ anchored at the start',
      { name: 'service', operator: '=~', value: 'gateway' },
      { service: 'api-gateway' },
      false,
    ],
    [
      '=~ with a wildcard',
      { name: 'service', operator: '=~', value: 'api.*' },
      { service: 'api-gateway' },
      true,
    ],
    [
      '=~ alternation, each side',
      { name: 'service', operator: '=~', value: 'api|web' },
      { service: 'web' },
      true,
    ],
    [
      '=~ alternation anchored as a whole',
      { name: 'service', operator: '=~', value: 'api|web' },
      { service: 'webapi' },
      false,
    ],
    [
      '=~ alternation anchored at the start as a whole',
      { name: 'service', operator: '=~', value: 'api|web' },
      { service: 'api-gateway' },
      false,
    ],
    [
      '=~ alternation anchored at the end as a whole',
      { name: 'service', operator: '=~', value: 'api|web' },
      { service: 'my-web' },
      false,
    ],
    ['=~ .* on a missing label', { name: 'service', operator: '=~', value: '.*' }, {}, true],
    ['=~ .+ on a missing label', { name: 'service', operator: '=~', value: '.+' }, {}, false],
    ['=~ with a class', { name: 'code', operator: '=~', value: '5..' }, { code: '503' }, true],
    ['=~ with a class, too long', { name: 'code', operator: '=~', value: '5..' }, { code: '5030' }, false],
    ['=~ is case-sensitive', { name: 'service', operator: '=~', value: 'api' }, { service: 'API' }, false],
    [
      '=~ with a spelled-out case',
      { name: 'service', operator: '=~', value: '[Aa][Pp][Ii]' },
      { service: 'API' },
      true,
    ],
    [
      '=~ escaped metacharacters',
      { name: 'path', operator: '=~', value: '/api\\.v1/.*' },
      { path: '/api.v1/x' },
      true,
    ],
    [
      '=~ escaped metacharacters, literal',
      { name: 'path', operator: '=~', value: '/api\\.v1/.*' },
      { path: '/apixv1/x' },
      false,
    ],
    [
      '=~ a named group',
      { name: 'service', operator: '=~', value: '(?<svc>api|web)-.*' },
      { service: 'web-1' },
      true,
    ],
    [
      '=~ a class holding (?=',
      { name: 'service', operator: '=~', value: '[(?=]+' },
      { service: '(?=' },
      true,
    ],
    [
      '=~ a class holding a paren',
      { name: 'service', operator: '=~', value: '[(]api[)]' },
      { service: '(api)' },
      true,
    ],
    [
      '!~ on a matching value',
      { name: 'service', operator: '!~', value: 'api.*' },
      { service: 'api-gateway' },
      false,
    ],
    [
      '!~ on a partial match',
      { name: 'service', operator: '!~', value: 'api' },
      { service: 'api-gateway' },
      true,
    ],
    ['!~ on a missing label', { name: 'service', operator: '!~', value: 'api' }, {}, true],
    ['!~ "" on a missing label', { name: 'service', operator: '!~', value: '' }, {}, false],
    ['!~ .+ on a missing label', { name: 'service', operator: '!~', value: '.+' }, {}, true],
  ])('%s', (_, matcher, labels, expected) => {
    expect(matchesPolicy(matching([matcher]), alert(labels))).toBe(expected);
  });

  it.each<[string, Labels]>([
    ['another alertname', { alertname: 'QueueBacklogs' }],
    ['the alertname in another case', { alertname: 'queuebacklog' }],
    ['no alertname', {}],
  ])('rejects %s', (_, labels) => {
    expect(matchesPolicy(policy(), { labels })).toBe(false);
  });

  it('needs the alertname only when there are no matchers', () => {
    expect(matchesPolicy(policy(), alert())).toBe(true);
    expect(matchesPolicy(matching([]), alert())).toBe(true);
  });

  it.each<[Labels, boolean]>([
    [{ namespace: 'shop', queue: 'orders', severity: 'critical' }, true],
    [{ namespace: 'shop', queue: 'orders', severity: 'info' }, false],
    [{ namespace: 'shop', queue: 'audit', severity: 'critical' }, false],
    [{ namespace: 'dev', queue: 'orders', severity: 'critical' }, false],
    [{ queue: 'orders', severity: 'critical' }, false],
  ])('needs every matcher to hold: %j → %s', (labels, expected) => {
    const p = matching([
      { name: 'namespace', operator: '=', value: 'shop' },
      { name: 'queue', operator: '!=', value: 'audit' },
      { name: 'severity', operator: '=~', value: 'critical|error' },
    ]);
    expect(matchesPolicy(p, alert(labels))).toBe(expected);
  });
});

describe('regular expressions', () => {
  it.each<[string, string]>([
    ['(', 'missing closing ): `(`'],
    ['a)|(b', 'unexpected ): `a)|(b`'],
    ['api)|(.*', 'unexpected ): `api)|(.*`'],
    ['[a-', 'missing closing ]: `[a-`'],
    ['*', 'missing argument to repetition operator: `*`'],
    ['a{2,1}', 'invalid repeat count: `{2,1}`'],
    ['a**', 'invalid nested repetition operator: `**`'],
    ['(a)\\1', 'invalid escape sequence: `\\1`'],
    ['(?<n>a)\\k<n>', 'invalid escape sequence: `\\k`'],
    ['api(?=-gateway).*', 'invalid or unsupported Perl syntax: `(?=`'],
    ['api(?!-x).*', 'invalid or unsupported Perl syntax: `(?!`'],
    ['.*(?<=gateway)', 'invalid named capture: `(?<=gateway)`'],
    ['.*(?<!x)', 'invalid named capture: `(?<!x)`'],
    ['(.{0,50}){0,50}x', 'invalid repeat count: `{0,50}`'],
  ])('that RE2 refuses (%j) match nothing, with =~ or !~, and never throw', (pattern, reason) => {
    const labelled = alert({ service: 'api-gateway' });
    expect(invalidMatchers(matching([{ name: 'service', operator: '=~', value: pattern }]))).toEqual([
      `spec.match.labels[0].value: invalid regular expression ${JSON.stringify(pattern)}: ${reason}`,
    ]);
    expect(matchesPolicy(matching([{ name: 'service', operator: '=~', value: pattern }]), labelled)).toBe(
      false,
    );
    expect(matchesPolicy(matching([{ name: 'service', operator: '!~', value: pattern }]), labelled)).toBe(
      false,
    );
    expect(matchesPolicy(matching([{ name: 'service', operator: '!~', value: pattern }]), alert())).toBe(
      false,
    );
  });

  it.each<[string, string, boolean]>([
    // Nested repetitions are RE2 and linear there; the old V8 guard refused them.
    ['(a+)+', 'aaa', true],
    ['(a+)+', 'aab', false],
    ['(a|aa)+', 'aaaa', true],
    ['(ab)+', 'ababab', true],
    ['(a{2,3})+', 'aaaaa', true],
    ['[(a+)]+', '(a+)', true],
    ['\\(a+\\)+', '(aa)))', true],
    ['[a-z]+(-[0-9]+)?', 'orders-12', true],
    ['(orders|payments)-[0-9]+', 'payments-7', true],
    // Inline flags are RE2, as Alertmanager takes them.
    ['(?i)orders', 'ORDERS', true],
    ['(?i:ord)ers', 'ORDers', true],
    ['(?i:ord)ers', 'ordERS', false],
    ['(?P<q>orders)', 'orders', true],
  ])('that RE2 takes (%j) match as in Alertmanager', (pattern, value, expected) => {
    const p = matching([{ name: 'queue', operator: '=~', value: pattern }]);
    expect(invalidMatchers(p)).toEqual([]);
    expect(matchesPolicy(p, alert({ queue: value }))).toBe(expected);
  });

  it('are listed with their path when invalid', () => {
    const p = matching([
      { name: 'namespace', operator: '=', value: '(' },
      { name: 'service', operator: '=~', value: 'api-(' },
      { name: 'queue', operator: '=~', value: 'orders|payments' },
      { name: 'code', operator: '!~', value: '5[0-9' },
    ]);
    expect(invalidMatchers(p)).toEqual([
      'spec.match.labels[1].value: invalid regular expression "api-(": missing closing ): `api-(`',
      'spec.match.labels[3].value: invalid regular expression "5[0-9": missing closing ]: `[0-9`',
    ]);
  });

  it('are not listed when all are valid, or there are none', () => {
    expect(invalidMatchers(matching([{ name: 'queue', operator: '=~', value: 'orders|payments' }]))).toEqual(
      [],
    );
    expect(invalidMatchers(policy())).toEqual([]);
  });
});

describe('matcherHolds', () => {
  it.each<[string, LabelMatcher, Labels, boolean]>([
    [
      '= on a dotted UTF-8 label name',
      { name: 'service.name', operator: '=', value: 'checkout' },
      { 'service.name': 'checkout' },
      true,
    ],
    [
      '=~ on a route label',
      { name: 'http.route', operator: '=~', value: '/api/.*' },
      { 'http.route': '/api/v1/cart' },
      true,
    ],
    ['!= on a name outside ASCII, absent', { name: 'équipe', operator: '!=', value: 'paiements' }, {}, true],
    [
      '= on a name outside ASCII',
      { name: 'équipe', operator: '=', value: 'paiements' },
      { équipe: 'paiements' },
      true,
    ],
    [
      '= does not read another label',
      { name: 'service.name', operator: '=', value: 'checkout' },
      { service_name: 'checkout' },
      false,
    ],
    [
      '=~ on an invalid pattern holds for nothing',
      { name: 'q', operator: '=~', value: '(a)\\1' },
      { q: 'aa' },
      false,
    ],
    [
      '!~ on an invalid pattern holds for nothing',
      { name: 'q', operator: '!~', value: '(a)\\1' },
      { q: 'b' },
      false,
    ],
  ])('%s', (_, matcher, labels, expected) => {
    expect(matcherHolds(matcher, labels)).toBe(expected);
  });
});

describe('winsOver', () => {
  const one = (name: string, namespace = 'shop') =>
    policy(
      { match: { alertName: 'QueueBacklog', labels: [{ name: 'a', operator: '=', value: '1' }] } },
      name,
      namespace,
    );
  const two = (name: string) =>
    policy(
      {
        match: {
          alertName: 'QueueBacklog',
          labels: [
            { name: 'a', operator: '=', value: '1' },
            { name: 'b', operator: '=', value: '2' },
          ],
        },
      },
      name,
    );

  it.each<[string, RemediationPolicy, RemediationPolicy, boolean]>([
    ['more matchers over fewer', two('z'), one('a'), true],
    ['fewer matchers over more', one('a'), two('z'), false],
    ['any matchers over none', one('z'), policy({}, 'a'), true],
    ['equally specific: the first by name', one('a'), one('b'), true],
    ['equally specific: not the later name', one('b'), one('a'), false],
    ['same name: the first namespace', one('p', 'billing'), one('p', 'shop'), true],
    ['same name, later namespace', one('p', 'shop'), one('p', 'billing'), false],
    ['itself', one('p'), one('p'), false],
  ])('%s: %s', (_, a, b, expected) => {
    expect(winsOver(a, b)).toBe(expected);
  });

  it('is a strict order: of two different policies exactly one wins', () => {
    const all = [one('a'), one('b'), two('c'), policy({}, 'd'), one('a', 'billing')];
    for (const a of all) for (const b of all) if (a !== b) expect(winsOver(a, b)).toBe(!winsOver(b, a));
  });
});

describe('severityFor', () => {
  type Severities = RemediationPolicySpec['severity'];

  it.each<[string, Severities, Labels, Severity]>([
    [
      'critical by the default mapping',
      { fromLabel: 'severity', default: 'P3' },
      { severity: 'critical' },
      'P1',
    ],
    ['error by the default mapping', { fromLabel: 'severity', default: 'P3' }, { severity: 'error' }, 'P2'],
    [
      'warning by the default mapping',
      { fromLabel: 'severity', default: 'P1' },
      { severity: 'warning' },
      'P3',
    ],
    ['info by the default mapping', { fromLabel: 'severity', default: 'P3' }, { severity: 'info' }, 'P4'],
    [
      'a label value in another case',
      { fromLabel: 'severity', default: 'P3' },
      { severity: 'CRITICAL' },
      'P1',
    ],
    ['an unknown label value', { fromLabel: 'severity', default: 'P2' }, { severity: 'page' }, 'P2'],
    ['a missing label', { fromLabel: 'severity', default: 'P4' }, {}, 'P4'],
    ['an empty label', { fromLabel: 'severity', default: 'P4' }, { severity: '' }, 'P4'],
    [
      'another label',
      { fromLabel: 'priority', default: 'P3' },
      { priority: 'critical', severity: 'info' },
      'P1',
    ],
    ['another label, missing', { fromLabel: 'priority', default: 'P2' }, { severity: 'critical' }, 'P2'],
    ['a fixed value', { value: 'P2', fromLabel: 'severity', default: 'P4' }, { severity: 'critical' }, 'P2'],
    [
      'a mapping',
      { fromLabel: 'severity', mapping: { page: 'P1', ticket: 'P4' }, default: 'P3' },
      { severity: 'ticket' },
      'P4',
    ],
    [
      'a mapping with keys in another case',
      { fromLabel: 'severity', mapping: { Page: 'P1' }, default: 'P3' },
      { severity: 'PAGE' },
      'P1',
    ],
    [
      'a mapping that replaces the default one',
      { fromLabel: 'severity', mapping: { page: 'P1' }, default: 'P4' },
      { severity: 'critical' },
      'P4',
    ],
    [
      'a mapping to something not a severity',
      { fromLabel: 'severity', mapping: { page: 'P9' }, default: 'P2' },
      { severity: 'page' },
      'P2',
    ],
  ])('follows %s', (_, severity, labels, expected) => {
    expect(severityFor(policy({ severity }), alert(labels))).toBe(expected);
  });

  it('defaults fromLabel and default when the API server has not filled them in', () => {
    const bare = policy({ severity: {} as Severities });
    expect(severityFor(bare, alert({ severity: 'error' }))).toBe('P2');
    expect(severityFor(bare, alert())).toBe('P3');
  });
});

describe('targetFor', () => {
  const byLabel = (label = 'deployment', kind: 'Deployment' | 'StatefulSet' = 'Deployment') =>
    policy({ target: { kind, nameFromLabel: label } });

  it.each<[string, RemediationPolicy, Labels, { kind: string; name: string }]>([
    [
      'a fixed name',
      policy({ target: { kind: 'Deployment', name: 'checkout' } }),
      { deployment: 'other' },
      { kind: 'Deployment', name: 'checkout' },
    ],
    [
      'the named label',
      byLabel(),
      { deployment: 'orders-worker' },
      { kind: 'Deployment', name: 'orders-worker' },
    ],
    [
      'another label and kind',
      byLabel('statefulset', 'StatefulSet'),
      { statefulset: 'rabbitmq' },
      { kind: 'StatefulSet', name: 'rabbitmq' },
    ],
    ['a dotted name', byLabel(), { deployment: 'api.v2' }, { kind: 'Deployment', name: 'api.v2' }],
    [
      'a name of 253 characters',
      byLabel(),
      { deployment: 'a'.repeat(253) },
      { kind: 'Deployment', name: 'a'.repeat(253) },
    ],
  ])('takes %s', (_, p, labels, expected) => {
    expect(targetFor(p, alert(labels))).toEqual(expected);
  });

  it.each<[string, Labels, string]>([
    [
      'missing',
      { pod: 'orders-worker-1' },
      'label "deployment" (spec.target.nameFromLabel) is missing from the alert',
    ],
    ['empty', { deployment: '' }, 'label "deployment" (spec.target.nameFromLabel) is empty'],
    [
      'uppercase',
      { deployment: 'Orders' },
      'label "deployment" (spec.target.nameFromLabel) is "Orders", not a valid Deployment name',
    ],
    [
      'with an underscore',
      { deployment: 'orders_worker' },
      'is "orders_worker", not a valid Deployment name',
    ],
    ['ending with a dash', { deployment: 'orders-' }, 'is "orders-", not a valid Deployment name'],
    ['starting with a dot', { deployment: '.orders' }, 'is ".orders", not a valid Deployment name'],
    ['with a slash', { deployment: 'shop/orders' }, 'is "shop/orders", not a valid Deployment name'],
    ['with spaces', { deployment: ' orders' }, 'is " orders", not a valid Deployment name'],
    [
      'of 254 characters',
      { deployment: 'a'.repeat(254) },
      'is 254 characters, more than the 253 of a Deployment name',
    ],
  ])('refuses a label value that is %s', (_, labels, message) => {
    expect(targetFor(byLabel(), alert(labels))).toEqual({ error: expect.stringContaining(message) });
  });

  it('says why an invalid name is invalid', () => {
    expect(targetFor(byLabel(), alert({ deployment: 'Orders' }))).toEqual({
      error: expect.stringContaining('a DNS-1123 subdomain is lowercase letters, digits'),
    });
  });

  it('refuses a target with neither name nor label', () => {
    expect(targetFor(policy({ target: { kind: 'Deployment' } }), alert())).toEqual({
      error: expect.stringContaining('neither name nor nameFromLabel'),
    });
  });
});

describe('selectPolicy', () => {
  const general = matching([], 'a-general');
  const shop = matching([{ name: 'namespace', operator: '=', value: 'shop' }], 'z-shop');
  const shopOrders = matching(
    [
      { name: 'namespace', operator: '=', value: 'shop' },
      { name: 'queue', operator: '=~', value: 'orders.*' },
    ],
    'm-shop-orders',
  );
  const shopOrdersTwin = matching(
    [
      { name: 'namespace', operator: '=', value: 'shop' },
      { name: 'queue', operator: '!=', value: 'audit' },
    ],
    'b-shop-orders',
  );
  const other = policy({ match: { alertName: 'DiskFull' } }, '0-disk');

  /** Every order of the list, so the choice is shown not to depend on it. */
  function permutations<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items];
    return items.flatMap((item, i) =>
      permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
    );
  }

  it.each<[string, RemediationPolicy[], Labels, RemediationPolicy | undefined]>([
    ['nothing from nothing', [], { namespace: 'shop' }, undefined],
    ['nothing when none matches', [other], { namespace: 'shop' }, undefined],
    ['the only match', [other, general], { namespace: 'dev' }, general],
    ['the more specific match', [general, shop], { namespace: 'shop' }, shop],
    [
      'the most specific match',
      [general, shop, shopOrders, other],
      { namespace: 'shop', queue: 'orders-eu' },
      shopOrders,
    ],
    [
      'a less specific match when the more specific does not match',
      [general, shop, shopOrders],
      { namespace: 'shop', queue: 'audit' },
      shop,
    ],
    [
      'the first name among equally specific',
      [shopOrders, shopOrdersTwin, shop],
      { namespace: 'shop', queue: 'orders' },
      shopOrdersTwin,
    ],
  ])('picks %s', (_, policies, labels, expected) => {
    for (const order of permutations(policies)) expect(selectPolicy(order, alert(labels))).toBe(expected);
  });

  it('breaks a tie of equal names by namespace', () => {
    const inShop = policy({}, 'same', 'shop');
    const inBilling = policy({}, 'same', 'billing');
    expect(selectPolicy([inShop, inBilling], alert())).toBe(inBilling);
    expect(selectPolicy([inBilling, inShop], alert())).toBe(inBilling);
  });

  it('compares names without regard to locale', () => {
    const upper = policy({}, 'B');
    const lower = policy({}, 'a');
    expect(selectPolicy([lower, upper], alert())).toBe(upper);
  });

  it('skips a policy whose regex is invalid', () => {
    const broken = matching([{ name: 'namespace', operator: '=~', value: 'sh(op' }], 'a-broken');
    expect(selectPolicy([broken, general], alert({ namespace: 'shop' }))).toBe(general);
  });
});
