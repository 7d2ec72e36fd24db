// The status page's model, rule by rule: which incidents it shows, which components they affect,
// the worst-of rules for components and the overall status, when an incident is over, the 90-day
// history and every ordering, from plain objects and one fixed time.
import { describe, expect, it } from '@jest/globals';
import type { Severity } from '../../src/api/group.ts';
import type { Incident, IncidentSpec, IncidentStatus } from '../../src/api/incident.ts';
import type { Impact, IncidentPublic, PublicUpdate } from '../../src/api/public.ts';
import type { StatusComponent, StatusComponentSpec } from '../../src/api/statuscomponent.ts';
import {
  affectedComponents,
  buildStatusPage,
  opaqueId,
  worst,
  type StatusPageModel,
} from '../../src/statuspage/model.ts';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const NS = 'shop';

function component(name: string, spec: Partial<StatusComponentSpec> = {}, namespace = NS): StatusComponent {
  return {
    metadata: { name, namespace, creationTimestamp: ago(200 * DAY) },
    spec: { displayName: `The ${name}`, order: 100, ...spec },
  };
}

const update = (offsetAgo: number, status: PublicUpdate['status'] = 'investigating', message = 'msg') => ({
  time: ago(offsetAgo),
  status,
  message,
});

interface IncidentOptions {
  namespace?: string;
  severity?: Severity;
  public?: Partial<IncidentPublic> | null;
  spec?: Partial<IncidentSpec>;
  status?: IncidentStatus;
  openedAgo?: number;
}

function incident(name: string, o: IncidentOptions = {}): Incident {
  const opened = ago(o.openedAgo ?? HOUR);
  return {
    metadata: { name, namespace: o.namespace ?? NS, creationTimestamp: opened },
    spec: {
      severity: o.severity ?? 'P2',
      title: `internal title of ${name}`,
      source: { type: 'manual' },
      dryRun: false,
      ...(o.public === null
        ? {}
        : { public: { updates: [update((o.openedAgo ?? HOUR) - MINUTE)], ...o.public } }),
      ...o.spec,
    },
    status: { phase: 'Escalated', openedAt: opened, ...o.status },
  };
}

const build = (components: StatusComponent[], incidents: Incident[], historyDays?: number): StatusPageModel =>
  buildStatusPage({ components, incidents, now: NOW, ...(historyDays ? { historyDays } : {}) });

const statusOf = (model: StatusPageModel, name: string, namespace = NS) =>
  model.components.find((c) => c.id === opaqueId('StatusComponent', namespace, name))?.status;

describe('worst', () => {
  it.each<[Impact[], Impact]>([
    [[], 'operational'],
    [['operational'], 'operational'],
    [['degraded_performance', 'operational'], 'degraded_performance'],
    [['partial_outage', 'degraded_performance'], 'partial_outage'],
    [['degraded_performance', 'major_outage', 'partial_outage'], 'major_outage'],
  ])('of %j is %s', (impacts, expected) => {
    expect(worst(impacts)).toBe(expected);
  });
});

describe('which incidents the page shows', () => {
  it('only those with a public side: an incident nobody published stays off the page', () => {
    const model = build(
      [component('api', { workloads: [{ kind: 'Deployment', name: 'api' }] })],
      [incident('private', { public: null, spec: { target: { kind: 'Deployment', name: 'api' } } })],
    );
    expect(model.current).toEqual([]);
    expect(model.overall).toBe('operational');
    expect(statusOf(model, 'api')).toBe('operational');
  });
});

describe('affected components', () => {
  const covering = [
    component('api', { workloads: [{ kind: 'Deployment', name: 'api-server' }] }),
    component('db', { workloads: [{ kind: 'StatefulSet', name: 'postgres' }] }),
    component('search', { alertNames: ['SearchSlow'] }),
    component('elsewhere', { workloads: [{ kind: 'Deployment', name: 'api-server' }] }, 'other'),
  ];
  const names = (i: Incident) => affectedComponents(i, covering).map((c) => c.metadata.name);

  it.each<[string, IncidentOptions, string[]]>([
    [
      'named ones, the covering rules aside',
      {
        public: { components: ['db', 'search'] },
        spec: { target: { kind: 'Deployment', name: 'api-server' } },
      },
      ['db', 'search'],
    ],
    ['named ones that do not exist are left out', { public: { components: ['api', 'nope'] } }, ['api']],
    [
      'none named: those covering the target workload',
      { spec: { target: { kind: 'Deployment', name: 'api-server' } } },
      ['api'],
    ],
    ['the workload kind matters', { spec: { target: { kind: 'StatefulSet', name: 'api-server' } } }, []],
    [
      'none named: those covering the alert',
      { spec: { source: { type: 'alertmanager', alertName: 'SearchSlow' } } },
      ['search'],
    ],
    [
      'workload and alert together',
      {
        spec: {
          target: { kind: 'StatefulSet', name: 'postgres' },
          source: { type: 'alertmanager', alertName: 'SearchSlow' },
        },
      },
      ['db', 'search'],
    ],
    [
      'an empty list names none',
      { public: { components: [] }, spec: { target: { kind: 'Deployment', name: 'api-server' } } },
      ['api'],
    ],
    ['nothing named, nothing covered', {}, []],
  ])('%s', (_what, options, expected) => {
    expect(names(incident('i', options))).toEqual(expected);
  });

  it('never a component of another namespace, named or covering', () => {
    expect(names(incident('i', { namespace: 'other', public: { components: ['api'] } }))).toEqual([]);
    expect(
      names(
        incident('i', { namespace: 'other', spec: { target: { kind: 'Deployment', name: 'api-server' } } }),
      ),
    ).toEqual(['elsewhere']);
  });
});

describe('worst-of rules', () => {
  const components = [component('api'), component('web'), component('docs')];

  it('a component has the worst impact of the current incidents affecting it; the page the worst of all', () => {
    const model = build(components, [
      incident('a', { public: { components: ['api'], impact: 'degraded_performance' } }),
      incident('b', { public: { components: ['api', 'web'], impact: 'partial_outage' } }),
      incident('c', { public: { components: ['web'], impact: 'degraded_performance' } }),
    ]);
    expect(statusOf(model, 'api')).toBe('partial_outage');
    expect(statusOf(model, 'web')).toBe('partial_outage');
    expect(statusOf(model, 'docs')).toBe('operational');
    expect(model.overall).toBe('partial_outage');
  });

  it('an incident that affects no component still counts for the overall status', () => {
    const model = build(components, [incident('a', { public: { impact: 'major_outage' } })]);
    expect(model.components.map((c) => c.status)).toEqual(['operational', 'operational', 'operational']);
    expect(model.overall).toBe('major_outage');
  });

  it('incidents that are over no longer count', () => {
    const model = build(components, [
      incident('a', {
        public: { components: ['api'], impact: 'major_outage' },
        status: { phase: 'Resolved', resolvedAt: ago(MINUTE) },
      }),
    ]);
    expect(statusOf(model, 'api')).toBe('operational');
    expect(model.overall).toBe('operational');
  });

  it.each<[Severity, Impact]>([
    ['P1', 'major_outage'],
    ['P2', 'partial_outage'],
    ['P3', 'degraded_performance'],
    ['P4', 'operational'],
  ])('without its own impact, a %s incident counts as %s', (severity, impact) => {
    const model = build(components, [incident('a', { severity, public: { components: ['api'] } })]);
    expect(model.current[0]?.impact).toBe(impact);
    expect(statusOf(model, 'api')).toBe(impact);
  });

  it('its own impact wins over the severity', () => {
    const model = build(components, [
      incident('a', { severity: 'P1', public: { components: ['api'], impact: 'degraded_performance' } }),
    ]);
    expect(statusOf(model, 'api')).toBe('degraded_performance');
  });
});

describe('when an incident is over', () => {
  const resolvedUpdate = (offsetAgo: number) => update(offsetAgo, 'resolved', 'fixed');

  it.each<[string, IncidentOptions, string | undefined]>([
    [
      'open, last update monitoring: current',
      { public: { updates: [update(30 * MINUTE), update(10 * MINUTE, 'monitoring')] } },
      undefined,
    ],
    [
      'last public update says resolved: over then',
      { public: { updates: [update(30 * MINUTE), resolvedUpdate(10 * MINUTE)] } },
      ago(10 * MINUTE),
    ],
    [
      'selfheal resolved it: over at status.resolvedAt',
      { status: { phase: 'Resolved', resolvedAt: ago(5 * MINUTE) } },
      ago(5 * MINUTE),
    ],
    [
      'Closed counts as resolved too',
      { status: { phase: 'Closed', resolvedAt: ago(2 * HOUR) }, openedAgo: 3 * HOUR },
      ago(2 * HOUR),
    ],
    [
      'both: whichever came first',
      {
        public: { updates: [update(30 * MINUTE), resolvedUpdate(10 * MINUTE)] },
        status: { phase: 'Resolved', resolvedAt: ago(20 * MINUTE) },
      },
      ago(20 * MINUTE),
    ],
    [
      'reopened after a resolved update? only a newer update says so',
      { public: { updates: [resolvedUpdate(30 * MINUTE), update(10 * MINUTE, 'identified')] } },
      undefined,
    ],
  ])('%s', (_what, options, resolvedAt) => {
    const model = build([], [incident('a', options)]);
    const [shown] = [...model.current, ...model.history];
    expect(shown?.resolvedAt).toBe(resolvedAt);
    expect(shown?.current).toBe(resolvedAt === undefined);
    expect(shown?.status).toBe(resolvedAt === undefined ? shown?.updates[0]?.status : 'resolved');
  });

  it('a current incident carries the next update time from status.sla.nextUpdateDueAt; a past one none', () => {
    const due = ago(-20 * MINUTE);
    const model = build(
      [],
      [
        incident('open', { status: { phase: 'Escalated', sla: { nextUpdateDueAt: due } } }),
        incident('over', {
          status: { phase: 'Resolved', resolvedAt: ago(MINUTE), sla: { nextUpdateDueAt: due } },
        }),
      ],
    );
    expect(model.current.map((i) => i.nextUpdateAt)).toEqual([due]);
    expect(model.history.map((i) => i.nextUpdateAt)).toEqual([undefined]);
  });

  it("begins at the alert's start when it came from one, else when it was opened", () => {
    const model = build(
      [],
      [
        incident('alert', {
          spec: { source: { type: 'alertmanager', alertName: 'X', startsAt: ago(3 * HOUR) } },
        }),
        incident('manual', { openedAgo: 2 * HOUR }),
      ],
    );
    expect(model.current.map((i) => i.startedAt)).toEqual([ago(2 * HOUR), ago(3 * HOUR)]);
  });
});

describe('history', () => {
  const over = (name: string, endedAgo: number, length = HOUR, components = ['api']) =>
    incident(name, {
      openedAgo: endedAgo + length,
      public: {
        components,
        impact: 'partial_outage',
        updates: [update(endedAgo + length - MINUTE), update(endedAgo, 'resolved')],
      },
    });

  it('holds the incidents over within the last 90 days, newest first; older ones fall off', () => {
    const model = build(
      [component('api')],
      [over('old', 91 * DAY), over('edge', 89 * DAY), over('recent', DAY), over('today', HOUR)],
    );
    const id = (name: string) => opaqueId('Incident', NS, name);
    expect(model.history.map((i) => i.id)).toEqual([id('today'), id('recent'), id('edge')]);
    expect(model.current).toEqual([]);
  });

  it('gives every component one day per day of the window, oldest first, today last, with the worst impact of that day', () => {
    const model = build(
      [component('api'), component('web')],
      [
        over('two-days', 3 * DAY, 2 * DAY),
        incident('current', {
          openedAgo: DAY + HOUR,
          public: { components: ['api'], impact: 'degraded_performance' },
        }),
      ],
    );
    const api = model.components[0];
    expect(api?.days).toHaveLength(90);
    expect(api?.days.at(-1)).toEqual({ date: '2026-06-15', impact: 'degraded_performance' });
    expect(api?.days[0]?.date).toBe('2026-03-18');
    const byDate = Object.fromEntries(api?.days.map((d) => [d.date, d.impact]) ?? []);
    // two-days: 2026-06-10T12:00 to 2026-06-12T12:00; current: since 2026-06-14T11:00.
    expect(byDate).toMatchObject({
      '2026-06-09': 'operational',
      '2026-06-10': 'partial_outage',
      '2026-06-11': 'partial_outage',
      '2026-06-12': 'partial_outage',
      '2026-06-13': 'operational',
      '2026-06-14': 'degraded_performance',
      '2026-06-15': 'degraded_performance',
    });
    expect(model.components[1]?.days.every((d) => d.impact === 'operational')).toBe(true);
  });

  it('a shorter window when asked', () => {
    const model = build([component('api')], [over('recent', 2 * DAY), over('older', 8 * DAY)], 7);
    expect(model.components[0]?.days).toHaveLength(7);
    expect(model.history).toHaveLength(1);
    expect(model.historyDays).toBe(7);
  });
});

describe('ordering and identity', () => {
  it('components by order, then display name', () => {
    const model = build(
      [
        component('z', { order: 1, displayName: 'Zeta' }),
        component('b', { order: 2, displayName: 'Beta' }),
        component('a', { order: 2, displayName: 'Alpha' }),
      ],
      [],
    );
    expect(model.components.map((c) => [c.name, c.position])).toEqual([
      ['Zeta', 1],
      ['Alpha', 2],
      ['Beta', 3],
    ]);
  });

  it('updates newest first; current incidents newest first', () => {
    const model = build(
      [],
      [
        incident('first', {
          openedAgo: 3 * HOUR,
          public: {
            updates: [
              update(170 * MINUTE),
              update(60 * MINUTE, 'identified'),
              update(5 * MINUTE, 'monitoring'),
            ],
          },
        }),
        incident('second', { openedAgo: HOUR }),
      ],
    );
    expect(model.current.map((i) => i.id)).toEqual([
      opaqueId('Incident', NS, 'second'),
      opaqueId('Incident', NS, 'first'),
    ]);
    expect(model.current[1]?.updates.map((u) => u.status)).toEqual([
      'monitoring',
      'identified',
      'investigating',
    ]);
  });

  it('ids are stable and say nothing of names or namespaces', () => {
    const id = opaqueId('Incident', 'payments', 'checkout-errors-c1a2b3d4');
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(opaqueId('Incident', 'payments', 'checkout-errors-c1a2b3d4')).toBe(id);
    expect(opaqueId('StatusComponent', 'payments', 'checkout-errors-c1a2b3d4')).not.toBe(id);
  });

  it('without a public title, the headline names the affected components, or says only that there is an incident', () => {
    const model = build(
      [component('api', { displayName: 'Public API' })],
      [
        incident('named', { openedAgo: 2 * HOUR, public: { components: ['api'] } }),
        incident('bare', { openedAgo: HOUR }),
      ],
    );
    expect(model.current.map((i) => i.title)).toEqual(['Service incident', 'Issue affecting Public API']);
  });

  it('nothing of the internal side reaches the model: no title, target, alert, label, namespace or object name', () => {
    const model = build(
      [component('api', { workloads: [{ kind: 'Deployment', name: 'api-server' }] })],
      [
        incident('checkout-errors-c1a2', {
          spec: {
            target: { kind: 'Deployment', name: 'api-server' },
            source: { type: 'alertmanager', alertName: 'CheckoutErrors', labels: { team: 'payments-squad' } },
            description: 'internal description',
          },
          status: {
            phase: 'Escalated',
            escalation: { level: 1, reason: 'rollout restart failed: deployments "api-server" not found' },
          },
          public: {
            title: 'Checkout trouble',
            updates: [update(MINUTE, 'investigating', 'Payments may fail.')],
          },
        }),
      ],
    );
    const text = JSON.stringify(model);
    for (const internal of [
      'checkout-errors',
      'api-server',
      'CheckoutErrors',
      'payments-squad',
      'internal',
      NS,
    ])
      expect(text).not.toContain(internal);
    expect(text).toContain('Checkout trouble');
    expect(text).toContain('Payments may fail.');
  });

  it('updatedAt is the latest change shown, never in the future; the generation time when nothing is there', () => {
    expect(build([], []).updatedAt).toBe(NOW.toISOString());
    const model = build(
      [component('api')],
      [incident('a', { public: { updates: [update(HOUR), update(10 * MINUTE, 'identified')] } })],
    );
    expect(model.updatedAt).toBe(ago(10 * MINUTE));
  });
});
