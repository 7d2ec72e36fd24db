import { describe, expect, it } from '@jest/globals';
import { MAX_CONTEXT_FACT_LENGTH, MAX_CONTEXT_FACTS } from '../../src/api/incident.ts';
import { parseLinkTemplates, renderLinks } from '../../src/escalation/links.ts';
import { summarize } from '../../src/escalation/summary.ts';
import { escalatedIncident, escalatedStatus, GENERATOR_URL, LINKS } from './escalation-fixtures.ts';
import { incident, iso, MINUTE, UID } from './fixtures.ts';

describe('summarize', () => {
  it('gives people everything about an escalated incident', () => {
    const summary = summarize(
      escalatedIncident({ spec: { roles: { incidentCommander: 'alice' }, description: 'checkout is down' } }),
      { linkTemplates: LINKS },
    );
    expect(summary).toEqual({
      name: 'checkout-errors',
      namespace: 'shop',
      uid: UID,
      severity: 'P1',
      title: 'checkout returns 500s',
      description: 'checkout is down',
      phase: 'Escalated',
      target: { kind: 'Deployment', name: 'checkout', namespace: 'shop' },
      source: {
        type: 'alertmanager',
        alertName: 'CheckoutErrors',
        generatorURL: GENERATOR_URL,
        startsAt: iso(-MINUTE),
      },
      openedAt: iso(0),
      roles: { incidentCommander: 'alice' },
      escalation: { level: 1, reason: 'all 2 action(s) were tried without a verified fix' },
      attempts: [
        {
          id: 'attempt-1',
          action: 'rolloutRestart',
          result: 'Failed',
          startedAt: iso(MINUTE),
          finishedAt: iso(6 * MINUTE),
          message: 'rollout did not complete within 300s',
        },
        {
          id: 'attempt-2',
          action: 'scale',
          result: 'Succeeded',
          startedAt: iso(6 * MINUTE),
          finishedAt: iso(9 * MINUTE),
          message: 'scaled to 4',
        },
      ],
      deadline: { kind: 'response', dueAt: iso(15 * MINUTE), missed: false },
      ackCommand: 'kubectl incident ack checkout-errors -n shop',
      links: [
        { text: 'Alert CheckoutErrors', href: GENERATOR_URL },
        {
          text: 'Grafana',
          href: 'https://grafana.example.com/d/k8s?var-namespace=shop&var-workload=checkout',
        },
        { text: 'Jaeger', href: 'https://jaeger.example.com/search?service=checkout.shop' },
      ],
      context: ['deployed revision 7 at 08:48Z, 12 min before the alert', '1/3 replicas ready'],
    });
  });

  it.each([
    [
      'unacknowledged: the response deadline',
      {},
      [],
      { kind: 'response', dueAt: iso(15 * MINUTE), missed: false },
    ],
    [
      'unacknowledged past the response target: missed',
      {},
      [{ type: 'ResponseSLABreached', reason: 'NotAcknowledgedInTime' }],
      { kind: 'response', dueAt: iso(15 * MINUTE), missed: true },
    ],
    [
      'acknowledged: the resolution deadline',
      { acknowledgedBy: 'bob' },
      [],
      { kind: 'resolution', dueAt: iso(240 * MINUTE), missed: false },
    ],
    [
      'acknowledged past the resolution target: missed',
      { acknowledgedBy: 'bob' },
      [{ type: 'ResolutionSLABreached', reason: 'NotResolvedInTime' }],
      { kind: 'resolution', dueAt: iso(240 * MINUTE), missed: true },
    ],
    ['resolved: no deadline', { resolution: { resolvedBy: 'bob' } }, [], undefined],
  ] as const)('next deadline, %s', (_what, spec, extraConditions, expected) => {
    const status = escalatedStatus();
    status.conditions = [
      ...(status.conditions ?? []),
      ...extraConditions.map((c) => ({
        ...c,
        status: 'True' as const,
        message: '',
        lastTransitionTime: iso(0),
      })),
    ];
    expect(summarize(escalatedIncident({ spec, status })).deadline).toEqual(expected);
  });

  it('takes the context given over the status, bounded in count and length', () => {
    const facts = Array.from({ length: MAX_CONTEXT_FACTS + 3 }, (_, i) => `${i}: ${'x'.repeat(400)}`);
    const summary = summarize(escalatedIncident(), { context: ['', ...facts] });
    expect(summary.context).toHaveLength(MAX_CONTEXT_FACTS);
    expect(summary.context[0]?.startsWith('0: xx')).toBe(true);
    expect(summary.context.every((c) => c.length === MAX_CONTEXT_FACT_LENGTH && c.endsWith('…'))).toBe(true);
  });

  it('summarizes a brand-new manual incident with no status and no target', () => {
    const summary = summarize(incident({ spec: { target: undefined } }), { linkTemplates: LINKS });
    expect(summary).toMatchObject({
      phase: 'Open',
      attempts: [],
      context: [],
      links: [],
      escalation: { level: 0 },
    });
    expect(summary).not.toHaveProperty('target');
    expect(summary).not.toHaveProperty('deadline');
  });

  it("carries a resolution and a person's latest update", () => {
    const summary = summarize(
      escalatedIncident({
        spec: {
          resolution: { resolvedBy: 'carol', note: 'rolled back to revision 6' },
          updates: [
            { time: iso(20 * MINUTE), author: 'bob', message: 'investigating' },
            { time: iso(30 * MINUTE), author: 'carol', message: 'rolling back' },
          ],
        },
        status: escalatedStatus({ phase: 'Resolved', resolvedAt: iso(35 * MINUTE) }),
      }),
    );
    expect(summary.resolution).toEqual({
      resolvedBy: 'carol',
      note: 'rolled back to revision 6',
      resolvedAt: iso(35 * MINUTE),
    });
    expect(summary.latestUpdate).toEqual({
      time: iso(30 * MINUTE),
      author: 'carol',
      message: 'rolling back',
    });
  });

  it('never links to an alert source that is not http(s)', () => {
    const summary = summarize(
      escalatedIncident({
        spec: { source: { type: 'alertmanager', alertName: 'A', generatorURL: 'javascript:alert(1)' } },
      }),
    );
    expect(summary.links).toEqual([]);
  });
});

describe('link templates', () => {
  it('fills every placeholder, URL-encoded', () => {
    const [grafana] = parseLinkTemplates(
      'Grafana=https://g.example.com/d/x?ns={namespace}&kind={kind}&w={target}&a={alertname}&i={incident}&s={severity}',
    );
    expect(
      renderLinks(grafana ? [grafana] : [], {
        namespace: 'shop',
        kind: 'Deployment',
        target: 'check out',
        alertname: 'A&B',
        incident: 'inc-1',
        severity: 'P1',
      }),
    ).toEqual([
      {
        text: 'Grafana',
        href: 'https://g.example.com/d/x?ns=shop&kind=Deployment&w=check%20out&a=A%26B&i=inc-1&s=P1',
      },
    ]);
  });

  it('leaves out a link whose values the incident does not have', () => {
    const templates = parseLinkTemplates(
      'Alerts=https://am.example.com/#/alerts?filter={alertname} Logs=https://logs.example.com/?ns={namespace}',
    );
    expect(renderLinks(templates, { namespace: 'shop' })).toEqual([
      { text: 'Logs', href: 'https://logs.example.com/?ns=shop' },
    ]);
  });

  it.each([
    ['Grafana', /is not Text=URL/],
    ['=https://g.example.com', /is not Text=URL/],
    ['Gra fana=https://g.example.com', /is not Text=URL/],
    ['Grafana=g.example.com/d', /Grafana: "g.example.com\/d" is not an http\(s\) URL with a host/],
    ['Grafana=https://{namespace}.example.com', /is not an http\(s\) URL with a host/],
    ['Grafana=https://g.example.com/{pod}', /Grafana: unknown placeholder \{pod\}/],
    ['A=https://a.example.com B=https://b.example.com A=https://c.example.com', /A: given twice/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseLinkTemplates(spec)).toThrow(message);
  });
});
