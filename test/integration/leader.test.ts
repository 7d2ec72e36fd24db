import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, CoreV1Api, type V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaseClient } from '../../src/runtime/leader.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { eventually } from '../../hack/localenv/wait.ts';

// Leader election against the real API server: its optimistic concurrency decides who wins, and
// every timing claim is measured on the wall clock of the test.
const kc = kubeConfigFor('integration');
const coordination = kc.makeApiClient(CoordinationV1Api);
const core = kc.makeApiClient(CoreV1Api);

const leaseDurationMs = 3000;
const renewDeadlineMs = 2000;
const retryPeriodMs = 500;
const LEASE = 'selfheal-leader';
const TEST_TIMEOUT_MS = 20_000;

interface Replica {
  identity: string;
  elector: LeaderElector;
  startedLeadingAt: number[];
  stoppedLeadingAt: number[];
  leadersSeen: string[];
}

let namespace: string;
let replicas: Replica[];
/** Every moment two replicas acted as leader at once: the one thing leader election must prevent. */
let overlaps: string[];
let leading: Set<string>;

beforeEach(async () => {
  namespace = await createTestNamespace(kc, 'leader');
  replicas = [];
  overlaps = [];
  leading = new Set();
});

afterEach(async () => {
  await Promise.all(replicas.map((r) => r.elector.stop()));
  await core.deleteNamespace({ name: namespace });
});

function startReplica(identity: string, client: LeaseClient = coordination): Replica {
  const elector = new LeaderElector({
    client,
    namespace,
    name: LEASE,
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    logger: silentLogger,
  });
  const replica: Replica = { identity, elector, startedLeadingAt: [], stoppedLeadingAt: [], leadersSeen: [] };
  replicas.push(replica);
  elector.start({
    onStartedLeading: () => {
      if (leading.size > 0) overlaps.push(`${identity} started leading while ${[...leading].join(', ')} led`);
      leading.add(identity);
      replica.startedLeadingAt.push(Date.now());
    },
    onStoppedLeading: () => {
      leading.delete(identity);
      replica.stoppedLeadingAt.push(Date.now());
    },
    onNewLeader: (leader) => replica.leadersSeen.push(leader),
  });
  return replica;
}

/**
 * A client that talks to the real API server until `sever()`, then fails every call the way a
 * replica cut off from the API server (or frozen) would: it can neither renew nor release.
 */
function severableClient() {
  let severed = false;
  let refused = 0;
  const gate = (): Promise<void> => {
    if (!severed) return Promise.resolve();
    refused += 1;
    return Promise.reject(new Error('connect ECONNREFUSED (severed by the test)'));
  };
  const client: LeaseClient = {
    readNamespacedLease: (param, options) =>
      gate().then(() => coordination.readNamespacedLease(param, options)),
    createNamespacedLease: (param, options) =>
      gate().then(() => coordination.createNamespacedLease(param, options)),
    replaceNamespacedLease: (param, options) =>
      gate().then(() => coordination.replaceNamespacedLease(param, options)),
  };
  return {
    client,
    sever: () => (severed = true),
    heal: () => (severed = false),
    refusedCalls: () => refused,
  };
}

const readLease = (): Promise<V1Lease> => coordination.readNamespacedLease({ name: LEASE, namespace });

async function leaderOf(candidates: Replica[], what: string, timeoutMs: number): Promise<Replica> {
  return eventually(
    what,
    () => {
      const leaders = candidates.filter((r) => r.elector.isLeader());
      return leaders.length === 1 && leaders[0];
    },
    { timeoutMs, intervalMs: 20 },
  );
}

describe('LeaderElector on a coordination.k8s.io/v1 Lease', () => {
  it(
    'lets exactly one of two replicas lead, names it on the Lease, and keeps it there while it renews',
    async () => {
      const pair = [startReplica('replica-a'), startReplica('replica-b')];
      const leader = await leaderOf(pair, 'one of two replicas leading', leaseDurationMs);
      const follower = pair.find((r) => r !== leader);
      if (!follower) throw new Error('no follower');

      const lease = await readLease();
      expect(lease.spec?.holderIdentity).toBe(leader.identity);
      expect(lease.spec?.leaseDurationSeconds).toBe(3);
      expect(lease.spec?.leaseTransitions).toBe(0);

      // Three renewals later (each one a new resourceVersion), nothing has moved. Deviations are
      // collected rather than thrown, since eventually() would retry past a throw.
      const versions = new Set([lease.metadata?.resourceVersion]);
      const deviations: string[] = [];
      await eventually(
        'three renewals by the leader',
        async () => {
          const leaders = pair.filter((r) => r.elector.isLeader()).map((r) => r.identity);
          if (leaders.join() !== leader.identity) deviations.push(`leaders: [${leaders.join(', ')}]`);
          const now = await readLease();
          const holder = now.spec?.holderIdentity ?? '';
          if (holder !== leader.identity) deviations.push(`holder on the Lease: ${holder}`);
          versions.add(now.metadata?.resourceVersion);
          return versions.size >= 4;
        },
        { timeoutMs: 4 * retryPeriodMs + 2000, intervalMs: 100 },
      );
      expect(deviations).toEqual([]);
      expect(leader.startedLeadingAt).toHaveLength(1);
      expect(leader.stoppedLeadingAt).toHaveLength(0);
      expect(follower.startedLeadingAt).toHaveLength(0);
      expect(follower.leadersSeen).toEqual([leader.identity]);
      expect((await readLease()).spec?.leaseTransitions).toBe(0);
      expect(overlaps).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'hands over when the leader can no longer renew: it steps down within renewDeadline, the follower takes over after leaseDuration',
    async () => {
      const link = severableClient();
      const a = startReplica('replica-a', link.client);
      await leaderOf([a], 'replica-a leading', leaseDurationMs);
      const b = startReplica('replica-b');
      await eventually('replica-b to see replica-a lead', () => b.leadersSeen.includes(a.identity), {
        timeoutMs: leaseDurationMs,
        intervalMs: 20,
      });
      const before = await readLease();

      const severedAt = Date.now();
      link.sever();
      const steppedDownAt = await eventually('replica-a to step down', () => a.stoppedLeadingAt[0], {
        timeoutMs: renewDeadlineMs + 2000,
        intervalMs: 20,
      });
      const tookOverAt = await eventually('replica-b to take over', () => b.startedLeadingAt[0], {
        timeoutMs: leaseDurationMs + 2 * retryPeriodMs + 3000,
        intervalMs: 20,
      });

      // The old leader stops acting renewDeadline after its last good renewal began (before the cut);
      // the margin is for timers firing late on a busy machine.
      expect(steppedDownAt - severedAt).toBeLessThanOrEqual(renewDeadlineMs + retryPeriodMs);
      // The follower waits out the lease (its last renewal came at most about one retryPeriod before
      // the cut), then needs up to one retryPeriod to see it change and one to notice it expire.
      expect(tookOverAt - severedAt).toBeGreaterThanOrEqual(leaseDurationMs - 2 * retryPeriodMs);
      expect(tookOverAt - severedAt).toBeLessThanOrEqual(leaseDurationMs + 2 * retryPeriodMs + 500);
      expect(steppedDownAt).toBeLessThan(tookOverAt);
      expect(overlaps).toEqual([]);

      expect(a.elector.isLeader()).toBe(false);
      expect(link.refusedCalls()).toBeGreaterThan(0);
      const after = await readLease();
      expect(after.spec?.holderIdentity).toBe(b.identity);
      expect(after.spec?.leaseTransitions).toBe((before.spec?.leaseTransitions ?? 0) + 1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'releases the Lease on stop(), so the follower takes over within two retry periods',
    async () => {
      const a = startReplica('replica-a');
      await leaderOf([a], 'replica-a leading', leaseDurationMs);
      const b = startReplica('replica-b');
      await eventually('replica-b to see replica-a lead', () => b.leadersSeen.includes(a.identity), {
        timeoutMs: leaseDurationMs,
        intervalMs: 20,
      });
      const before = await readLease();

      const stoppingAt = Date.now();
      await a.elector.stop();
      expect(a.elector.isLeader()).toBe(false);
      expect(a.stoppedLeadingAt).toHaveLength(1);

      const tookOverAt = await eventually('replica-b to take over', () => b.startedLeadingAt[0], {
        timeoutMs: leaseDurationMs,
        intervalMs: 20,
      });
      expect(tookOverAt - stoppingAt).toBeLessThanOrEqual(2 * retryPeriodMs);
      expect(overlaps).toEqual([]);
      const after = await readLease();
      expect(after.spec?.holderIdentity).toBe(b.identity);
      expect(after.spec?.leaseTransitions).toBe((before.spec?.leaseTransitions ?? 0) + 1);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'keeps retrying through API errors while acquiring, and leads once the API server answers',
    async () => {
      const link = severableClient();
      link.sever();
      const a = startReplica('replica-a', link.client);
      await eventually('three refused acquisition attempts', () => link.refusedCalls() >= 3, {
        timeoutMs: 4 * retryPeriodMs + 2000,
        intervalMs: 20,
      });
      expect(a.elector.isLeader()).toBe(false);

      link.heal();
      await leaderOf([a], 'replica-a leading after the API came back', 2 * retryPeriodMs + 2000);
      expect((await readLease()).spec?.holderIdentity).toBe(a.identity);
    },
    TEST_TIMEOUT_MS,
  );
});
