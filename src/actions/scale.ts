import { rolloutState, type Workload } from '../verify/rollout.ts';
import { ATTEMPT_ANNOTATION, FIELD_MANAGER, type RemediationAction } from './action.ts';
import type { Action } from '../api/remediation.ts';

const currentReplicas = (w: Workload) => (w.kind === 'DaemonSet' ? 0 : (w.object.spec?.replicas ?? 1));

/** The replica count a scale action aims at: the fixed count or current + delta, within min and max. */
export function scaleTarget(workload: Workload, params: Action): number {
  const p = params.scale ?? {};
  const wanted = p.replicas ?? currentReplicas(workload) + (p.delta ?? 0);
  return Math.min(p.max ?? Number.MAX_SAFE_INTEGER, Math.max(p.min ?? 0, wanted));
}

/**
 * Scales a Deployment or StatefulSet. The marker sits on the workload's own annotations, written in
 * the same patch as the replica count, so a delta is applied once even if the operator crashes.
 */
export const scale: RemediationAction = {
  type: 'scale',

  refusal(workload) {
    if (workload.kind === 'DaemonSet') return 'a DaemonSet runs one pod per node and cannot be scaled';
    return undefined;
  },

  progress(ctx) {
    const applied = ctx.workload.object.metadata?.annotations?.[ATTEMPT_ANNOTATION] === ctx.marker;
    return { applied, rollout: rolloutState(ctx.workload) };
  },

  timeoutMs() {
    return 5 * 60_000;
  },

  describe(workload, params) {
    return `scale ${workload.kind} ${workload.object.metadata?.name ?? ''} from ${currentReplicas(workload)} to ${scaleTarget(workload, params)} replicas`;
  },

  async apply(ctx, client) {
    const replicas = scaleTarget(ctx.workload, ctx.params);
    await client.patch(
      ctx.target,
      { metadata: { annotations: { [ATTEMPT_ANNOTATION]: ctx.marker } }, spec: { replicas } },
      FIELD_MANAGER,
    );
  },
};
