// Every status decide() produces fits the Incident CRD's schema, whatever a tenant wrote (long
// titles, a long but valid PromQL, notes, unicode) and whatever the world answered (long errors,
// receiver answers, job messages, many context facts), over several passes. The schema is the one
// the API server validates with: the generated CRD's openAPIV3Schema. CEL rules
// (x-kubernetes-validations) are not checkable by ajv and are left out; the few status fields they
// would touch are not written by decide.
import { describe, expect, it } from '@jest/globals';
import { Ajv, type ErrorObject } from 'ajv';
import ajvFormats from 'ajv-formats';
import fc from 'fast-check';
import { SEVERITIES } from '../../src/api/group.ts';
import { incidentCrd } from '../../src/api/crds.ts';
import {
  IncidentStatus,
  MAX_ATTEMPTS,
  type Attempt,
  type Incident,
  type IncidentSpec,
} from '../../src/api/incident.ts';
import type { Action, Receiver } from '../../src/api/remediation.ts';
import { ELLIPSIS, fitToSchema, trimText, trimUtf8 } from '../../src/api/trim.ts';
import type { Workload } from '../../src/actions/workload.ts';
import type { DeliveryObservation, Observations, Plan } from '../../src/incidents/decide/index.ts';
import {
  MINUTE,
  SECOND,
  at,
  deployment,
  incident,
  iso,
  observations,
  otherClaim,
  queueDrain,
  restart,
  run,
  scaleBy,
  settings,
  target,
  verification,
  withSpec,
  withStatus,
  written,
} from './fixtures.ts';

/** The schema without the Kubernetes extensions ajv does not know (CEL rules, list types). */
function withoutKubernetesKeys(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutKubernetesKeys);
  if (typeof schema !== 'object' || schema === null) return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => !key.startsWith('x-kubernetes-'))
      .map(([key, value]) => [key, withoutKubernetesKeys(value)]),
  );
}

const crdSchema = incidentCrd.spec.versions[0]?.schema.openAPIV3Schema;
if (!crdSchema) throw new Error('the Incident CRD has no schema');
const ajv = new Ajv({ allErrors: true, strict: false });
// ajv-formats is CommonJS: its module object is the plugin, and carries it again as `default`.
ajvFormats.default(ajv);
const validateStatus = ajv.compile(withoutKubernetesKeys(crdSchema.properties.status) as object);
const validateSpec = ajv.compile(withoutKubernetesKeys(crdSchema.properties.spec) as object);

const problems = (errors: ErrorObject[] | null | undefined): string[] =>
  (errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);

function expectValidStatus(plan: Plan): void {
  const valid = validateStatus(plan.status);
  if (!valid) throw new Error(`status does not fit the CRD: ${problems(validateStatus.errors).join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// Text: short and long, ASCII and not, with surrogate pairs, control characters and combining marks.
// ---------------------------------------------------------------------------------------------

/** Code points ≤ the count, as the API server and ajv count: cut on UTF-16 units is never longer. */
const upTo = (max: number) => (s: string) => s.slice(0, max);

function text(max: number, min = 0): fc.Arbitrary<string> {
  const piece = fc.oneof(
    fc.string({ maxLength: 16 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.constantFrom('😀', '👩‍👩‍👧', 'é', '\u0301', '\u001b[2J', '\r', '\n', 'ß', '字'),
  );
  const long = fc
    .tuple(piece, fc.integer({ min: 1, max: Math.max(1, Math.ceil(max / 4)) }))
    .map(([p, n]) => p.repeat(n));
  return fc
    .oneof({ weight: 1, arbitrary: piece }, { weight: 2, arbitrary: long })
    .map(upTo(max))
    .filter((s) => s.length >= min);
}

const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
const person = text(253, 1);

const receiver: fc.Arbitrary<Receiver> = fc.record({
  name: dnsLabel,
  type: fc.constantFrom('pagerduty', 'slack', 'webhook'),
  secretRef: fc.constant({ name: 'receivers', key: 'url' }),
});

const actions: fc.Arbitrary<Action[]> = fc.array(fc.constantFrom(restart, scaleBy(1), queueDrain), {
  minLength: 1,
  maxLength: 10,
});

const spec: fc.Arbitrary<Partial<IncidentSpec>> = fc.record(
  {
    severity: fc.constantFrom(...SEVERITIES),
    title: text(200, 1),
    description: text(4096),
    actions,
    dryRun: fc.boolean(),
    verification: fc.record(
      {
        promQL: text(4096, 1),
        holdFor: fc.constantFrom('30s', '15m'),
        alertResolved: fc.boolean(),
        timeout: fc.constantFrom('1m', '30m'),
        http: fc.record({
          service: fc.record({
            name: dnsLabel,
            port: fc.integer({ min: 1, max: 65535 }),
            path: text(1023).map((p) => `/${p}`),
            scheme: fc.constantFrom('http' as const, 'https' as const),
          }),
          expectedStatus: fc.constant(200),
          interval: fc.constant('10s'),
          timeout: fc.constant('5s'),
          holdFor: fc.constantFrom('10s', '1m'),
        }),
      },
      { requiredKeys: ['holdFor', 'alertResolved', 'timeout'] },
    ),
    escalation: fc.record({
      levels: fc.array(
        fc.record({
          after: fc.constantFrom('0s', '5m'),
          receivers: fc.uniqueArray(receiver, { minLength: 1, maxLength: 10, selector: (r) => r.name }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
    }),
    roles: fc.record({ incidentCommander: person, scribe: person }, { requiredKeys: [] }),
    updates: fc.array(fc.record({ time: fc.constant(iso(0)), author: person, message: text(2048, 1) }), {
      maxLength: 5,
    }),
  },
  { requiredKeys: ['severity', 'title'] },
);

/** What a person may write on a later pass: take it, resolve it. */
const personEdit: fc.Arbitrary<Partial<IncidentSpec> | undefined> = fc.option(
  fc.oneof(
    fc.record({ acknowledgedBy: person }),
    fc.record({ resolution: fc.record({ resolvedBy: person, note: text(4096) }) }),
  ),
);

// ---------------------------------------------------------------------------------------------
// The world as each pass observes it.
// ---------------------------------------------------------------------------------------------

type WorkloadShape = 'asWritten' | 'rolledOut' | 'failed' | 'missing';

interface Step {
  advanceMs: number;
  workload: WorkloadShape;
  promQL: Observations['promQL'];
  http: Observations['http'];
  pause: Observations['pause'];
  claimedByOther: boolean;
  context: string[] | undefined;
  job: Observations['job'];
  delivery: { outcome: DeliveryObservation['outcome']; message: string } | undefined;
  followedMessage: string | undefined;
  storm: number;
  edit: Partial<IncidentSpec> | undefined;
}

const step: fc.Arbitrary<Step> = fc.record({
  advanceMs: fc.constantFrom(SECOND, 30 * SECOND, 5 * MINUTE, 31 * MINUTE, 3 * 60 * MINUTE),
  workload: fc.constantFrom<WorkloadShape>('asWritten', 'rolledOut', 'failed', 'missing'),
  promQL: fc.option(
    fc.oneof(
      fc.record({ ok: fc.constant(true as const), holds: fc.boolean() }),
      fc.record({ ok: fc.constant(false as const), error: text(8192) }),
    ),
    { nil: undefined },
  ),
  http: fc.option(
    fc.oneof(
      fc.record({ passed: fc.constant(true as const), message: text(4096) }),
      fc.record({
        passed: fc.constant(false as const),
        reason: fc.constant('UnexpectedStatus' as const),
        message: text(4096),
      }),
    ),
    { nil: undefined },
  ),
  pause: fc.option(fc.record({ reason: text(2048) }), { nil: undefined }),
  claimedByOther: fc.boolean(),
  context: fc.option(fc.array(text(1024), { maxLength: 20 }), { nil: undefined }),
  job: fc.option(
    fc.oneof(
      fc.record({
        state: fc.constant('running' as const),
        done: fc.nat(100),
        total: fc.integer({ min: 1, max: 100 }),
        message: text(4096),
      }),
      fc.record({ state: fc.constant('succeeded' as const), skipped: fc.boolean(), message: text(4096) }),
      fc.record({
        state: fc.constant('failed' as const),
        reason: fc.constant('QueueError'),
        message: text(4096),
      }),
    ),
    { nil: undefined },
  ),
  delivery: fc.option(
    fc.record({
      outcome: fc.constantFrom<DeliveryObservation['outcome']>('delivered', 'retry', 'failed', 'skipped'),
      message: text(8192),
    }),
    { nil: undefined },
  ),
  followedMessage: fc.option(text(32768, 1), { nil: undefined }),
  storm: fc.integer({ min: 1, max: 20 }),
  edit: personEdit,
});

/** The workload after its rollout finished: the controller observed the generation the effect made. */
function rolledOut(workload: Workload): Workload {
  const object = structuredClone(workload.object) as {
    metadata: { generation?: number };
    status?: Record<string, unknown>;
    spec?: { replicas?: number };
  };
  const replicas = object.spec?.replicas ?? 2;
  object.status = {
    ...object.status,
    observedGeneration: object.metadata.generation,
    replicas,
    updatedReplicas: replicas,
    availableReplicas: replicas,
  };
  return { kind: workload.kind, object } as Workload;
}

/** The incident the followed claim names, as its own status says it ended. */
function followedIncident(message: string): Incident {
  return incident({
    metadata: { name: otherClaim().claim.incident, uid: otherClaim().claim.uid },
    status: {
      conditions: [
        {
          type: 'Escalated',
          status: 'True',
          reason: 'MaxAttemptsExhausted',
          message,
          lastTransitionTime: iso(0),
        },
      ],
    },
  });
}

/** Runs the passes, each on the status the last one wrote, and checks every status produced. */
function runPasses(start: Incident, steps: Step[]): void {
  let current = start;
  let workload: Workload | undefined = deployment();
  let offset = 0;
  for (const s of steps) {
    offset += s.advanceMs;
    if (s.edit) current = withSpec(current, s.edit);
    if (s.workload === 'missing') workload = undefined;
    else if (s.workload === 'rolledOut') workload = rolledOut(workload ?? deployment());
    else if (s.workload === 'failed') workload = deployment({ rollout: 'failed' });
    const delivery: DeliveryObservation | undefined = s.delivery && { ...s.delivery, at: at(offset) };
    const deliveries = new Map<string, DeliveryObservation>(
      delivery ? (current.status?.notifications ?? []).map((n) => [n.id, delivery]) : [],
    );
    const obs = observations(at(offset), {
      target: target(workload),
      incidentsInStormWindow: s.storm,
      ...(s.promQL ? { promQL: s.promQL } : {}),
      ...(s.http ? { http: s.http } : {}),
      ...(s.pause ? { pause: s.pause } : {}),
      ...(s.claimedByOther ? { claim: otherClaim() } : {}),
      ...(s.context ? { context: s.context } : {}),
      ...(s.job ? { job: s.job } : {}),
      ...(deliveries.size ? { deliveries } : {}),
      ...(current.status?.following
        ? { followed: s.followedMessage ? followedIncident(s.followedMessage) : null }
        : {}),
    });
    let plan = run(current, obs, settings());
    expectValidStatus(plan);
    current = withStatus(current, plan.status);
    if (plan.effect && workload) {
      // The reconciler applies the effect and decides again on the workload as written.
      workload = written(workload, plan.effect);
      plan = run(current, { ...obs, target: target(workload) }, settings());
      expectValidStatus(plan);
      current = withStatus(current, plan.status);
    }
  }
}

describe('status property: every status decide() produces fits the CRD schema', () => {
  it('holds for generated incidents, observations and outcomes over several passes', () => {
    fc.assert(
      fc.property(spec, fc.array(step, { minLength: 1, maxLength: 8 }), (specFields, steps) => {
        const inc = incident({ spec: specFields });
        // The generated spec is one the API server accepts (CEL rules aside).
        if (!validateSpec(inc.spec))
          throw new Error(`the generated spec is invalid: ${problems(validateSpec.errors).join('; ')}`);
        runPasses(inc, steps);
      }),
      { numRuns: 150 },
    );
  });

  it('escalates an incident whose long, valid PromQL never holds (it was stuck in Remediating)', () => {
    const promQL = `sum(rate(http_requests_total{job="checkout",path=~"${'/a'.repeat(600)}"}[5m])) < 1`;
    expect(promQL.length).toBeGreaterThan(1_200);
    const inc = incident({
      spec: { verification: verification({ promQL, holdFor: '30s', timeout: '15s' }) },
    });
    const first = run(inc, observations(at(0)));
    let current = withStatus(inc, first.status);
    if (!first.effect) throw new Error('the first pass plans no restart');
    const workload = written(deployment(), first.effect);
    current = withStatus(current, run(current, observations(at(0), { target: target(workload) })).status);
    const verifying = run(
      current,
      observations(at(SECOND), { target: target(rolledOut(workload)), promQL: { ok: true, holds: false } }),
    );
    expectValidStatus(verifying);
    expect(verifying.status.phase).toBe('Verifying');
    expect(verifying.status.verification?.message?.endsWith(ELLIPSIS)).toBe(true);
    current = withStatus(current, verifying.status);
    const late = run(
      current,
      observations(at(20 * SECOND), {
        target: target(rolledOut(workload)),
        promQL: { ok: true, holds: false },
      }),
    );
    expectValidStatus(late);
    expect(late.status.phase).toBe('Escalated');
  });

  it('refuses a new attempt once the status records as many as it holds', () => {
    const attempts: Attempt[] = Array.from({ length: MAX_ATTEMPTS }, (_, i) => ({
      id: `attempt-${i + 1}`,
      action: 'rolloutRestart',
      startedAt: iso(0),
      finishedAt: iso(0),
      result: 'Refused',
      message: 'not applied: held by the pause until its deadline',
    }));
    const inc = incident({ status: { phase: 'Open', openedAt: iso(0), attempts } });
    const plan = run(inc, observations(at(MINUTE)));
    expectValidStatus(plan);
    expect(plan.effect).toBeUndefined();
    expect(plan.status.attempts).toHaveLength(MAX_ATTEMPTS);
    expect(plan.status.conditions?.find((c) => c.type === 'Remediated')?.reason).toBe('AttemptRecordFull');
  });
});

describe('the trimmer', () => {
  const anyText = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));

  it('cuts to the limit with an ellipsis, keeps a prefix, and is idempotent', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 1, max: 40 }), (value, max) => {
        const trimmed = trimText(value, max);
        expect(trimmed.length).toBeLessThanOrEqual(max);
        expect(trimText(trimmed, max)).toBe(trimmed);
        if (value.length <= max) expect(trimmed).toBe(value);
        else {
          expect(trimmed.endsWith(ELLIPSIS)).toBe(true);
          expect(value.startsWith(trimmed.slice(0, -ELLIPSIS.length))).toBe(true);
        }
      }),
    );
  });

  it('never splits a surrogate pair', () => {
    const trimmed = trimText('ab😀😀😀', 4);
    expect(trimmed).toBe(`ab${ELLIPSIS}`);
    expect(trimText('a😀b', 3)).toBe(`a${ELLIPSIS}`);
    expect(trimText('😀😀', 3)).toBe(`😀${ELLIPSIS}`);
  });

  it('bounds bytes of UTF-8 for fields the API server counts in bytes', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 3, max: 64 }), (value, max) => {
        const trimmed = trimUtf8(value, max);
        expect(new TextEncoder().encode(trimmed).length).toBeLessThanOrEqual(max);
        expect(trimUtf8(trimmed, max)).toBe(trimmed);
      }),
    );
  });

  it('is driven by the schema: nested strings and lists, the newest items kept', () => {
    const status = {
      timeline: Array.from({ length: 60 }, (_, i) => ({
        time: iso(i),
        type: 'X',
        message: 'm'.repeat(2000),
      })),
      verification: { startedAt: iso(0), message: 'p'.repeat(1250) },
    };
    const fitted = fitToSchema(IncidentStatus, status);
    expect(fitted.timeline).toHaveLength(50);
    expect(fitted.timeline[0]?.time).toBe(iso(10));
    expect(fitted.timeline.every((t) => t.message.length === 1024)).toBe(true);
    expect(fitted.verification.message).toHaveLength(1024);
  });
});
