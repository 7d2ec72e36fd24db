// Whether a workload's rollout has completed, by the rules `kubectl rollout status` applies
// (kubectl pkg/polymorphichelpers/rollout_status.go), so "verified" means what kubectl would say.
import type { V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { Workload } from '../actions/workload.ts';

export type RolloutState =
  | { state: 'complete'; message: string }
  | { state: 'progressing'; message: string }
  | { state: 'failed'; message: string };

const progressing = (message: string): RolloutState => ({ state: 'progressing', message });

export function deploymentRollout(d: V1Deployment): RolloutState {
  const generation = d.metadata?.generation ?? 0;
  const status = d.status ?? {};
  if (generation > (status.observedGeneration ?? 0))
    return progressing('waiting for the deployment spec update to be observed');
  const deadline = status.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (deadline)
    return {
      state: 'failed',
      message: `deployment exceeded its progress deadline: ${deadline.message ?? ''}`.trim(),
    };
  const wanted = d.spec?.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < wanted) return progressing(`${updated} of ${wanted} new replicas have been updated`);
  const total = status.replicas ?? 0;
  if (total > updated) return progressing(`${total - updated} old replicas are pending termination`);
  const available = status.availableReplicas ?? 0;
  if (available < updated) return progressing(`${available} of ${updated} updated replicas are available`);
  return { state: 'complete', message: `deployment successfully rolled out (${updated} replicas)` };
}

export function statefulSetRollout(s: V1StatefulSet): RolloutState {
  if (s.spec?.updateStrategy?.type && s.spec.updateStrategy.type !== 'RollingUpdate') {
    return {
      state: 'failed',
      message: `rollout status is only available for the RollingUpdate strategy, not ${s.spec.updateStrategy.type}`,
    };
  }
  const status = s.status;
  const observed = status?.observedGeneration ?? 0;
  if (!status || observed === 0 || (s.metadata?.generation ?? 0) > observed) {
    return progressing('waiting for the statefulset spec update to be observed');
  }
  const wanted = s.spec?.replicas ?? 1;
  const ready = status.readyReplicas ?? 0;
  if (ready < wanted) return progressing(`${ready} of ${wanted} pods are ready`);
  const partition = s.spec?.updateStrategy?.rollingUpdate?.partition;
  if (partition !== undefined && partition > 0) {
    const updated = status.updatedReplicas ?? 0;
    if (updated < wanted - partition)
      return progressing(`${updated} of ${wanted - partition} pods updated (partition ${partition})`);
    return { state: 'complete', message: `partitioned roll out complete: ${updated} new pods` };
  }
  if (status.updateRevision !== status.currentRevision) {
    return progressing(`${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision ?? '?'}`);
  }
  return {
    state: 'complete',
    message: `statefulset rolling update complete (${ready} pods at revision ${status.currentRevision ?? '?'})`,
  };
}

export function daemonSetRollout(d: V1DaemonSet): RolloutState {
  if (d.spec?.updateStrategy?.type && d.spec.updateStrategy.type !== 'RollingUpdate') {
    return {
      state: 'failed',
      message: `rollout status is only available for the RollingUpdate strategy, not ${d.spec.updateStrategy.type}`,
    };
  }
  const status = d.status;
  if (!status || (d.metadata?.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return progressing('waiting for the daemon set spec update to be observed');
  }
  const desired = status.desiredNumberScheduled;
  const updated = status.updatedNumberScheduled ?? 0;
  if (updated < desired) return progressing(`${updated} of ${desired} updated pods are scheduled`);
  const available = status.numberAvailable ?? 0;
  if (available < desired) return progressing(`${available} of ${desired} updated pods are available`);
  return { state: 'complete', message: `daemon set successfully rolled out (${desired} pods)` };
}

export function rolloutState(workload: Workload): RolloutState {
  switch (workload.kind) {
    case 'Deployment':
      return deploymentRollout(workload.object);
    case 'StatefulSet':
      return statefulSetRollout(workload.object);
    case 'DaemonSet':
      return daemonSetRollout(workload.object);
  }
}
