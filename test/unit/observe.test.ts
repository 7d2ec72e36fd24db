// What the reconciler reads before it decides, from in-memory informer caches: the incident cache's
// indexes, the observations observe() assembles from them (other incidents' attempts, the claim on
// the workload judged against its claimant, the incident followed, the storm window, the pause), and
// the live pause switch.
import { describe, expect, it } from '@jest/globals';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { claimAnnotation, type Claim } from '../../src/actions/claim.ts';
import { targetKey, type TargetRef, type Workload } from '../../src/actions/workload.ts';
import { FINGERPRINT_LABEL } from '../../src/api/group.ts';
import type { Attempt, Incident, IncidentStatus } from '../../src/api/incident.ts';
import type { RemediationPolicy } from '../../src/api/policy.ts';
import { IncidentCache } from '../../src/incidents/cache.ts';
import { observe, observeClaim, type HealthChecker, type ObserveDeps } from '../../src/incidents/observe.ts';
import { PauseSwitch, PAUSE_CONFIGMAP } from '../../src/incidents/pause.ts';
import type { HttpCheck } from '../../src/api/remediation.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import type { HttpObservation } from '../../src/verify/http.ts';
import { CheckProbes } from '../../src/verify/probes.ts';
import type { PromQL } from '../../src/verify/prometheus.ts';
import { MemoryCache } from '../support/memoryCache.ts';
import {
  MINUTE,
  NAMESPACE,
  OTHER,
  UID,
  WORKLOAD,
  at,
  deployment,
  incident,
  iso,
  markerOf,
  policy,
  settings,
  verification,
  withStatus,
} from './fixtures.ts';

const REF: TargetRef = { namespace: NAMESPACE, kind: 'Deployment', name: WORKLOAD };

const attempt = (
  id: string,
  result: Attempt['result'],
  startedAt: string,
  o: Partial<Attempt> = {},
): Attempt => ({
  id,
  action: 'rolloutRestart',
  startedAt,
  result,
  ...o,
});

/** Another incident on the same workload, created at `created`. */
function other(name: string, uid: string, status: IncidentStatus = {}, created = iso(0)): Incident {
  return incident({ metadata: { name, uid, creationTimestamp: created }, status });
}

function deps(o: {
  incidents?: Incident[];
  workload?: Workload;
  namespaceAnnotations?: Record<string, string>;
  policies?: RemediationPolicy[];
  paused?: boolean;
}): ObserveDeps {
  return {
    incidents: new IncidentCache(new MemoryCache(o.incidents ?? [])),
    policies: new MemoryCache(o.policies ?? []),
    workloads: { get: (ref) => (targetKey(ref) === targetKey(REF) ? o.workload : undefined) },
    namespaces: { annotations: (ns) => (ns === NAMESPACE ? (o.namespaceAnnotations ?? {}) : undefined) },
    pause: () => (o.paused ? { reason: 'the --paused setting of the installation' } : undefined),
    settings: settings(),
  };
}

describe('IncidentCache', () => {
  const fp = (i: Incident, value: string) => ({
    ...i,
    metadata: { ...i.metadata, labels: { [FINGERPRINT_LABEL]: value } },
  });

  it('answers by target, fingerprint, policy and followed incident, and follows every change', () => {
    const a = fp(incident({ metadata: { name: 'a', uid: 'ua' } }), 'f1');
    const b = fp(
      incident({
        metadata: { name: 'b', uid: 'ub' },
        spec: { target: { kind: 'StatefulSet', name: 'db' }, actions: undefined, policyRef: { name: 'p' } },
        status: { following: { incident: 'a', uid: 'ua', attempt: 'attempt-1', since: iso(0) } },
      }),
      'f1',
    );
    const elsewhere = { ...a, metadata: { ...a.metadata, namespace: 'payments', name: 'a2' } };
    const informer = new MemoryCache<Incident>([a, b, elsewhere]);
    const cache = new IncidentCache(informer);
    const names = (list: Incident[]) => list.map((i) => i.metadata.name).sort();

    expect(names(cache.byTarget(REF))).toEqual(['a']);
    expect(names(cache.byTarget({ namespace: NAMESPACE, kind: 'StatefulSet', name: 'db' }))).toEqual(['b']);
    expect(names(cache.byFingerprint(NAMESPACE, 'f1'))).toEqual(['a', 'b']);
    expect(names(cache.byFingerprint('payments', 'f1'))).toEqual(['a2']);
    expect(names(cache.byPolicy(NAMESPACE, 'p'))).toEqual(['b']);
    expect(names(cache.followersOf(NAMESPACE, 'a'))).toEqual(['b']);

    informer.put({ ...b, metadata: { ...b.metadata, labels: { [FINGERPRINT_LABEL]: 'f2' } }, status: {} });
    expect(names(cache.byFingerprint(NAMESPACE, 'f1'))).toEqual(['a']);
    expect(names(cache.byFingerprint(NAMESPACE, 'f2'))).toEqual(['b']);
    expect(cache.followersOf(NAMESPACE, 'a')).toEqual([]);

    informer.delete(NAMESPACE, 'a');
    expect(cache.byTarget(REF)).toEqual([]);
    expect(cache.get('a', NAMESPACE)).toBeUndefined();
  });

  it('counts the incidents opened since a time, through adds, changes and deletes', () => {
    const opened = (name: string, minute: number) =>
      incident({ metadata: { name, uid: name, creationTimestamp: iso(minute * MINUTE) } });
    const informer = new MemoryCache<Incident>([opened('a', 0), opened('b', 2)]);
    const cache = new IncidentCache(informer);
    expect(cache.openedSince(at(0))).toBe(2);
    expect(cache.openedSince(at(MINUTE))).toBe(1);
    expect(cache.openedSince(at(2 * MINUTE))).toBe(1);
    expect(cache.openedSince(at(2 * MINUTE + 1))).toBe(0);

    informer.put(opened('c', 5));
    informer.put(opened('d', 5));
    expect(cache.openedSince(at(5 * MINUTE))).toBe(2);
    // A status change leaves the count alone; a delete takes the incident out.
    informer.put({ ...opened('c', 5), status: { phase: 'Escalated' } });
    expect(cache.openedSince(at(0))).toBe(4);
    informer.delete(NAMESPACE, 'c');
    expect(cache.openedSince(at(5 * MINUTE))).toBe(1);
    informer.put(incident({ metadata: { name: 'no-time', uid: 'x', creationTimestamp: undefined } }));
    expect(cache.openedSince(at(0))).toBe(3);
  });
});

describe('observe', () => {
  const now = at(10 * MINUTE);
  const claimOf = (o: Partial<Claim> = {}): Claim => ({
    ...OTHER,
    attempt: 'attempt-1',
    expiresAt: iso(12 * MINUTE),
    ...o,
  });
  const claimed = (claim: Claim) => deployment({ annotations: claimAnnotation(claim) });
  const running = (startedAt = iso(8 * MINUTE)) => ({
    attempts: [attempt('attempt-1', 'Running', startedAt)],
  });

  it("counts other incidents' attempts on the target, not its own, not refused ones", () => {
    const self = incident({
      status: { phase: 'Remediating', attempts: [attempt('attempt-1', 'Failed', iso(MINUTE))] },
    });
    const a = other('a', 'ua', {
      attempts: [
        attempt('attempt-1', 'Failed', iso(2 * MINUTE)),
        attempt('attempt-2', 'Refused', iso(3 * MINUTE)),
      ],
    });
    const b = other('b', 'ub', { attempts: [attempt('attempt-1', 'Succeeded', iso(4 * MINUTE))] });
    const elsewhere = incident({
      metadata: { name: 'c', uid: 'uc' },
      spec: { target: { kind: 'Deployment', name: 'cart' } },
      status: { attempts: [attempt('attempt-1', 'Running', iso(5 * MINUTE))] },
    });
    const obs = observe(self, now, deps({ incidents: [self, a, b, elsewhere], workload: deployment() }));

    expect(obs.otherAttemptsOnTarget.map((t) => t.toISOString()).sort()).toEqual([
      iso(2 * MINUTE),
      iso(4 * MINUTE),
    ]);
  });

  it.each<{ name: string; claim: Claim; claimant?: Incident; live: boolean; own: boolean }>([
    {
      name: "another incident's running attempt, not expired: live",
      claim: claimOf(),
      claimant: other(OTHER.incident, OTHER.uid, running()),
      live: true,
      own: false,
    },
    {
      name: 'expired, the attempt still Running (a claimant that stopped deciding): not live',
      claim: claimOf({ expiresAt: iso(10 * MINUTE) }),
      claimant: other(OTHER.incident, OTHER.uid, running()),
      live: false,
      own: false,
    },
    {
      name: "the claimant's attempt ended: not live",
      claim: claimOf(),
      claimant: other(OTHER.incident, OTHER.uid, {
        attempts: [attempt('attempt-1', 'Failed', iso(8 * MINUTE))],
      }),
      live: false,
      own: false,
    },
    {
      name: "another attempt of the claimant runs, not the claim's: not live",
      claim: claimOf(),
      claimant: other(OTHER.incident, OTHER.uid, {
        attempts: [attempt('attempt-2', 'Running', iso(9 * MINUTE))],
      }),
      live: false,
      own: false,
    },
    {
      name: 'the claimant is gone: not live',
      claim: claimOf(),
      live: false,
      own: false,
    },
    {
      name: 'the claimant was re-created under the same name (another uid): not live',
      claim: claimOf(),
      claimant: other(OTHER.incident, 'a-new-uid', running()),
      live: false,
      own: false,
    },
    {
      name: 'its own running attempt: live and own',
      claim: { incident: 'checkout-errors', uid: UID, attempt: 'attempt-1', expiresAt: iso(12 * MINUTE) },
      live: true,
      own: true,
    },
  ])('judges the claim on the workload: $name', ({ claim, claimant, live, own }) => {
    const self = incident({ status: { phase: 'Open', ...(own ? running() : {}) } });
    const obs = observe(
      self,
      now,
      deps({ incidents: [self, ...(claimant ? [claimant] : [])], workload: claimed(claim) }),
    );
    expect(obs.claim).toEqual({ claim, own, live });
  });

  it.each<[string, Workload]>([
    ['no claim annotation', deployment()],
    ['a mangled claim', deployment({ annotations: { 'selfheal.dev/claim': '{"incident":' } })],
  ])('reports no claim for %s', (_, workload) => {
    expect(observeClaim(incident(), workload, new IncidentCache(new MemoryCache()), now)).toBeUndefined();
    expect(observe(incident(), now, deps({ workload })).claim).toBeUndefined();
  });

  it('reads the incident it follows, or null once it is gone', () => {
    const following = incident({
      status: {
        phase: 'Remediating',
        following: { ...OTHER, attempt: 'attempt-1', since: iso(MINUTE) },
      },
    });
    const followed = other(OTHER.incident, OTHER.uid, running());
    expect(observe(following, now, deps({ incidents: [following, followed] })).followed).toEqual(followed);
    expect(observe(following, now, deps({ incidents: [following] })).followed).toBeNull();
    expect(observe(incident(), now, deps({}))).not.toHaveProperty('followed');
  });

  it('passes the pause on, and counts the incidents of the storm window', () => {
    const incidents = [0, 4, 6, 9].map((m) => other(`i${m}`, `u${m}`, {}, iso(m * MINUTE)));
    const obs = observe(incident(), now, deps({ incidents, paused: true }));
    expect(obs.pause).toEqual({ reason: 'the --paused setting of the installation' });
    // storm window 5m: opened at or after +5m.
    expect(obs.incidentsInStormWindow).toBe(2);
    expect(observe(incident(), now, deps({ incidents }))).not.toHaveProperty('pause');
  });

  it('observes the target, its namespace and the policy, or says they are missing', () => {
    const p = policy();
    const withPolicy = incident({ spec: { actions: undefined, policyRef: { name: p.metadata.name ?? '' } } });
    const workload = deployment();
    const found = observe(
      withPolicy,
      now,
      deps({ workload, policies: [p], namespaceAnnotations: { a: 'b' } }),
    );
    expect(found.target).toEqual({ ref: REF, workload, namespaceAnnotations: { a: 'b' } });
    expect(found.policy).toEqual(p);

    const missing = observe(withPolicy, now, deps({}));
    expect(missing.target).toEqual({ ref: REF, namespaceAnnotations: {} });
    expect(missing.policy).toBeNull();
    expect(observe(incident({ spec: { target: undefined } }), now, deps({}))).not.toHaveProperty('target');
  });

  // Without a Prometheus configured, a needed check is reported as such; an unneeded one is not made.
  it.each<{ name: string; status: IncidentStatus; workload: Workload; checked: boolean }>([
    { name: 'Verifying', status: { phase: 'Verifying' }, workload: deployment(), checked: true },
    {
      name: 'the pass that completes an applied attempt',
      status: {
        phase: 'Remediating',
        attempts: [attempt('attempt-1', 'Running', iso(MINUTE), { appliedAt: iso(MINUTE) })],
      },
      workload: deployment({ templateMarker: markerOf(incident(), 'attempt-1') }),
      checked: true,
    },
    {
      name: 'an applied attempt still rolling out',
      status: {
        phase: 'Remediating',
        attempts: [attempt('attempt-1', 'Running', iso(MINUTE), { appliedAt: iso(MINUTE) })],
      },
      workload: deployment({ rollout: 'progressing' }),
      checked: false,
    },
    {
      name: 'an attempt not yet applied',
      status: { phase: 'Remediating', attempts: [attempt('attempt-1', 'Running', iso(MINUTE))] },
      workload: deployment(),
      checked: false,
    },
    { name: 'Open', status: { phase: 'Open' }, workload: deployment(), checked: false },
    { name: 'Escalated', status: { phase: 'Escalated' }, workload: deployment(), checked: false },
  ])('checks PromQL only when it matters: $name', ({ status, workload, checked }) => {
    const inc = incident({ spec: { verification: verification() }, status });
    const obs = observe(inc, now, deps({ workload }));
    if (checked)
      expect(obs.promQL).toEqual({ ok: false, error: 'no Prometheus is configured (--prometheus-url)' });
    else expect(obs).not.toHaveProperty('promQL');
  });
});

describe('PauseSwitch', () => {
  const NS = 'selfheal-system';
  const configMap = (data?: Record<string, string>, namespace = NS): V1ConfigMap => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: PAUSE_CONFIGMAP, namespace },
    ...(data ? { data } : {}),
  });

  it.each<{
    name: string;
    configMaps: V1ConfigMap[];
    pausedByDefault: boolean;
    expected: string | undefined;
  }>([
    {
      name: 'no ConfigMap, --paused off: not paused',
      configMaps: [],
      pausedByDefault: false,
      expected: undefined,
    },
    {
      name: 'no ConfigMap, --paused on: paused by the setting',
      configMaps: [],
      pausedByDefault: true,
      expected: 'the --paused setting of the installation',
    },
    {
      name: 'the ConfigMap with a reason',
      configMaps: [configMap({ reason: ' db migration ' })],
      pausedByDefault: false,
      expected: `ConfigMap ${NS}/${PAUSE_CONFIGMAP}: db migration`,
    },
    {
      name: 'the ConfigMap without data',
      configMaps: [configMap()],
      pausedByDefault: false,
      expected: `ConfigMap ${NS}/${PAUSE_CONFIGMAP}`,
    },
    {
      name: 'the ConfigMap saying paused: "false" resumes a --paused installation',
      configMaps: [configMap({ paused: ' FALSE ' })],
      pausedByDefault: true,
      expected: undefined,
    },
    {
      name: 'the ConfigMap saying paused: "true"',
      configMaps: [configMap({ paused: 'true', reason: 'freeze' })],
      pausedByDefault: false,
      expected: `ConfigMap ${NS}/${PAUSE_CONFIGMAP}: freeze`,
    },
    {
      name: 'a ConfigMap of that name in another namespace does nothing',
      configMaps: [configMap({ reason: 'not ours' }, 'shop')],
      pausedByDefault: false,
      expected: undefined,
    },
  ])('$name', ({ configMaps, pausedByDefault, expected }) => {
    const pause = new PauseSwitch({
      configMaps: new MemoryCache(configMaps),
      namespace: NS,
      pausedByDefault,
    });
    expect(pause.current()).toEqual(expected === undefined ? undefined : { reason: expected });
  });

  it('follows the ConfigMap as it is created and deleted', () => {
    const configMaps = new MemoryCache<V1ConfigMap>();
    const pause = new PauseSwitch({ configMaps, namespace: NS, pausedByDefault: false });
    expect(pause.current()).toBeUndefined();
    configMaps.put(configMap({ reason: 'incident review' }));
    expect(pause.current()).toEqual({ reason: `ConfigMap ${NS}/${PAUSE_CONFIGMAP}: incident review` });
    configMaps.delete(NS, PAUSE_CONFIGMAP);
    expect(pause.current()).toBeUndefined();
  });
});

describe("observe: the verification's checks are read, never awaited", () => {
  const check: HttpCheck = {
    url: 'http://checkout.shop.svc:8080/health',
    expectedStatus: 200,
    interval: '10s',
    timeout: '30s',
    holdFor: '1m',
  };
  const verifying = incident({
    spec: { verification: verification({ promQL: 'up == 1', http: check }) },
    status: {
      phase: 'Verifying',
      attempts: [attempt('attempt-1', 'Succeeded', iso(0), { appliedAt: iso(MINUTE) })],
    },
  });

  function withChecks(maxTimeoutMs: number) {
    const clock = new ManualClock(at(2 * MINUTE));
    const woken: string[] = [];
    const requests: { timeoutMs: number; signal: AbortSignal | undefined; answer: () => void }[] = [];
    const probes = new CheckProbes({
      clock,
      concurrency: 4,
      perNamespace: 4,
      settled: (key) => woken.push(key),
      logger: silentLogger,
    });
    const health: HealthChecker = {
      check: (_check, _namespace, timeoutMs, signal) =>
        new Promise<HttpObservation>((resolve) =>
          requests.push({
            timeoutMs,
            signal,
            answer: () => resolve({ passed: true, message: 'GET answered 200' }),
          }),
        ),
    };
    const queries: (() => void)[] = [];
    const prometheus: PromQL = {
      query: () => new Promise((resolve) => queries.push(() => resolve({ holds: true, samples: 1 }))),
    };
    const observeDeps: ObserveDeps = {
      ...deps({ workload: deployment() }),
      prometheus,
      checks: { probes, health, maxTimeoutMs },
    };
    return { clock, woken, requests, queries, observeDeps, probes };
  }

  it('starts both checks in the background, at most the install ceiling long, and reads them once they answered', async () => {
    const { requests, queries, woken, observeDeps, clock } = withChecks(5_000);
    const first = observe(verifying, clock.now(), observeDeps);
    expect(first.http).toBeUndefined();
    expect(first.promQL).toBeUndefined();
    // The tenant asked for 30s; the install allows 5s.
    expect(requests.map((r) => r.timeoutMs)).toEqual([5_000]);
    expect(requests[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(queries).toHaveLength(1);

    requests[0]?.answer();
    queries[0]?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toEqual([`${NAMESPACE}/checkout-errors`, `${NAMESPACE}/checkout-errors`]);
    const next = observe(verifying, clock.now(), observeDeps);
    expect(next.http).toEqual({ passed: true, message: 'GET answered 200' });
    expect(next.promQL).toEqual({ ok: true, holds: true });
    expect(requests).toHaveLength(1);
  });

  it('counts nothing observed before the verified attempt was applied (a second attempt checks anew)', async () => {
    const { requests, observeDeps, clock } = withChecks(30_000);
    observe(verifying, clock.now(), observeDeps);
    requests[0]?.answer();
    await new Promise((resolve) => setImmediate(resolve));
    const second = withStatus(verifying, {
      phase: 'Verifying',
      attempts: [
        attempt('attempt-1', 'Failed', iso(0), { appliedAt: iso(MINUTE) }),
        attempt('attempt-2', 'Succeeded', iso(2 * MINUTE), { appliedAt: iso(2 * MINUTE + 1) }),
      ],
    });
    clock.advance(2);
    expect(observe(second, clock.now(), observeDeps).http).toBeUndefined();
    expect(requests).toHaveLength(2);
  });
});
