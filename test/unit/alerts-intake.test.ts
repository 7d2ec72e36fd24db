// Alert intake, table by table: what one alert (or one notification of several) makes the intake
// write through its IncidentStore, read from in-memory informer caches of policies and incidents,
// with a fixed clock. The store is a Map that records every call and can be told to fail like an
// API outage; the incident cache is the IncidentCache the operator uses, over an in-memory informer
// that lags behind the store unless a test makes it catch up.
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { EPISODE_LABEL, incidentNameFor } from '../../src/alerts/identity.ts';
import { AlertIntake, type AlertSource, type IntakeOutcome } from '../../src/alerts/intake.ts';
import type { ReceivedAlert } from '../../src/alerts/payload.ts';
import type { IncidentStore } from '../../src/alerts/store.ts';
import {
  FINGERPRINT_LABEL,
  RECURRED_ANNOTATION,
  SIGNAL_CLEARED_ANNOTATION,
  TARGET_PROBLEM_ANNOTATION,
  type Severity,
  type WorkloadKind,
} from '../../src/api/group.ts';
import type { Incident, IncidentStatus, Phase } from '../../src/api/incident.ts';
import type { RemediationPolicy, RemediationPolicySpec } from '../../src/api/policy.ts';
import { IncidentCache } from '../../src/incidents/cache.ts';
import type { PolicyPublic } from '../../src/api/public.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { MemoryCache } from '../support/memoryCache.ts';
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
  /** Writes under way at once, and the most there ever were (overall and per fingerprint). */
  inFlight = 0;
  maxInFlight = 0;
  readonly maxInFlightBySignal = new Map<string, number>();
  private readonly inFlightBySignal = new Map<string, number>();
  private outage: { error: unknown; after: number } | undefined;
  /** Each write takes a turn of the event loop, so writes started together overlap. */
  private readonly slow: boolean;

  constructor(seed: readonly Incident[] = [], { slow = false } = {}) {
    this.slow = slow;
    for (const i of seed)
      this.incidents.set(keyOf(i.metadata.namespace ?? '', i.metadata.name ?? ''), structuredClone(i));
  }

  /** From now on, every call after the first `after` ones rejects with `error`. */
  failWith(error: unknown, after = 0): void {
    this.outage = { error, after: this.calls.length + after };
  }

  get(namespace: string, name: string): Incident | undefined {
    return this.incidents.get(keyOf(namespace, name));
  }

  async create(incident: Incident): Promise<'created' | 'exists'> {
    this.calls.push({ op: 'create', incident: structuredClone(incident) });
    const down = this.down();
    return this.write(incident.spec.source.fingerprint ?? '', () => {
      if (down) throw down.error;
      const key = keyOf(incident.metadata.namespace ?? '', incident.metadata.name ?? '');
      if (this.incidents.has(key)) return 'exists';
      this.incidents.set(key, structuredClone(incident));
      return 'created';
    });
  }

  async annotate(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<'annotated' | 'missing'> {
    this.calls.push({ op: 'annotate', namespace, name, annotations: { ...annotations } });
    const down = this.down();
    const stored = this.incidents.get(keyOf(namespace, name));
    return this.write(stored?.spec.source.fingerprint ?? '', () => {
      if (down) throw down.error;
      if (!stored) return 'missing';
      stored.metadata.annotations = { ...stored.metadata.annotations, ...annotations };
      return 'annotated';
    });
  }

  private async write<T>(signal: string, apply: () => T): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const bySignal = (this.inFlightBySignal.get(signal) ?? 0) + 1;
    this.inFlightBySignal.set(signal, bySignal);
    this.maxInFlightBySignal.set(signal, Math.max(this.maxInFlightBySignal.get(signal) ?? 0, bySignal));
    try {
      if (this.slow) await new Promise<void>((resolve) => setImmediate(resolve));
      return apply();
    } finally {
      this.inFlight--;
      this.inFlightBySignal.set(signal, (this.inFlightBySignal.get(signal) ?? 1) - 1);
    }
  }

  private down(): { error: unknown } | undefined {
    return this.outage !== undefined && this.calls.length > this.outage.after ? this.outage : undefined;
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

/** The name of episode `episode` of the checkout signal (or of another fingerprint). */
const episodeName = (episode: number, fingerprint = FP) =>
  incidentNameFor({ labels: LABELS, fingerprint }, episode);

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
  /** Which episode of its signal it is (default 1); null: an incident from before episodes. */
  episode?: number | null;
  phase?: Phase;
  /** The reason of a Resolved=True condition. */
  resolvedBy?: 'RemediatedAndVerified' | 'ResolvedByPerson';
  resolvedAt?: string;
  annotations?: Record<string, string>;
}

/** An Incident intake raised earlier for the checkout alert (its fingerprint, another start). */
function existing(o: ExistingOptions = {}): Incident {
  const startsAt = o.startsAt ?? iso(-2 * HOUR);
  const episode = o.episode === undefined ? 1 : o.episode;
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
      name: o.name ?? (episode === null ? 'checkout-errors-legacy' : episodeName(episode, o.fingerprint)),
      namespace: o.namespace ?? NAMESPACE,
      labels: {
        [FINGERPRINT_LABEL]: o.fingerprint ?? FP,
        'selfheal.dev/alertname': 'CheckoutErrors',
        ...(episode === null ? {} : { [EPISODE_LABEL]: String(episode) }),
      },
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
  /** Why the policy could not name a target from the alert (the selfheal.dev/target-problem annotation). */
  targetProblem?: string;
  policyRef?: string;
  source?: AlertSource;
  alertname?: string;
  episode?: number;
}

/** The Incident intake should write for a firing alert, spelled out field by field. */
function expectedIncident(a: ReceivedAlert, e: Expected): Incident {
  const alertname = e.alertname ?? 'CheckoutErrors';
  const episode = e.episode ?? 1;
  return {
    metadata: {
      name: incidentNameFor(a, episode),
      namespace: e.namespace ?? NAMESPACE,
      labels: {
        [FINGERPRINT_LABEL]: a.fingerprint,
        [EPISODE_LABEL]: String(episode),
        'selfheal.dev/alertname': alertname,
      },
      ...(e.targetProblem !== undefined
        ? { annotations: { [TARGET_PROBLEM_ANNOTATION]: e.targetProblem } }
        : {}),
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

/** The checkout Incident the default policy writes for a firing alert (episode 1 unless told). */
const checkoutIncident = (a: ReceivedAlert, episode = 1) =>
  expectedIncident(a, {
    severity: 'P1',
    title: 'checkout returns 500s',
    target,
    policyRef: 'restart-checkout',
    episode,
  });

interface Setup {
  policies?: RemediationPolicy[];
  /** In the informer cache and on the API server. */
  incidents?: Incident[];
  /** Only on the API server (the informer has not seen them yet). */
  storedOnly?: Incident[];
  /** Only in the informer cache (the API server deleted them, the watch has not said so yet). */
  cachedOnly?: Incident[];
  unmatchedNamespace?: string;
  recurrenceWindowMs?: number;
  concurrency?: number;
  /** Another replica's intake on the same API server. */
  store?: MemoryIncidentStore;
  slowStore?: boolean;
}

function setup(s: Setup = {}) {
  const incidents = s.incidents ?? [];
  const store =
    s.store ??
    new MemoryIncidentStore([...incidents, ...(s.storedOnly ?? [])], { slow: s.slowStore ?? false });
  const metrics = new Metrics({ processMetrics: false });
  const clock = new ManualClock(T0);
  const informer = new MemoryCache<Incident>([...incidents, ...(s.cachedOnly ?? [])]);
  const intake = new AlertIntake({
    store,
    policies: new MemoryCache(s.policies ?? [checkoutPolicy()]),
    incidents: new IncidentCache(informer),
    ...(s.unmatchedNamespace !== undefined ? { unmatchedNamespace: s.unmatchedNamespace } : {}),
    recurrenceWindowMs: s.recurrenceWindowMs ?? HOUR,
    ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
    clock,
    metrics,
    logger: silentLogger,
  });
  /** The informer catches up with the API server. */
  const sync = () => {
    for (const i of store.incidents.values()) informer.put(i);
  };
  return { intake, store, metrics, clock, informer, sync };
}

/** A counter of the exposition text, by its labels as written there (e.g. `alertname="X"`). */
async function counter(metrics: Metrics, name: string, labels: string): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const prefix = `${name}{${labels}} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

/** selfheal_alerts_unmatched_total{alertname}. */
const unmatchedCount = (metrics: Metrics, alertname = 'CheckoutErrors') =>
  counter(metrics, 'selfheal_alerts_unmatched_total', `alertname="${alertname}"`);

const created = (a: ReceivedAlert, namespace = NAMESPACE, episode = 1): IntakeOutcome => ({
  alertname: a.labels.alertname ?? '',
  fingerprint: a.fingerprint,
  result: 'created',
  namespace,
  incident: incidentNameFor(a, episode),
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

    const name = incidentNameFor(a, 1);
    expect(name).toBe('checkout-errors-c1a2b3d4e5f60718-1');
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
            labels: {
              'selfheal.dev/fingerprint': FP,
              'selfheal.dev/episode': '1',
              'selfheal.dev/alertname': 'CheckoutErrors',
            },
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
  const invalidTarget =
    'label "deployment" (spec.target.nameFromLabel) is "Checkout_API", not a valid Deployment name: ' +
    "a DNS-1123 subdomain is lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";

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
      name: 'target label missing: no target, the reason in the description and the target-problem annotation',
      alert: firing({ without: ['deployment'] }),
      expected: {
        severity: 'P1',
        title: 'checkout returns 500s',
        description: missingTarget,
        targetProblem: missingTarget,
      },
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
        targetProblem: missingTarget,
      },
    },
    {
      name: 'target label not a valid name: no target, the reason in the description',
      alert: firing({ labels: { deployment: 'Checkout_API' } }),
      expected: {
        severity: 'P1',
        title: 'checkout returns 500s',
        description: invalidTarget,
        targetProblem: invalidTarget,
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

    expect(store.get(NAMESPACE, incidentNameFor(a, 1))?.spec.public).toStrictEqual({
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

    expect(store.get(NAMESPACE, incidentNameFor(a, 1))?.spec.public).toStrictEqual({
      updates: [{ time: T0.toISOString(), status: 'investigating', message: template.message }],
    });
  });

  it('no template, no public side: the incident stays off the status page', async () => {
    const { intake, store } = setup();
    const a = firing();

    await intake.ingest([a], 'alertmanager');

    expect(store.get(NAMESPACE, incidentNameFor(a, 1))?.spec).not.toHaveProperty('public');
  });
});

describe('AlertIntake: duplicates of a firing', () => {
  it('the same alert again, the API server already has it (409): duplicate, stored incident unchanged', async () => {
    const a = firing();
    const first = setup();
    await first.intake.ingest([a], 'alertmanager');
    const stored = first.store.get(NAMESPACE, incidentNameFor(a, 1));
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
        incident: incidentNameFor(a, 1),
      },
    ]);
    expect(store.calls.map((c) => c.op)).toStrictEqual(['create']);
    expect(store.get(NAMESPACE, incidentNameFor(a, 1))).toStrictEqual({
      ...stored,
      status: { phase: 'Remediating' },
    });
  });

  it('the same alert twice in one call: created, then duplicate', async () => {
    const { intake, store } = setup();
    const a = firing();

    const outcomes = await intake.ingest([a, a], 'alertmanager');

    expect(outcomes.map((o) => o.result)).toStrictEqual(['created', 'duplicate']);
    expect(outcomes[1]?.incident).toBe(incidentNameFor(a, 1));
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

  it.each<{ name: string; other: Incident; episode: number }>([
    {
      name: 'another fingerprint',
      other: existing({ fingerprint: OTHER_FP, name: 'other-signal', phase: 'Remediating' }),
      episode: 1,
    },
    {
      name: 'another namespace',
      other: existing({ namespace: 'payments', name: 'elsewhere', phase: 'Remediating' }),
      episode: 1,
    },
    // The signal's episode 1 is over: this firing is its episode 2.
    {
      name: 'the same signal, Resolved',
      other: existing({ phase: 'Resolved', resolvedAt: iso(-3 * HOUR) }),
      episode: 2,
    },
    {
      name: 'the same signal, Closed',
      other: existing({ phase: 'Closed', resolvedAt: iso(-3 * HOUR) }),
      episode: 2,
    },
  ])('an incident of $name does not make a firing a duplicate: created, episode $episode', async (c) => {
    const { intake, store } = setup({ incidents: [c.other] });
    const a = firing();

    expect(await intake.ingest([a], 'alertmanager')).toStrictEqual([created(a, NAMESPACE, c.episode)]);
    expect(store.calls).toStrictEqual([{ op: 'create', incident: checkoutIncident(a, c.episode) }]);
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
        // A new episode of the signal, after the one that is over.
        expect(outcomes).toStrictEqual([created(a, NAMESPACE, 2)]);
        expect(store.calls).toStrictEqual([{ op: 'create', incident: checkoutIncident(a, 2) }]);
        break;
    }
  });

  it("the alert's own incident, resolved by automation, sent again: duplicate, nothing written, not a recurrence", async () => {
    const own = existing({
      startsAt: S1,
      phase: 'Resolved',
      resolvedBy: 'RemediatedAndVerified',
      resolvedAt: iso(-MINUTE),
    });
    const { intake, store } = setup({ incidents: [own] });
    const a = firing();
    expect(own.metadata.name).toBe(incidentNameFor(a, 1));

    const outcomes = await intake.ingest([a], 'alertmanager');

    expect(outcomes.map((o) => [o.result, o.incident])).toStrictEqual([['duplicate', own.metadata.name]]);
    expect(store.calls).toStrictEqual([]);
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
    cachedOnly?: Incident[];
    unmatchedNamespace?: string;
    outcome: Omit<IntakeOutcome, 'alertname' | 'fingerprint'>;
    calls: { namespace: string; name: string; annotations: Record<string, string> }[];
  }>([
    {
      name: 'its incident exists: signal-cleared-at = endsAt',
      alert: resolved({ endsAt: ENDS }),
      incidents: [existing({ startsAt: S1, phase: 'Verifying' })],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: episodeName(1) },
      calls: [
        {
          namespace: NAMESPACE,
          name: episodeName(1),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'no endsAt: cleared at the clock time',
      alert: { ...resolved(), endsAt: undefined },
      incidents: [existing({ startsAt: S1, phase: 'Verifying' })],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: episodeName(1) },
      calls: [
        {
          namespace: NAMESPACE,
          name: episodeName(1),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: T0.toISOString() },
        },
      ],
    },
    {
      name: 'its incident is not in the cache: unknown-incident, nothing written',
      alert: resolved({ endsAt: ENDS }),
      incidents: [],
      outcome: { result: 'unknown-incident', note: 'no incident was raised for this alert' },
      calls: [],
    },
    {
      name: 'its incident was deleted (404 on the write): unknown-incident',
      alert: resolved({ endsAt: ENDS }),
      incidents: [],
      cachedOnly: [existing({ startsAt: S1, phase: 'Verifying' })],
      outcome: { result: 'unknown-incident', note: 'no incident was raised for this alert' },
      calls: [
        { namespace: NAMESPACE, name: episodeName(1), annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS } },
      ],
    },
    {
      name: 'already cleared at this endsAt (Alertmanager repeats itself): cleared, nothing written',
      alert: resolved({ endsAt: ENDS }),
      incidents: [
        existing({ startsAt: S1, phase: 'Verifying', annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS } }),
      ],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: episodeName(1) },
      calls: [],
    },
    {
      name: 'no incident of this start (another source saw another start): cleared on the open episode',
      alert: resolved({ startsAt: iso(-7 * MINUTE), endsAt: ENDS }),
      incidents: [
        existing({ startsAt: iso(-3 * HOUR), phase: 'Closed' }),
        existing({ episode: 2, startsAt: S1, phase: 'Escalated' }),
      ],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: episodeName(2) },
      calls: [
        { namespace: NAMESPACE, name: episodeName(2), annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS } },
      ],
    },
    {
      name: 'only closed episodes, none of this start: unknown-incident, nothing written',
      alert: resolved({ endsAt: ENDS }),
      incidents: [existing({ startsAt: iso(-3 * HOUR), phase: 'Closed' })],
      outcome: { result: 'unknown-incident', note: 'no incident was raised for this alert' },
      calls: [],
    },
    {
      name: 'a closed episode of this very start: cleared on it',
      alert: resolved({ endsAt: ENDS }),
      incidents: [existing({ startsAt: S1, phase: 'Closed' })],
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: episodeName(1) },
      calls: [
        { namespace: NAMESPACE, name: episodeName(1), annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS } },
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
      outcome: { result: 'cleared', namespace: NAMESPACE, incident: episodeName(1) },
      calls: [
        {
          namespace: NAMESPACE,
          name: episodeName(1),
          annotations: { [SIGNAL_CLEARED_ANNOTATION]: ENDS },
        },
      ],
    },
    {
      name: 'an escalation-only incident: found in the unmatched namespace',
      alert: resolved({ endsAt: ENDS }),
      incidents: [existing({ startsAt: S1, namespace: UNMATCHED_NS, phase: 'Escalated' })],
      unmatchedNamespace: UNMATCHED_NS,
      outcome: { result: 'cleared', namespace: UNMATCHED_NS, incident: episodeName(1) },
      calls: [
        {
          namespace: UNMATCHED_NS,
          name: episodeName(1),
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
      ...(c.cachedOnly ? { cachedOnly: c.cachedOnly } : {}),
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

  it('a namespace whose regexes cost more than one alert may: unmatched, and the note says why', async () => {
    // 40 policies of 16 matchers, each about 1,800 RE2 instructions run over a 1,000-character value:
    // about a billion steps in all, past ALERT_MATCH_BUDGET long before the last.
    const costly = Array.from({ length: 40 }, (_, p) => ({
      ...checkoutPolicy({
        match: {
          alertName: 'CheckoutErrors',
          labels: Array.from({ length: 16 }, (_, m) => ({
            name: 'pod',
            operator: '!~' as const,
            value: `[ab]*a[ab]{${600 + m}}x${p}`,
          })),
        },
      }),
      metadata: { name: `costly-${p}`, namespace: NAMESPACE },
    }));
    const { intake, store, metrics } = setup({ policies: costly });
    const started = performance.now();

    const outcomes = await intake.ingest([firing({ labels: { pod: 'ab'.repeat(500) } })], 'alertmanager');

    expect(performance.now() - started).toBeLessThan(2_000);
    expect(outcomes).toStrictEqual([
      {
        alertname: 'CheckoutErrors',
        fingerprint: FP,
        result: 'unmatched',
        note: `matching stopped: the regular expressions of the RemediationPolicies in namespace ${NAMESPACE} cost more than one alert may (simplify their patterns)`,
      },
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
          incident: incidentNameFor(a, 1),
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
  ])('$name: ingest does not throw, the alert is failed (the sender retries)', async (c) => {
    const { intake, store, metrics } = setup(c.setup);
    const error = outage();
    store.failWith(error);

    const outcomes = await intake.ingest([c.alert], 'alertmanager');

    expect(outcomes).toStrictEqual([
      { alertname: 'CheckoutErrors', fingerprint: FP, result: 'failed', note: error.message },
    ]);
    expect(store.calls.map((call) => call.op)).toStrictEqual([c.op]);
    expect(await counter(metrics, 'selfheal_alerts_total', 'source="alertmanager",result="failed"')).toBe(1);
  });

  const apiError = (code: number) => new ApiException(code, `HTTP ${code}`, { code }, {});

  it.each<{ name: string; error: unknown; result: 'failed' | 'refused' }>([
    { name: 'no HTTP status (the connection failed)', error: outage(), result: 'failed' },
    { name: 'a thrown non-Error', error: 'socket hang up', result: 'failed' },
    { name: '500', error: apiError(500), result: 'failed' },
    { name: '503', error: apiError(503), result: 'failed' },
    { name: '504', error: apiError(504), result: 'failed' },
    { name: '429 (throttled)', error: apiError(429), result: 'failed' },
    { name: '401 (credentials being rolled out)', error: apiError(401), result: 'failed' },
    { name: '403 (RBAC being rolled out)', error: apiError(403), result: 'failed' },
    { name: '400', error: apiError(400), result: 'refused' },
    { name: '404 (the namespace is gone)', error: apiError(404), result: 'refused' },
    { name: '422 (the Incident is invalid)', error: apiError(422), result: 'refused' },
  ])('a write that fails with $name is $result', async (c) => {
    const { intake, store, metrics } = setup();
    store.failWith(c.error);

    const [outcome] = await intake.ingest([firing()], 'prometheus');

    expect(outcome).toMatchObject({ alertname: 'CheckoutErrors', fingerprint: FP, result: c.result });
    expect(outcome?.note).toEqual(expect.any(String));
    expect(outcome?.note).not.toBe('');
    expect(await counter(metrics, 'selfheal_alerts_total', `source="prometheus",result="${c.result}"`)).toBe(
      1,
    );
  });

  it('fails part-way through a notification: each alert has its own outcome, the written ones stay written', async () => {
    const { intake, store } = setup({ concurrency: 1 });
    const error = outage();
    store.failWith(error, 1);
    const a = firing();
    const b = firing({ fingerprint: OTHER_FP, labels: { deployment: 'cart' } });
    const c = firing({ fingerprint: 'ffeeddccbbaa9988' });

    const outcomes = await intake.ingest([a, b, c], 'alertmanager');

    expect(outcomes).toStrictEqual([
      created(a),
      { alertname: 'CheckoutErrors', fingerprint: OTHER_FP, result: 'failed', note: error.message },
      { alertname: 'CheckoutErrors', fingerprint: 'ffeeddccbbaa9988', result: 'failed', note: error.message },
    ]);
    expect(
      store.calls.map((call) => (call.op === 'create' ? call.incident.metadata.name : call.op)),
    ).toStrictEqual([incidentNameFor(a, 1), incidentNameFor(b, 1), incidentNameFor(c, 1)]);
    expect([...store.incidents.keys()]).toStrictEqual([`${NAMESPACE}/${incidentNameFor(a, 1)}`]);
  });
});

describe('AlertIntake: several alerts in one call', () => {
  it('answers one outcome per alert, in order', async () => {
    const open = existing({ fingerprint: OTHER_FP, name: 'cart-errors-open', phase: 'Remediating' });
    const { intake, store, metrics } = setup({ incidents: [open] });
    const a = firing();
    const noNamespace = firing({ without: ['namespace'], fingerprint: 'ffeeddccbbaa9988' });
    const openDuplicate = firing({ fingerprint: OTHER_FP, labels: { deployment: 'cart' } });
    const openResolved = resolved({
      fingerprint: OTHER_FP,
      labels: { deployment: 'cart' },
      endsAt: iso(-MINUTE),
    });
    const unknown = resolved({ fingerprint: '0123456789abcdef' });

    const outcomes = await intake.ingest(
      [a, noNamespace, openDuplicate, a, openResolved, unknown],
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
      // The informer has not seen the first one yet: the API server's 409 says it exists.
      { ...created(a), result: 'duplicate' },
      {
        alertname: 'CheckoutErrors',
        fingerprint: OTHER_FP,
        result: 'cleared',
        namespace: NAMESPACE,
        incident: 'cart-errors-open',
      },
      {
        alertname: 'CheckoutErrors',
        fingerprint: '0123456789abcdef',
        result: 'unknown-incident',
        note: 'no incident was raised for this alert',
      },
    ]);
    // Alerts of different signals are taken at once: the calls interleave.
    expect(store.calls.map((c) => c.op).sort()).toStrictEqual(['annotate', 'create', 'create']);
    expect(store.get(NAMESPACE, 'cart-errors-open')?.metadata.annotations).toStrictEqual({
      [SIGNAL_CLEARED_ANNOTATION]: iso(-MINUTE),
    });
    expect(await unmatchedCount(metrics)).toBe(1);
  });

  it('an empty list: no outcomes, nothing written', async () => {
    const { intake, store } = setup();
    expect(await intake.ingest([], 'alertmanager')).toStrictEqual([]);
    expect(store.calls).toStrictEqual([]);
  });

  const distinct = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      firing({ fingerprint: `${i}`.padStart(16, 'a'), labels: { deployment: `shop-${i}` } }),
    );

  it.each<{ name: string; concurrency?: number; alerts: number; expected: number }>([
    { name: 'the default of 8', alerts: 12, expected: 8 },
    { name: 'concurrency 3', concurrency: 3, alerts: 7, expected: 3 },
    { name: 'concurrency 1 (one after the other)', concurrency: 1, alerts: 4, expected: 1 },
    { name: 'fewer alerts than the bound', concurrency: 8, alerts: 2, expected: 2 },
  ])('writes alerts of different signals at once, at most $name', async (c) => {
    const { intake, store } = setup({
      slowStore: true,
      ...(c.concurrency ? { concurrency: c.concurrency } : {}),
    });
    const alerts = distinct(c.alerts);

    const outcomes = await intake.ingest(alerts, 'alertmanager');

    expect(store.maxInFlight).toBe(c.expected);
    expect(outcomes).toStrictEqual(alerts.map((a) => created(a)));
  });

  it('takes the alerts of one signal one after the other, the others meanwhile', async () => {
    const { intake, store } = setup({ slowStore: true });
    const first = firing({ startsAt: iso(-9 * MINUTE) });
    const second = firing({ startsAt: iso(-8 * MINUTE) });
    const third = firing({ startsAt: iso(-7 * MINUTE) });
    const others = distinct(3);

    const outcomes = await intake.ingest([first, ...others, second, third], 'alertmanager');

    expect(store.maxInFlightBySignal.get(FP)).toBe(1);
    expect(store.maxInFlight).toBeGreaterThan(1);
    expect(outcomes.map((o) => o.result)).toStrictEqual([
      'created',
      'created',
      'created',
      'created',
      'duplicate',
      'duplicate',
    ]);
  });
});

describe('AlertIntake: episodes of a signal', () => {
  const S2 = iso(-MINUTE);
  const base = { alertname: 'CheckoutErrors', fingerprint: FP, namespace: NAMESPACE };

  it.each<{ name: string; incidents: Incident[]; episode: number }>([
    { name: 'no incident of the signal yet: episode 1', incidents: [], episode: 1 },
    {
      name: 'episode 1 resolved by a person: episode 2',
      incidents: [
        existing({ phase: 'Resolved', resolvedBy: 'ResolvedByPerson', resolvedAt: iso(-5 * MINUTE) }),
      ],
      episode: 2,
    },
    {
      name: 'episodes 1 and 2 closed: episode 3',
      incidents: [
        existing({ phase: 'Closed', startsAt: iso(-5 * HOUR) }),
        existing({ episode: 2, phase: 'Closed', startsAt: iso(-3 * HOUR) }),
      ],
      episode: 3,
    },
    {
      name: 'episodes 2 and 10 closed (in numeric order, not text order): episode 11',
      incidents: [
        existing({ episode: 10, phase: 'Closed', startsAt: iso(-3 * HOUR) }),
        existing({ episode: 2, phase: 'Closed', startsAt: iso(-5 * HOUR) }),
      ],
      episode: 11,
    },
    {
      name: 'an incident from before episodes (no label), closed: episode 1',
      incidents: [existing({ episode: null, phase: 'Closed' })],
      episode: 1,
    },
    {
      name: 'an automated fix outside the recurrence window: a new episode, not a reopen',
      incidents: [
        existing({ phase: 'Closed', resolvedBy: 'RemediatedAndVerified', resolvedAt: iso(-2 * HOUR) }),
      ],
      episode: 2,
    },
  ])('a new firing when $name', async (c) => {
    const { intake, store } = setup({ incidents: c.incidents });
    const a = firing({ startsAt: S2 });

    const outcomes = await intake.ingest([a], 'alertmanager');

    expect(outcomes).toStrictEqual([created(a, NAMESPACE, c.episode)]);
    expect(incidentNameFor(a, c.episode)).toBe(`checkout-errors-${FP}-${c.episode}`);
    expect(store.calls).toStrictEqual([{ op: 'create', incident: checkoutIncident(a, c.episode) }]);
  });

  it.each<{ name: string; incidents: Incident[]; startsAt: string; incident: string }>([
    {
      name: 'an older, closed episode of this start (a late repeat)',
      incidents: [
        existing({ phase: 'Closed', startsAt: S1 }),
        existing({ episode: 2, phase: 'Remediating', startsAt: S2 }),
      ],
      startsAt: S1,
      incident: episodeName(1),
    },
    {
      name: 'the start written with another precision',
      incidents: [existing({ phase: 'Closed', startsAt: '2026-03-02T08:50:00Z' })],
      startsAt: '2026-03-02T08:50:00.000Z',
      incident: episodeName(1),
    },
    {
      name: 'the start written with an offset',
      incidents: [existing({ phase: 'Closed', startsAt: '2026-03-02T09:50:00+01:00' })],
      startsAt: '2026-03-02T08:50:00.000Z',
      incident: episodeName(1),
    },
    {
      name: 'an incident this start reopened (recurred-at)',
      incidents: [
        existing({
          phase: 'Escalated',
          startsAt: iso(-2 * HOUR),
          annotations: { [RECURRED_ANNOTATION]: S2 },
        }),
      ],
      startsAt: S2,
      incident: episodeName(1),
    },
    {
      name: 'an incident from before episodes, of this start',
      incidents: [existing({ episode: null, phase: 'Closed', startsAt: S1 })],
      startsAt: S1,
      incident: 'checkout-errors-legacy',
    },
  ])('a firing already taken by $name: duplicate, nothing written', async (c) => {
    const { intake, store } = setup({ incidents: c.incidents });

    const outcomes = await intake.ingest([firing({ startsAt: c.startsAt })], 'alertmanager');

    expect(outcomes).toStrictEqual([{ ...base, result: 'duplicate', incident: c.incident }]);
    expect(store.calls).toStrictEqual([]);
  });

  it('another replica made the next episode first (409): duplicate, naming it', async () => {
    const over = existing({ phase: 'Closed', startsAt: iso(-3 * HOUR) });
    const a = firing({ startsAt: S2 });
    const { intake, store } = setup({ incidents: [over], storedOnly: [{ ...checkoutIncident(a, 2) }] });

    const outcomes = await intake.ingest([a], 'alertmanager');

    expect(outcomes).toStrictEqual([{ ...base, result: 'duplicate', incident: episodeName(2) }]);
    expect(store.calls.map((c) => c.op)).toStrictEqual(['create']);
  });

  it('two replicas racing on one API server, their informers behind: one incident, one created', async () => {
    const over = existing({ phase: 'Closed', startsAt: iso(-3 * HOUR) });
    const one = setup({ incidents: [over] });
    const two = setup({ incidents: [over], store: one.store });
    // Alertmanager (when the alert fired) and the Prometheus poller (when it became active) disagree.
    const fromAlertmanager = firing({ startsAt: S2 });
    const fromPrometheus = firing({ startsAt: iso(-90 * 1000) });

    const [first, second] = await Promise.all([
      one.intake.ingest([fromAlertmanager], 'alertmanager'),
      two.intake.ingest([fromPrometheus], 'prometheus'),
    ]);

    expect([first[0]?.result, second[0]?.result].sort()).toStrictEqual(['created', 'duplicate']);
    expect([first[0]?.incident, second[0]?.incident]).toStrictEqual([episodeName(2), episodeName(2)]);
    expect([...one.store.incidents.keys()].sort()).toStrictEqual(
      [`${NAMESPACE}/${episodeName(1)}`, `${NAMESPACE}/${episodeName(2)}`].sort(),
    );
  });

  it('once the informer has the new episode, another start of the same firing is its duplicate', async () => {
    const over = existing({ phase: 'Closed', startsAt: iso(-3 * HOUR) });
    const { intake, store, sync } = setup({ incidents: [over] });
    await intake.ingest([firing({ startsAt: S2 })], 'alertmanager');
    sync();

    const outcomes = await intake.ingest([firing({ startsAt: iso(-90 * 1000) })], 'prometheus');

    expect(outcomes).toStrictEqual([{ ...base, result: 'duplicate', incident: episodeName(2) }]);
    expect(store.calls.map((c) => c.op)).toStrictEqual(['create']);
  });

  it('a resolved alert clears the episode its firing created, not an older one', async () => {
    const over = existing({ phase: 'Closed', startsAt: iso(-3 * HOUR) });
    const { intake, store, sync } = setup({ incidents: [over] });
    await intake.ingest([firing({ startsAt: S2 })], 'alertmanager');
    sync();

    const outcomes = await intake.ingest(
      [resolved({ startsAt: S2, endsAt: T0.toISOString() })],
      'alertmanager',
    );

    expect(outcomes).toStrictEqual([{ ...base, result: 'cleared', incident: episodeName(2) }]);
    expect(store.get(NAMESPACE, episodeName(2))?.metadata.annotations).toStrictEqual({
      [SIGNAL_CLEARED_ANNOTATION]: T0.toISOString(),
    });
    expect(store.get(NAMESPACE, episodeName(1))?.metadata.annotations).toBeUndefined();
  });
});
