// Incidents as the escalation module sees them: escalated after automation failed, with an alert
// source, SLA deadlines and attempts on the status.
import type { Incident, IncidentStatus } from '../../src/api/incident.ts';
import type { Notice } from '../../src/escalation/delivery.ts';
import { summarize, type SummaryOptions } from '../../src/escalation/summary.ts';
import { incident, iso, MINUTE, NAMESPACE, UID, type IncidentOverrides } from './fixtures.ts';

export const GENERATOR_URL = 'http://prometheus.example.com:9090/graph?g0.expr=rate%28errors%5B5m%5D%29';
export const ROUTING_KEY = 'test-routing-key-not-a-secret-01';

/** The status of a P1 that automation could not fix: two failed restarts, then Escalated at level 1. */
export function escalatedStatus(overrides: Partial<IncidentStatus> = {}): IncidentStatus {
  return {
    phase: 'Escalated',
    openedAt: iso(0),
    sla: { responseDueAt: iso(15 * MINUTE), resolutionDueAt: iso(240 * MINUTE) },
    escalation: {
      level: 1,
      reason: 'all 2 action(s) were tried without a verified fix',
      startedAt: iso(9 * MINUTE),
    },
    attempts: [
      {
        id: 'attempt-1',
        action: 'rolloutRestart',
        actionIndex: 0,
        startedAt: iso(1 * MINUTE),
        finishedAt: iso(6 * MINUTE),
        result: 'Failed',
        message: 'rollout did not complete within 300s',
      },
      {
        id: 'attempt-2',
        action: 'scale',
        actionIndex: 1,
        startedAt: iso(6 * MINUTE),
        finishedAt: iso(9 * MINUTE),
        result: 'Succeeded',
        message: 'scaled to 4',
      },
    ],
    conditions: [
      {
        type: 'Escalated',
        status: 'True',
        reason: 'ActionsExhausted',
        message: 'all 2 action(s) were tried without a verified fix',
        lastTransitionTime: iso(9 * MINUTE),
      },
    ],
    context: ['deployed revision 7 at 08:48Z, 12 min before the alert', '1/3 replicas ready'],
    ...overrides,
  };
}

/** The escalated P1, raised from an alert, on Deployment shop/checkout. */
export function escalatedIncident(overrides: IncidentOverrides = {}): Incident {
  return incident({
    ...overrides,
    spec: {
      source: {
        type: 'alertmanager',
        alertName: 'CheckoutErrors',
        fingerprint: 'c1a2b3d4e5f60718',
        startsAt: iso(-1 * MINUTE),
        generatorURL: GENERATOR_URL,
      },
      ...overrides.spec,
    },
    status: overrides.status ?? escalatedStatus(),
  });
}

export const LINKS: SummaryOptions['linkTemplates'] = [
  {
    text: 'Grafana',
    url: 'https://grafana.example.com/d/k8s?var-namespace={namespace}&var-workload={target}',
  },
  { text: 'Jaeger', url: 'https://jaeger.example.com/search?service={target}.{namespace}' },
];

export function notice(
  event: Notice['event'],
  inc: Incident = escalatedIncident(),
  extra: Partial<Notice> = {},
): Notice {
  return { event, summary: summarize(inc, { linkTemplates: LINKS }), level: 1, ...extra };
}

export { NAMESPACE, UID };
