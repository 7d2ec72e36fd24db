import { parseDuration } from '../incidents/durations.ts';
import { rolloutState, type Workload } from '../verify/rollout.ts';
import { ATTEMPT_ANNOTATION, FIELD_MANAGER, type AttemptContext, type RemediationAction } from './action.ts';
import type { Action } from '../api/remediation.ts';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

const templateAnnotations = (w: Workload) => w.object.spec?.template.metadata?.annotations ?? {};

/**
 * `kubectl rollout restart`: a new restartedAt on the pod template, plus the attempt's marker in the
 * same patch, so a restart is recognisable after a crash and never repeated.
 */
export const rolloutRestart: RemediationAction = {
  type: 'rolloutRestart',

  refusal(workload) {
    if (workload.kind === 'Deployment' && workload.object.spec?.paused) {
      return `can't restart paused deployment ${workload.object.metadata?.name ?? ''} (run rollout resume first)`;
    }
    return undefined;
  },

  progress(ctx: AttemptContext) {
    const applied = templateAnnotations(ctx.workload)[ATTEMPT_ANNOTATION] === ctx.marker;
    return { applied, rollout: rolloutState(ctx.workload) };
  },

  timeoutMs(params: Action) {
    return parseDuration(params.rolloutRestart?.timeout ?? '5m');
  },

  describe(workload) {
    return `restart ${workload.kind} ${workload.object.metadata?.name ?? ''} (new restartedAt on the pod template) and wait for its rollout`;
  },

  async apply(ctx, client, now) {
    const annotations = { [RESTARTED_AT]: now.toISOString(), [ATTEMPT_ANNOTATION]: ctx.marker };
    await client.patch(ctx.target, { spec: { template: { metadata: { annotations } } } }, FIELD_MANAGER);
  },
};
