import type { Action } from '../api/remediation.ts';
import { ATTEMPT_ANNOTATION, type RemediationAction } from './action.ts';
import { objectAnnotations, specReplicas, type Workload } from './workload.ts';

/** The API's bound on a scale's count (ScaleParams, Attempt.targetReplicas). */
const MAX_REPLICAS = 1000;

/**
 * The replica count a scale aims at from this workload: the fixed count or current + delta, within
 * min and max, and never above what an attempt can record.
 */
export function scaleTarget(workload: Workload, params: Action): number {
  const p = params.scale ?? {};
  const wanted = p.replicas ?? (specReplicas(workload) ?? 0) + (p.delta ?? 0);
  return Math.min(p.max ?? MAX_REPLICAS, MAX_REPLICAS, Math.max(p.min ?? 0, wanted));
}

/**
 * Scales a Deployment or StatefulSet to the absolute count fixed on the attempt when its intent was
 * recorded: a delta is never recomputed from the current count, so replicas never climb on retries.
 * The marker sits on the workload's own annotations, written in the same patch as the count.
 */
export const scale: RemediationAction = {
  type: 'scale',

  refusal(workload) {
    if (workload.kind === 'DaemonSet')
      return { reason: 'ActionRefused', message: 'a DaemonSet runs one pod per node and cannot be scaled' };
    return undefined;
  },

  plan(workload, params) {
    const targetReplicas = scaleTarget(workload, params);
    return {
      description: `scale ${workload.kind} ${workload.object.metadata?.name ?? ''} from ${specReplicas(workload) ?? 0} to ${targetReplicas} replicas`,
      targetReplicas,
    };
  },

  timeoutMs() {
    return 5 * 60_000;
  },

  effect({ marker, targetReplicas }) {
    if (targetReplicas === undefined) throw new Error(`scale attempt ${marker} has no recorded target count`);
    return {
      metadata: { annotations: { [ATTEMPT_ANNOTATION]: marker } },
      spec: { replicas: targetReplicas },
    };
  },

  carries(workload, { marker, targetReplicas }) {
    return (
      objectAnnotations(workload)[ATTEMPT_ANNOTATION] === marker && specReplicas(workload) === targetReplicas
    );
  },
};
