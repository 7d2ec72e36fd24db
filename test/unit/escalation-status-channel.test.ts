import { describe, expect, it } from '@jest/globals';
import type { Incident, IncidentSpec } from '../../src/api/incident.ts';
import type { Escalation, Receiver } from '../../src/api/remediation.ts';
import { slackMessage } from '../../src/escalation/receivers/slack.ts';
import type { Observations } from '../../src/incidents/decide/index.ts';
import { escalatedIncident, notice } from './escalation-fixtures.ts';
import { MINUTE, at, incident, iso, observations, run, settings, withSpec, withStatus } from './fixtures.ts';

// A receiver of purpose status is a #service-status channel: it hears the incident's public
// updates, in the words written for the status page, and nothing else. It is never paged.

const pager: Receiver = { name: 'oncall', type: 'pagerduty', secretRef: { name: 'pd', key: 'routing-key' } };
const statusChannel: Receiver = {
  name: 'service-status',
  type: 'slack',
  purpose: 'status',
  secretRef: { name: 'slack', key: 'status-webhook-url' },
};
const incidentChannel: Receiver = {
  name: 'checkout-war-room',
  type: 'slack',
  secretRef: { name: 'slack', key: 'url' },
};
const LEVELS: Escalation = { levels: [{ after: '0s', receivers: [pager, incidentChannel, statusChannel] }] };
const S = settings({ statusPageUpdate: { severities: [], withinMs: 15 * MINUTE } });

const manual = (spec: Partial<IncidentSpec> = {}): Incident =>
  incident({ spec: { actions: undefined, escalation: LEVELS, ...spec } });

function pass(inc: Incident, minutes: number, extra: Partial<Observations> = {}): Incident {
  return withStatus(inc, run(inc, observations(at(minutes * MINUTE), extra), S).status);
}

/** Every Pending entry delivered at `minutes`. */
function delivered(inc: Incident, minutes: number): Incident {
  const now = at(minutes * MINUTE);
  const deliveries = new Map(
    (inc.status?.notifications ?? [])
      .filter((e) => e.state === 'Pending')
      .map((e) => [e.id, { outcome: 'delivered' as const, message: 'ok', at: now }]),
  );
  return pass(inc, minutes, { deliveries });
}

const ids = (inc: Incident): string[] => (inc.status?.notifications ?? []).map((e) => e.id);

const investigating = {
  title: 'Checkout is slow',
  updates: [{ time: iso(2 * MINUTE), status: 'investigating' as const, message: 'Some payments are slow.' }],
};

describe('a status channel', () => {
  it('is not paged when its level is notified, nor told of acknowledgement or resolution', () => {
    let inc = delivered(pass(manual(), 1), 1);
    expect(ids(inc)).toEqual(['L1:oncall', 'L1:checkout-war-room']);
    inc = delivered(pass(withSpec(inc, { acknowledgedBy: 'alice' }), 3), 3);
    expect(ids(inc)).toEqual(['L1:oncall', 'L1:checkout-war-room', 'ack:oncall', 'ack:checkout-war-room']);
  });

  it("hears each public update once, and only the people's public words", () => {
    let inc = delivered(pass(manual(), 1), 1);
    inc = pass(withSpec(inc, { public: investigating }), 2);
    expect(ids(inc)).toEqual(['L1:oncall', 'L1:checkout-war-room', 'pub0:service-status']);
    inc = delivered(inc, 2);
    inc = pass(inc, 3);
    expect(ids(inc)).toEqual(['L1:oncall', 'L1:checkout-war-room', 'pub0:service-status']);
    const next = {
      ...investigating,
      updates: [
        ...investigating.updates,
        { time: iso(4 * MINUTE), status: 'monitoring' as const, message: 'A fix is out; we are watching.' },
      ],
    };
    inc = pass(withSpec(inc, { public: next }), 4);
    expect(ids(inc)).toEqual([
      'L1:oncall',
      'L1:checkout-war-room',
      'pub0:service-status',
      'pub1:service-status',
    ]);
    // A person's internal update goes to those paged, never to the status channel.
    inc = pass(
      withSpec(inc, { updates: [{ time: iso(5 * MINUTE), author: 'alice', message: 'db failover' }] }),
      5,
    );
    expect(ids(inc).filter((id) => id.startsWith('u0:'))).toEqual(['u0:checkout-war-room']);
  });

  it('renders in Slack with the public title, status and message and no internal detail', () => {
    const inc = escalatedIncident();
    const message = slackMessage(
      notice('update', inc, {
        public: { title: 'Checkout is slow', status: 'monitoring', message: 'A fix is out.', time: iso(0) },
      }),
    );
    const text = JSON.stringify(message);
    expect(message.text).toBe('Checkout is slow: Monitoring. A fix is out.');
    expect(text).not.toContain(inc.metadata.name);
    expect(text).not.toContain(inc.spec.title);
    expect(text).not.toContain(inc.spec.target?.name ?? 'no target');
  });
});
