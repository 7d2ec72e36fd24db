import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { lastRolloutFact } from '../../src/incidents/context.ts';

// What on-call reads first about the target's last rollout: the current revision is the
// ReplicaSet with the highest revision annotation, which after a rollback is an old ReplicaSet.
const UID = 'd-1';
const deployment: V1Deployment = { metadata: { name: 'checkout', namespace: 'shop', uid: UID } };
const openedAt = new Date('2026-03-02T09:00:00Z');

const replicaSet = (revision: number, created: string, owner = UID): V1ReplicaSet => ({
  metadata: {
    name: `checkout-${revision}`,
    creationTimestamp: new Date(created),
    annotations: { 'deployment.kubernetes.io/revision': String(revision) },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: owner }],
  },
});

describe('the last rollout fact', () => {
  it('names the highest revision and when its ReplicaSet was created', () => {
    const sets = [replicaSet(6, '2026-03-01T12:00:00Z'), replicaSet(7, '2026-03-02T08:48:00Z')];
    expect(lastRolloutFact(sets, deployment, openedAt)).toEqual([
      'last rollout: revision 7 at 2026-03-02T08:48:00.000Z (deployed 12 min before the incident)',
    ]);
  });

  it('after a rollback, the old ReplicaSet that carries the new revision, said to be a rollback', () => {
    // Revision 7 was rolled back: the deployment controller gave revision 6's ReplicaSet revision 8.
    const sets = [replicaSet(8, '2026-03-01T12:00:00Z'), replicaSet(7, '2026-03-02T08:48:00Z')];
    expect(lastRolloutFact(sets, deployment, openedAt)).toEqual([
      'last rollout: revision 8, a rollback to the ReplicaSet created at 2026-03-01T12:00:00.000Z (1260 min before the incident)',
    ]);
  });

  it("ignores other Deployments' ReplicaSets and those without a revision", () => {
    const unrevised = replicaSet(9, '2026-03-02T08:59:00Z');
    delete unrevised.metadata?.annotations;
    const sets = [
      replicaSet(3, '2026-03-02T08:30:00Z'),
      replicaSet(12, '2026-03-02T08:55:00Z', 'other'),
      unrevised,
    ];
    expect(lastRolloutFact(sets, deployment, openedAt)).toEqual([
      'last rollout: revision 3 at 2026-03-02T08:30:00.000Z (deployed 30 min before the incident)',
    ]);
    expect(lastRolloutFact([], deployment, openedAt)).toEqual([]);
  });
});
