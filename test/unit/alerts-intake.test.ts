// Alert intake, table by table: what one alert (or one notification of several) makes the intake
// write through its IncidentStore, read from in-memory caches of policies and incidents, with a
// fixed clock. The store is a Map that records every call and can be told to fail like an API outage.
import { describe, expect, it } from '@jest/globals';
import type { ObjectCache } from '@kubernetes/client-node';
import { incidentNameFor } from '../../src/alerts/identity.ts';
import { AlertIntake, type AlertSource, type IntakeOutcome } from '../../src/alerts/intake.ts';
import type { ReceivedAlert } from '../../src/alerts/payload.ts';
import type { IncidentStore } from '../../src/alerts/store.ts';
import {
  FINGERPRINT_LABEL,
  RECURRED_ANNOTATION,
  SIGNAL_CLEARED_ANNOTATION,
  type Severity,
  type WorkloadKind,
} from '../../src/api/group.ts';
import type { Incident, IncidentStatus, Phase } from '../../src/api/incident.ts';
import type { RemediationPolicy, RemediationPolicySpec } from '../../src/api/policy.ts';
import type { PolicyPublic } from '../../src/api/public.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { HOUR, incident, iso, MINUTE, NAMESPACE, policy, T0 } from './fixtures.ts';

// ---------------------------------------------------------------------------------------------------
// In-memory collaborators
// ---------------------------------------------------------------------------------------------------

type StoreCall =
  | { op: 'create'; incident: Incident }
  | { op: 'annotate'; namespace: string; name: string; annotations: Record<string, string> };

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

/** The API server as intake sees it: Incidents by namespace/name; 409 is 'exists', 404 is 'missing'. */
class MemoryIncidentStore implements IncidentStore {
  /** What the API server holds. */
  readonly incidents = new Map<string, Incident>();
  /** Every call in order, a failed one included (copies, as they were when made). */
  readonly calls: StoreCall[] = [];
  private outage: { error: Error; after: number } | undefined;

  constructor(seed: readonly Incident[] = []) {
    for (const i of seed)
      this.incidents.set(keyOf(i.metadata.namespace ?? '', i.metadata.name ?? ''), structuredClone(i));
  }

  /** From now on, every call after the first `after` ones rejects with `error`. */
  failWith(error: Error, after = 0): void {
    this.outage = { error, after: this.calls.length + after };
  }

  get(namespace: string, name: string): Incident | undefined {
    return this.incidents.get(keyOf(namespace, name));
  }

  create(incident: Incident): Promise<'created' | 'exists'> {
    this.calls.push({ op: 'create', incident: structuredClone(incident) });
    if (this.down()) return Promise.reject(this.outage?.error ?? new Error('outage'));
    const key = keyOf(incident.metadata.namespace ?? '', incident.metadata.name ?? '');
    if (this.incidents.has(key)) return Promise.resolve('exists');
    this.incidents.set(key, structuredClone(incident));
    return Promise.resolve('created');
  }

  annotate(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<'annotated' | 'missing'> {
    this.calls.push({ op: 'annotate', namespace, name, annotations: { ...annotations } });
    if (this.down()) return Promise.reject(this.outage?.error ?? new Error('outage'));
    const stored = this.incidents.get(keyOf(namespace, name));
    if (!stored) return Promise.resolve('missing');
    stored.metadata.annotations = { ...stored.metadata.annotations, ...annotations };
    return Promise.resolve('annotated');
  }

  private down(): boolean {
    return this.outage !== undefined && this.calls.length > this.outage.after;
  }
}

interface Named {
  metadata: { name?: string; namespace?: string };
}

/** An informer's cache, frozen: get(name, namespace) and list(namespace). */
class MemoryCache<T extends Named> implements ObjectCache<T> {
  private readonly items: readonly T[];

  constructor(items: readonly T[] = []) {
    this.items = items;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.items.find(
      (i) => i.metadata.name === name && (namespace === undefined || i.metadata.namespace === namespace),
    );
  }

  list(namespace?: string): readonly T[] {
    return namespace === undefined
      ? this.items
      : this.items.filter((i) => i.metadata.namespace === namespace);
  }
}

// ---------------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------------

/** Alertmanager's fingerprint of the checkout alert. */
const FP = 'c1a2b3d4e5f60718';
const OTHER_FP = '0011223344556677';
const UNMATCHED_NS = 'selfheal-unmatched';
/** When the first firing of the checkout alert started; the clock stands at T0. */
const S1 = iso(-10 * MINUTE);

const LABELS: Record<string, string> = {
  alertname: 'CheckoutErrors',
  namespace: NAMESPACE,
  severity: 'critical',
  deployment: 'checkout',
};

interface AlertOverrides {
  labels?: Record<string, string>;
  /** Label names to leave out of the default labels. */
  without?: string[];
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  fingerprint?: string;
  generatorURL?: string;
}

function alert(status: ReceivedAlert['status'], o: AlertOverrides = {}): ReceivedAlert {
  const without = new Set(o.without);
  const labels = Object.fromEntries(
    Object.entries({ ...LABELS, ...o.labels }).filter(([name]) => !without.has(name)),
  );
  return {
    status,
    labels,
    annotations: o.annotations ?? { summary: 'checkout returns 500s' },
    startsAt: o.startsAt ?? S1,
    ...(o.endsAt !== undefined ? { endsAt: o.endsAt } : {}),
    ...(o.generatorURL !== undefined ? { generatorURL: o.generatorURL } : {}),
    fingerprint: o.fingerprint ?? FP,
  };
}

const firing = (o: AlertOverrides = {}) => alert('firing', o);
const resolved = (o: AlertOverrides = {}) => alert('resolved', { endsAt: iso(-2 * MINUTE), ...o });

/** The workload the checkout alert names in its `deployment` label. */
const target = { kind: 'Deployment', name: 'checkout' } as const;

/** The checkout policy, with the target named by the alert's `deployment` label. */
const checkoutPolicy = (spec: Partial<RemediationPolicySpec> = {}): RemediationPolicy =>
  policy({ target: { kind: 'Deployment', nameFromLabel: 'deployment' }, ...spec });

interface ExistingOptions {
  name?: string;
  namespace?: string;
  fingerprint?: string;
  startsAt?: string;
  phase?: Phase;
  /** The reason of a Resolved=True condition. */
  resolvedBy?: 'RemediatedAndVerified' | 'ResolvedByPerson';
  resolvedAt?: string;
  annotations?: Record<string, string>;
}

/** An Incident intake raised earlier for the checkout alert (its fingerprint, another start). */
function existing(o: ExistingOptions = {}): Incident {
  const startsAt = o.startsAt ?? iso(-2 * HOUR);
  const status: IncidentStatus = {
    ...(o.phase ? { phase: o.phase } : {}),
    ...(o.resolvedBy
      ? {
          conditions: [
            {
              type: 'Resolved',
              status: 'True',
              reason: o.resolvedBy,
              message: 'resolved',
              lastTransitionTime: o.resolvedAt ?? iso(-30 * MINUTE),
            },
          ],
        }
      : {}),
    ...(o.resolvedAt ? { resolvedAt: o.resolvedAt } : {}),
  };
  return incident({
    metadata: {
      name: o.name ?? incidentNameFor({ labels: LABELS, fingerprint: FP, startsAt }),
      namespace: o.namespace ?? NAMESPACE,
      labels: { [FINGERPRINT_LABEL]: o.fingerprint ?? FP, 'selfheal.dev/alertname': 'CheckoutErrors' },
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: {
      source: {
        type: 'alertmanager',
        alertName: 'CheckoutErrors',
        labels: LABELS,
        fingerprint: o.fingerprint ?? FP,
        startsAt,
      },
      actions: undefined,
      policyRef: { name: 'restart-checkout' },
    },
    ...(Object.keys(status).length ? { status } : {}),
  });
}

interface Expected {
  namespace?: string;
  severity: Severity;
  title: string;
  description?: string;
  target?: { kind: WorkloadKind; name: string };
  policyRef?: string;
  source?: AlertSource;
  alertname?: string;
}

/** The Incident intake should write for a firing alert, spelled out field by field. */
function expectedIncident(a: ReceivedAlert, e: Expected): Incident {
  const alertname = e.alertname ?? 'CheckoutErrors';
  return {
    metadata: {
      name: incidentNameFor(a),
      namespace: e.namespace ?? NAMESPACE,
      labels: { [FINGERPRINT_LABEL]: a.fingerprint, 'selfheal.dev/alertname': alertname },
    },
    spec: {
      severity: e.severity,
      title: e.title,
      ...(e.description !== undefined ? { description: e.description } : {}),
      source: {
        type: e.source ?? 'alertmanager',
        alertName: alertname,
        labels: a.labels,
        fingerprint: a.fingerprint,
        startsAt: a.startsAt,
        ...(a.generatorURL !== undefined ? { generatorURL: a.generatorURL } : {}),
      },
      dryRun: false,
      ...(e.target ? { target: e.target } : {}),
      ...(e.policyRef !== undefined ? { policyRef: { name: e.policyRef } } : {}),
    },
  };
}

interface Setup {
  policies?: RemediationPolicy[];
  /** In the informer cache and on the API server. */
  incidents?: Incident[];
  /** Only on the API server (the informer has not seen them yet). */
  storedOnly?: Incident[];
  unmatchedNamespace?: string;
  recurrenceWindowMs?: number;
}

function setup(s: Setup = {}) {
  const incidents = s.incidents ?? [];
  const store = new MemoryIncidentStore([...incidents, ...(s.storedOnly ?? [])]);
  const metrics = new Metrics({ processMetrics: false });
  const clock = new ManualClock(T0);
  const intake = new AlertIntake({
    store,
    policies: new MemoryCache(s.policies ?? [checkoutPolicy()]),
    incidents: new MemoryCache(incidents),
    ...(s.unmatchedNamespace !== undefined ? { unmatchedNamespace: s.unmatchedNamespace } : {}),
    recurrenceWindowMs: s.recurrenceWindowMs ?? HOUR,
    clock,
    metrics,
    logger: silentLogger,
  });
  return { intake, store, metrics, clock };
}

/** selfheal_alerts_unmatched_total{alertname}, read from the exposition text. */
async function unmatchedCount(metrics: Metrics, alertname = 'CheckoutErrors'): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('selfheal_alerts_unmatched_total');
  const prefix = `selfheal_alerts_unmatched_total{alertname="${alertname}"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

const created = (a: ReceivedAlert, namespace = NAMESPACE): IntakeOutcome => ({
  alertname: a.labels.alertname ?? '',
  fingerprint: a.fingerprint,
  result: 'created',
  namespace,
  incident: incidentNameFor(a),
});

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

describe('AlertIntake: a firing alert that a policy matches', () => {
  it('writes the whole Incident: name, namespace, labels, severity, title, source, target, policyRef', async () => {
    const { intake, store, metrics } = setup();
    const a = firing({
      annotations: { summary: 'checkout returns 500s', description: 'error rate above 5% for 5m' },
      generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
    });

    const outcomes = await intake.ingest([a], 'alertmanager');

    const name = incidentNameFor(a);
    expect(name).toMatch(/^checkout-errors-c1a2b3d4e5f60718-[0-9a-f]{8}$/);
    expect(outcomes).toStrictEqual([
      {
        alertname: 'CheckoutErrors',
        fingerprint: FP,
        result: 'created',
        namespace: NAMESPACE,
        incident: name,
      },
    ]);
    expect(store.calls).toStrictEqual([
      {
        op: 'create',
        incident: {
          metadata: {
            name,
            namespace: 'shop',
            labels: { 'selfheal.dev/fingerprint': FP, 'selfheal.dev/alertname': 'CheckoutErrors' },
          },
          spec: {
            severity: 'P1',
            title: 'checkout returns 500s',
            description: 'error rate above 5% for 5m',
            source: {
              type: 'alertmanager',
              alertName: 'CheckoutErrors',
              labels: {
                alertname: 'CheckoutErrors',
                namespace: 'shop',
                severity: 'critical',
                deployment: 'checkout',
              },
              fingerprint: FP,
              startsAt: S1,
              generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
            },
            dryRun: false,
            policyRef: { name: 'restart-checkout' },
            target: { kind: 'Deployment', name: 'checkout' },
          },
        },
      },
    ]);
    expect(store.get(NAMESPACE, name)?.spec.target).toStrictEqual({ kind: 'Deployment', name: 'checkout' });
    expect(await unmatchedCount(metrics)).toBe(0);
  });

  interface CreateCase {
    name: string;
    alert: ReceivedAlert;
    policy?: RemediationPolicy;
    source?: AlertSource;
    expected: Omit<Expected, 'policyRef'>;
  }

  const missingTarget = 'label "deployment" (spec.target.nameFromLabel) is missing from the alert';

  it.each<CreateCase>([
    {
      name: 'severity critical maps to P1, title from summary',
      alert: firing(),
      expected: { severity: 'P1', title: 'checkout returns 500s', target },
    },
    {
      name: 'severity warning maps to P3',
      alert: firing({ labels: { severity: 'warning' } }),
      expected: { severity: 'P3', title: 'checkout returns 500s', target },
    },
    {
      name: 'severity info maps to P4',
      alert: firing({ labels: { severity: 'info' } }),
      expected: { severity: 'P4', title: 'checkout returns 500s', target },
    },
    {
      name: "severity label missing: the policy's default",
      alert: firing({ without: ['severity'] }),
      policy: checkoutPolicy({ severity: { fromLabel: 'severity', default: 'P2' } }),
      expected: { severity: 'P2', title: 'checkout returns 500s', target },
    },
    {
      name: 'a fixed severity in the policy wins over the label',
      alert: firing({ labels: { severity: 'info' } }),
      policy: checkoutPolicy({ severity: { value: 'P1', fromLabel: 'severity', default: 'P3' } }),
      expected: { severity: 'P1', title: 'checkout returns 500s', target },
    },
    {
      name: 'no summary: title from the message annotation',
      alert: firing({ annotations: { message: 'checkout is failing' } }),
      expected: { severity: 'P1', title: 'checkout is failing', target },
    },
    {
      name: 'neither summary nor message: "<alertname> is firing"',
      alert: firing({ annotations: {} }),
      expected: { severity: 'P1', title: 'CheckoutErrors is firing', target },
    },
    {
      // An empty annotation passes the payload check, and the Incident CRD requires title minLength 1.
      name: 'an empty summary falls back to the message',
      alert: firing({ annotations: { summary: '', message: 'checkout is failing' } }),
      expected: { severity: 'P1', title: 'checkout is failing', target },
    },
    {
      name: 'an empty summary and no message: "<alertname> is firing"',
      alert: firing({ annotations: { summary: '' } }),
      expected: { severity: 'P1', title: 'CheckoutErrors is firing', target },
    },
    {
      name: 'a long summary is cut to 200 characters',
      alert: firing({ annotations: { summary: 'x'.repeat(250) } }),
      expected: { severity: 'P1', title: 'x'.repeat(200), target },
    },
    {
      name: 'a fixed target name in the policy',
      alert: firing({ without: ['deployment'] }),
      policy: policy({ target: { kind: 'StatefulSet', name: 'orders-db' } }),
      expected: {
        severity: 'P1',
        title: 'checkout returns 500s',
        target: { kind: 'StatefulSet', name: 'orders-db' },
      },
    },
    {
      name: 'from the Prometheus poller: source type prometheus',
      alert: firing(),
      source: 'prometheus',
      expected: { severity: 'P1', title: 'checkout returns 500s', target, source: 'prometheus' },
    },
    {
      name: 'target label missing: no target, the reason in the description',
      alert: firing({ without: ['deployment'] }),
      expected: { severity: 'P1', title: 'checkout returns 500s', description: missingTarget },
    },
    {
      name: 'target label missing: the reason follows the description annotation',
      alert: firing({
        without: ['deployment'],
        annotations: { summary: 'checkout returns 500s', description: 'error rate above 5%' },
      }),
      expected: {
        severity: 'P1',
        title: 'checkout returns 500s',
        description: `error rate above 5%\n\n${missingTarget}`,
      },
    },
    {
      name: 'target label not a valid name: no target, the reason in the description',
      alert: firing({ labels: { deployment: 'Checkout_API' } }),
      expected: {
        severity: 'P1',
        title: 'checkout returns 500s',
        description:
          'label "deployment" (spec.target.nameFromLabel) is "Checkout_API", not a valid Deployment name: ' +
          "a DNS-1123 subdomain is lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
      },
    },
  ])('$name → created', async (c) => {
    const p = c.policy ?? checkoutPolicy();
    const { intake, store, metrics } = setup({ policies: [p] });

    const outcomes = await intake.ingest([c.alert], c.source ?? 'alertmanager');

    expect(outcomes).toStrictEqual([created(c.alert)]);
    expect(store.calls).toStrictEqual([
      { op: 'create', incident: expectedIncident(c.alert, { ...c.expected, policyRef: 'restart-checkout' }) },
    ]);
    expect(await unmatchedCount(metrics)).toBe(0);
  });

  it('the most specific matching policy in the namespace is the policyRef', async () => {
    const general = { ...checkoutPolicy(), metadata: { name: 'a-general', namespace: NAMESPACE } };
    const specific = {
      ...checkoutPolicy({
        match: {
          alertName: 'CheckoutErrors',
          labels: [{ name: 'severity', operator: '=', value: 'critical' }],
        },
      }),
      metadata: { name: 'z-specific', namespace: NAMESPACE },
    } satisfies RemediationPolicy;
    const { intake, store } = setup({ policies: [general, specific] });
    const a = firing();

    expect(await intake.ingest([a], 'alertmanager')).toStrictEqual([created(a)]);
    expect(store.calls).toStrictEqual([
      {
        op: 'create',
        incident: expectedIncident(a, {
          severity: 'P1',
          title: 'checkout returns 500s',
          target,
          policyRef: 'z-specific',
        }),
      },
    ]);
  });
});

describe("AlertIntake: the policy's public template", () => {
  const template: PolicyPublic = {
    title: 'Checkout is failing for some customers',
    components: ['checkout'],
    impact: 'partial_outage',
    message: 'Some payments fail. We are looking into it.',
  };

  it("becomes the new incident's public side, with one investigating update at the intake's time", async () => {
    const { intake, store } = setup({ policies: [checkoutPolicy({ public: template })] });
    const a = firing();

    await intake.ingest([a], 'alertmanager');

    expect(store.get(NAMESPACE, incidentNameFor(a))?.spec.public).toStrictEqual({
      title: template.title,
      components: ['checkout'],
      impact: 'partial_outage',
      updates: [{ time: T0.toISOString(), status: 'investigating', message: template.message }],
    });
  });

  it('leaves out what the template leaves out', async () => {
    const { intake, store } = setup({
      policies: [checkoutPolicy({ public: { message: template.message } })],
    });
    const a = firing();

    await intake.ingest([a], 'alertmanager');

    expect(store.get(NAMESPACE, incidentNameFor(a))?.spec.public).toStrictEqual({
      updates: [{ time: T0.toISOString(), status: 'investigating', message: template.message }],
    });
  });

  it('no template, no public side: the incident stays off the status page', async () => {
    const { intake, store } = setup();
    const a = firing();

    await intake.ingest([a], 'alertmanager');

    expect(store.get(NAMESPACE, incidentNameFor(a))?.spec).not.toHaveProperty('public');
  });
});

describe('AlertIntake: duplicates of a firing', () => {
  it('the same alert again, the API server already has it (409): duplicate, stored incident unchanged', async () => {
    const a = firing();
    const first = setup();
    await first.intake.ingest([a], 'alertmanager');
    const stored = first.store.get(NAMESPACE, incidentNameFor(a));
    if (!stored) throw new Error('the first firing created nothing');

    // Another replica: the API server has the incident, its informer has not seen it yet.
    const { intake, store } = setup({ storedOnly: [{ ...stored, status: { phase: 'Remediating' } }] });
    const outcomes = await intake.ingest([a], 'alertmanager');

    expect(outcomes).toStrictEqual([
      {
        alertname: 'CheckoutErrors',
        fingerprint: FP,
        result: 'duplicate',
        namespace: NAMESPACE,
        incident: incidentNameFor(a),
      },
    ]);
    expect(store.calls.map((c) => c.op)).toStrictEqual(['create']);
    expect(store.get(NAMESPACE, incidentNameFor(a))).toStrictEqual({
      ...stored,
      status: { phase: 'Remediating' },
    });
  });

  it('the same alert twice in one call: created, then duplicate', async () => {
    const { intake, store } = setup();
    const a = firing();

    const outcomes = await intake.ingest([a, a], 'alertmanager');

    expect(outcomes.map((o) => o.result)).toStrictEqual(['created', 'duplicate']);
    expect(outcomes[1]?.incident).toBe(incidentNameFor(a));
    expect(store.calls.map((c) => c.op)).toStrictEqual(['create', 'create']);
    expect(store.incidents.size).toBe(1);
  });

  it.each<{ name: string; phase: Phase | undefined }>([
    { name: 'not yet reconciled (no status)', phase: undefined },
    { name: 'Open', phase: 'Open' },
    { name: 'Remediating', phase: 'Remediating' },
    { name: 'Verifying', phase: 'Verifying' },
    { name: 'Escalated', phase: 'Escalated' },
    { name: 'Acknowledged', phase: 'Acknowledged' },
  ])(
    'an open incident of the signal ($name) with another startsAt: duplicate, nothing written',
    async (c) => {
      const open = existing({ startsAt: iso(-40 * MINUTE), ...(c.phase ? { phase: c.phase } : {}) });
      const { intake, store } = setup({ incidents: [open] });
      const a = firing({ startsAt: iso(-5 * MINUTE) });

      const outcomes = await intake.ingest([a], 'prometheus');

      expect(outcomes).toStrictEqual([
        {
          alertname: 'CheckoutErrors',
          fingerprint: FP,
          result: 'duplicate',
          namespace: NAMESPACE,
          incident: open.metadata.name,
        },
      ]);
      expect(store.calls).toStrictEqual([]);
    },
  );

  it.each<{ name: string; other: Incident }>([
    {
      name: 'another fingerprint',
      other: existing({ fingerprint: OTHER_FP, name: 'other-signal', phase: 'Remediating' }),
    },
    {
      name: 'another namespace',
      other: existing({ namespace: 'payments', name: 'elsewhere', phase: 'Remediating' }),
    },
    { name: 'the same signal, Resolved', other: existing({ phase: 'Resolved', resolvedAt: iso(-3 * HOUR) }) },
    { name: 'the same signal, Closed', other: existing({ phase: 'Closed', resolvedAt: iso(-3 * HOUR) }) },
  ])('an incident of $name does not make a firing a duplicate: created', async (c) => {
    const { intake, store } = setup({ incidents: [c.other] });
    const a = firing();

    expect(await intake.ingest([a], 'alertmanager')).toStrictEqual([created(a)]);
    expect(store.calls).toStrictEqual([
      {
        op: 'create',
        incident: expectedIncident(a, {
          severity: 'P1',
          title: 'checkout returns 500s',
          target,
          policyRef: 'restart-checkout',
        }),
      },
    ]);
  });
});

describe('AlertIntake: recurrence after a resolved incident', () => {
  const S2 = iso(-1 * MINUTE);

  interface RecurrenceCase {
    name: string;
    old: ExistingOptions;
    windowMs?: number;
    expected: 'reopened' | 'created' | 'duplicate';
  }

  it.each<RecurrenceCase>([
    {
      name: 'resolved by automation 30m ago, window 1h',
      old: { phase: 'Resolved', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-30 * MINUTE) },
      expected: 'reopened',
    },
    {
      name: 'resolved by automation and Closed, within the window',
      old: { phase: 'Closed', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-30 * MINUTE) },
      expected: 'reopened',
    },
    {
      name: 'resolved by automation exactly one window ago',
      old: { phase: 'Resolved', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-HOUR) },
      expected: 'reopened',
    },
    {
      name: 'resolved by automation just outside the window',
      old: { phase: 'Resolved', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-HOUR - 1) },
      expected: 'created',
    },
    {
      name: 'resolved by automation 30m ago, window 10m',
      old: { phase: 'Resolved', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-30 * MINUTE) },
      windowMs: 10 * MINUTE,
      expected: 'created',
    },
    {
      name: 'resolved by a person within the window',
      old: { phase: 'Resolved', resolvedBy: 'ResolvedByPerson', resolvedAt: iso(-5 * MINUTE) },
      expected: 'created',
    },
    {
      name: 'resolved by automation, but no resolvedAt',
      old: { phase: 'Resolved', resolvedBy: 'RemediatedAndVerified' },
      expected: 'created',
    },
    {
      name: 'this recurrence was already recorded (recurred-at = startsAt)',
      old: {
        phase: 'Escalated',
        resolvedBy: 'RemediatedAndVerified',
        resolvedAt: iso(-30 * MINUTE),
        annotations: { [RECURRED_ANNOTATION]: S2 },
      },
      expected: 'duplicate',
    },
  ])('$name → $expected', async (c) => {
    const old = existing({ startsAt: iso(-2 * HOUR), ...c.old });
    const { intake, store } = setup({
      incidents: [old],
      ...(c.windowMs !== undefined ? { recurrenceWindowMs: c.windowMs } : {}),
    });
    const a = firing({ startsAt: S2 });

    const outcomes = await intake.ingest([a], 'alertmanager');

    const base = { alertname: 'CheckoutErrors', fingerprint: FP, namespace: NAMESPACE };
    switch (c.expected) {
      case 'reopened':
        expect(outcomes).toStrictEqual([{ ...base, result: 'reopened', incident: old.metadata.name }]);
        expect(store.calls).toStrictEqual([
          {
            op: 'annotate',
            namespace: NAMESPACE,
            name: old.metadata.name,
            annotations: { [RECURRED_ANNOTATION]: S2 },
          },
        ]);
        expect(store.get(NAMESPACE, old.metadata.name ?? '')?.metadata.annotations).toStrictEqual({
          [RECURRED_ANNOTATION]: S2,
        });
        break;
      case 'duplicate':
        expect(outcomes).toStrictEqual([{ ...base, result: 'duplicate', incident: old.metadata.name }]);
        expect(store.calls).toStrictEqual([]);
        break;
      case 'created':
        expect(outcomes).toStrictEqual([created(a)]);
        expect(store.calls).toStrictEqual([
          {
            op: 'create',
            incident: expectedIncident(a, {
              severity: 'P1',
              title: 'checkout returns 500s',
              target,
              policyRef: 'restart-checkout',
            }),
          },
        ]);
        break;
    }
  });

  it("the alert's own incident, resolved by automation, sent again: duplicate (409), not a recurrence", async () => {
    const own = existing({
      startsAt: S1,
      phase: 'Resolved',
      resolvedBy: 'RemediatedAndVerified',
      resolvedAt: iso(-MINUTE),
    });
    const { intake, store } = setup({ incidents: [own] });
    const a = firing();
    expect(own.metadata.name).toBe(incidentNameFor(a));

    const outcomes = await intake.ingest([a], 'alertmanager');

    expect(outcomes.map((o) => [o.result, o.incident])).toStrictEqual([['duplicate', own.metadata.name]]);
    expect(store.calls.filter((c) => c.op === 'annotate')).toStrictEqual([]);
  });
});

describe('AlertIntake: an open incident whose signal had cleared', () => {
  const FIRED = iso(-40 * MINUTE);
  const CLEARED = iso(-20 * MINUTE);

  it.each<{
    name: string;
    annotations: Record<string, string>;
    startsAt: string;
    expected: 'reopened' | 'duplicate';
  }>([
    {
      name: 'cleared after it fired, fires again after the clear',
      annotations: { [SIGNAL_CLEARED_ANNOTATION]: CLEARED },
      startsAt: iso(-5 * MINUTE),
      expected: 'reopened',
    },
    {
      name: 'fires again at the very instant of the clear',
      annotations: { [SIGNAL_CLEARED_ANNOTATION]: CLEARED },
      startsAt: CLEARED,
      expected: 'reopened',
    },
    {
      name: 'a firing that started before the clear (another source, an old start)',
      annotations: { [SIGNAL_CLEARED_ANNOTATION]: CLEARED },
      startsAt: iso(-30 * MINUTE),
      expected: 'duplicate',
    },
    {
      name: 'not cleared at all',
      annotations: {},
      startsAt: iso(-5 * MINUTE),
      expected: 'duplicate',
    },
    {
      name: 'the clear predates its last recurrence (recurred-at later)',
      annotations: { [SIGNAL_CLEARED_ANNOTATION]: CLEARED, [RECURRED_ANNOTATION]: iso(-15 * MINUTE) },
      startsAt: iso(-5 * MINUTE),
      expected: 'duplicate',
    },
    {
      name: 'cleared after its last recurrence, fires again',
      annotations: { [RECURRED_ANNOTATION]: iso(-30 * MINUTE), [SIGNAL_CLEARED_ANNOTATION]: CLEARED },
      startsAt: iso(-5 * MINUTE),
      expected: 'reopened',
    },
  ])('Verifying, $name → $expected', async (c) => {
    const open = existing({ startsAt: FIRED, phase: 'Verifying', annotations: c.annotations });
    const { intake, store } = setup({ incidents: [open] });
    const a = firing({ startsAt: c.startsAt });

    const outcomes = await intake.ingest([a], 'alertmanager');

    expect(outcomes).toStrictEqual([
      {
        alertname: 'CheckoutErrors',
        fingerprint: FP,
        result: c.expected,
        namespace: NAMESPACE,
        incident: open.metadata.name,
      },
    ]);
    expect(store.calls).toStrictEqual(
      c.expected === 'reopened'
        ? [
            {
              op: 'annotate',
              namespace: NAMESPACE,
              name: open.metadata.name,
              annotations: { [RECURRED_ANNOTATION]: c.startsAt },
            },
          ]
        : [],
    );
  });
});

describe('AlertIntake: resolved alerts', () => {
  const ENDS = iso(-2 * MINUTE);

  it.each<{
    name: string;
    alert: ReceivedAlert;
    incidents: Incident[];
    unmatchedNamespace?: string;
    outcome: Omit<IntakeOutcome, 'alertname' | 'fingerprint'>;
    calls: { namespace: string; name: string; annotations: Record<string, string> }[];
  }>([
    {
      name: 'its incident exists: signal-cleared-at = endsAt',
      alert: resolved({ endsAt: ENDS }),
      incidents: [existing({ startsAt: S1, phase: 'Verifying' })],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: incidentNameFor(firing()) },
      calls: [
        {
          namespace: NAMESPACE,
          name: incidentNameFor(firing()),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'no endsAt: cleared at the clock time',
      alert: { ...resolved(), endsAt: undefined },
      incidents: [existing({ startsAt: S1, phase: 'Verifying' })],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: incidentNameFor(firing()) },
      calls: [
        {
          namespace: NAMESPACE,
          name: incidentNameFor(firing()),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: T0.toISOString() },
        },
      ],
    },
    {
      name: 'its incident is missing: unknown-incident',
      alert: resolved({ endsAt: ENDS }),
      incidents: [],
      outcome: { result: 'unknown-incident', note: 'no incident was raised for this alert' },
      calls: [
        {
          namespace: NAMESPACE,
          name: incidentNameFor(firing()),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'the firing reopened an older incident: cleared on that one',
      alert: resolved({ startsAt: iso(-5 * MINUTE), endsAt: ENDS }),
      incidents: [
        existing({
          name: 'checkout-errors-reopened',
          startsAt: iso(-2 * HOUR),
          phase: 'Escalated',
          annotations: { [RECURRED_ANNOTATION]: iso(-5 * MINUTE) },
        }),
      ],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: 'checkout-errors-reopened' },
      calls: [
        {
          namespace: NAMESPACE,
          name: 'checkout-errors-reopened',
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'an incident of the signal reopened by another firing is not it',
      alert: resolved({ startsAt: S1, endsAt: ENDS }),
      incidents: [
        existing({ startsAt: S1, phase: 'Verifying' }),
        existing({
          name: 'checkout-errors-reopened',
          startsAt: iso(-2 * HOUR),
          phase: 'Escalated',
          annotations: { [RECURRED_ANNOTATION]: iso(-5 * MINUTE) },
        }),
      ],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: incidentNameFor(firing()) },
      calls: [
        {
          namespace: NAMESPACE,
          name: incidentNameFor(firing()),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'an escalation-only incident: found in the unmatched namespace',
      alert: resolved({ endsAt: ENDS }),
      incidents: [existing({ startsAt: S1, namespace: UNMATCHED_NS, phase: 'Escalated' })],
      unmatchedNamespace: UNMATCHED_NS,
      outcome: { result: 'cleared', namespace: UNMATCHED_NS, incident: incidentNameFor(firing()) },
      calls: [
        {
          namespace: NAMESPACE,
          name: incidentNameFor(firing()),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
        {
          namespace: UNMATCHED_NS,
          name: incidentNameFor(firing()),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'no namespace label and no unmatched namespace: unknown-incident, nothing tried',
      alert: resolved({ without: ['namespace'], endsAt: ENDS }),
      incidents: [],
      outcome: { result: 'unknown-incident', note: 'no incident was raised for this alert' },
      calls: [],
    },
  ])('$name', async (c) => {
    const { intake, store } = setup({
      incidents: c.incidents,
      ...(c.unmatchedNamespace !== undefined ? { unmatchedNamespace: c.unmatchedNamespace } : {}),
    });

    const outcomes = await intake.ingest([c.alert], 'alertmanager');

    expect(outcomes).toStrictEqual([{ alertname: 'CheckoutErrors', fingerprint: FP, ...c.outcome }]);
    expect(store.calls).toStrictEqual(c.calls.map((call) => ({ op: 'annotate', ...call })));
    const last = c.calls.at(-1);
    if (c.outcome.result === 'cleared' && last)
      expect(store.get(last.namespace, last.name)?.metadata.annotations?.[SIGNAL_CLEARED_ANNOTATION]).toBe(
        last.annotations[SIGNAL_CLEARED_ANNOTATION],
      );
  });
});

describe('AlertIntake: unmatched alerts', () => {
  const noNamespace = 'the alert has no namespace label';
  const noPolicy = `no RemediationPolicy in namespace ${NAMESPACE} matches`;

  it.each<{ name: string; alert: ReceivedAlert; policies: RemediationPolicy[]; note: string }>([
    {
      name: 'no namespace label',
      alert: firing({ without: ['namespace'] }),
      policies: [checkoutPolicy()],
      note: noNamespace,
    },
    { name: 'no policy at all', alert: firing(), policies: [], note: noPolicy },
    {
      name: 'a policy for another alertname',
      alert: firing(),
      policies: [checkoutPolicy({ match: { alertName: 'QueueBacklog' } })],
      note: noPolicy,
    },
    {
      name: 'a policy whose matchers do not hold',
      alert: firing(),
      policies: [
        checkoutPolicy({
          match: {
            alertName: 'CheckoutErrors',
            labels: [{ name: 'team', operator: '=', value: 'payments' }],
          },
        }),
      ],
      note: noPolicy,
    },
    {
      name: 'a matching policy, but in another namespace',
      alert: firing(),
      policies: [{ ...checkoutPolicy(), metadata: { name: 'restart-checkout', namespace: 'payments' } }],
      note: noPolicy,
    },
  ])('$name, no unmatched namespace: unmatched, counted, nothing written', async (c) => {
    const { intake, store, metrics } = setup({ policies: c.policies });

    const outcomes = await intake.ingest([c.alert], 'alertmanager');

    expect(outcomes).toStrictEqual([
      { alertname: 'CheckoutErrors', fingerprint: FP, result: 'unmatched', note: c.note },
    ]);
    expect(store.calls).toStrictEqual([]);
    expect(await unmatchedCount(metrics)).toBe(1);
  });

  it('every unmatched firing counts, per alertname', async () => {
    const { intake, metrics } = setup({ policies: [] });
    await intake.ingest(
      [firing(), firing(), firing({ labels: { alertname: 'QueueBacklog' }, fingerprint: OTHER_FP })],
      'prometheus',
    );
    expect(await unmatchedCount(metrics, 'CheckoutErrors')).toBe(2);
    expect(await unmatchedCount(metrics, 'QueueBacklog')).toBe(1);
  });

  it.each<{ name: string; severity?: string; expected: Severity; without?: string[]; note?: string }>([
    { name: 'critical', severity: 'critical', expected: 'P1' },
    { name: 'error', severity: 'error', expected: 'P2' },
    { name: 'warning', severity: 'warning', expected: 'P3' },
    { name: 'info', severity: 'info', expected: 'P4' },
    { name: 'Critical (case-insensitive)', severity: 'Critical', expected: 'P1' },
    { name: 'an unknown value', severity: 'page', expected: 'P3' },
    { name: 'no severity label', expected: 'P3', without: ['severity'] },
    {
      name: 'critical, no namespace label',
      severity: 'critical',
      expected: 'P1',
      without: ['namespace'],
      note: noNamespace,
    },
  ])(
    'with an unmatched namespace, severity $name: escalation-only incident, $expected, no target or policyRef',
    async (c) => {
      const { intake, store, metrics } = setup({ policies: [], unmatchedNamespace: UNMATCHED_NS });
      const a = firing({
        ...(c.severity !== undefined ? { labels: { severity: c.severity } } : {}),
        ...(c.without ? { without: c.without } : {}),
        annotations: { summary: 'checkout returns 500s', description: 'error rate above 5%' },
      });
      const note = c.note ?? noPolicy;

      const outcomes = await intake.ingest([a], 'alertmanager');

      expect(outcomes).toStrictEqual([
        {
          alertname: 'CheckoutErrors',
          fingerprint: FP,
          result: 'escalation-only',
          namespace: UNMATCHED_NS,
          incident: incidentNameFor(a),
          note,
        },
      ]);
      expect(store.calls).toStrictEqual([
        {
          op: 'create',
          incident: expectedIncident(a, {
            namespace: UNMATCHED_NS,
            severity: c.expected,
            title: 'checkout returns 500s',
            description: `error rate above 5%\n\n${note}; escalation only`,
          }),
        },
      ]);
      expect(await unmatchedCount(metrics)).toBe(1);
    },
  );
});

describe('AlertIntake: API outage', () => {
  const outage = () => new Error('connect ECONNREFUSED 10.96.0.1:443');

  it.each<{ name: string; alert: ReceivedAlert; setup: Setup; op: StoreCall['op'] }>([
    { name: 'creating an incident', alert: firing(), setup: {}, op: 'create' },
    {
      name: 'creating an escalation-only incident',
      alert: firing(),
      setup: { policies: [], unmatchedNamespace: UNMATCHED_NS },
      op: 'create',
    },
    {
      name: 'reopening a recently auto-resolved incident',
      alert: firing({ startsAt: iso(-MINUTE) }),
      setup: {
        incidents: [
          existing({ phase: 'Resolved', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-10 * MINUTE) }),
        ],
      },
      op: 'annotate',
    },
    {
      name: 'reopening an open incident after its signal cleared',
      alert: firing({ startsAt: iso(-MINUTE) }),
      setup: {
        incidents: [
          existing({ phase: 'Verifying', annotations: { [SIGNAL_CLEARED_ANNOTATION]: iso(-5 * MINUTE) } }),
        ],
      },
      op: 'annotate',
    },
    {
      name: 'clearing the signal of a resolved alert',
      alert: resolved(),
      setup: { incidents: [existing({ startsAt: S1, phase: 'Verifying' })] },
      op: 'annotate',
    },
  ])('$name: ingest rejects with the API error', async (c) => {
    const { intake, store } = setup(c.setup);
    const error = outage();
    store.failWith(error);

    await expect(intake.ingest([c.alert], 'alertmanager')).rejects.toBe(error);
    expect(store.calls.map((call) => call.op)).toStrictEqual([c.op]);
  });

  it('fails part-way through a notification: the alerts before it are written, the call rejects', async () => {
    const { intake, store } = setup();
    const error = outage();
    store.failWith(error, 1);
    const a = firing();
    const b = firing({ fingerprint: OTHER_FP, labels: { deployment: 'cart' } });
    const c = firing({ fingerprint: 'ffeeddccbbaa9988' });

    await expect(intake.ingest([a, b, c], 'alertmanager')).rejects.toBe(error);
    expect(
      store.calls.map((call) => (call.op === 'create' ? call.incident.metadata.name : call.op)),
    ).toStrictEqual([incidentNameFor(a), incidentNameFor(b)]);
    expect([...store.incidents.keys()]).toStrictEqual([`${NAMESPACE}/${incidentNameFor(a)}`]);
  });
});

describe('AlertIntake: several alerts in one call', () => {
  it('answers one outcome per alert, in order', async () => {
    const open = existing({ fingerprint: OTHER_FP, name: 'cart-errors-open', phase: 'Remediating' });
    const { intake, store, metrics } = setup({ incidents: [open] });
    const a = firing();
    const noNamespace = firing({ without: ['namespace'], fingerprint: 'ffeeddccbbaa9988' });
    const openDuplicate = firing({ fingerprint: OTHER_FP, labels: { deployment: 'cart' } });
    const aResolved = resolved({ endsAt: iso(-MINUTE) });
    const unknown = resolved({ fingerprint: '0123456789abcdef' });

    const outcomes = await intake.ingest(
      [a, noNamespace, openDuplicate, a, aResolved, unknown],
      'alertmanager',
    );

    expect(outcomes).toStrictEqual([
      created(a),
      {
        alertname: 'CheckoutErrors',
        fingerprint: 'ffeeddccbbaa9988',
        result: 'unmatched',
        note: 'the alert has no namespace label',
      },
      {
        alertname: 'CheckoutErrors',
        fingerprint: OTHER_FP,
        result: 'duplicate',
        namespace: NAMESPACE,
        incident: 'cart-errors-open',
      },
      { ...created(a), result: 'duplicate' },
      { ...created(a), result: 'cleared' },
      {
        alertname: 'CheckoutErrors',
        fingerprint: '0123456789abcdef',
        result: 'unknown-incident',
        note: 'no incident was raised for this alert',
      },
    ]);
    expect(store.calls.map((c) => c.op)).toStrictEqual(['create', 'create', 'annotate', 'annotate']);
    expect(store.get(NAMESPACE, incidentNameFor(a))?.metadata.annotations).toStrictEqual({
      [SIGNAL_CLEARED_ANNOTATION]: iso(-MINUTE),
    });
    expect(await unmatchedCount(metrics)).toBe(1);
  });

  it('an empty list: no outcomes, nothing written', async () => {
    const { intake, store } = setup();
    expect(await intake.ingest([], 'alertmanager')).toStrictEqual([]);
    expect(store.calls).toStrictEqual([]);
  });
});
