import { parseDuration } from '../api/durations.ts';
import type { Action } from '../api/remediation.ts';
import { ATTEMPT_ANNOTATION, type RemediationAction } from './action.ts';
import { templateAnnotations, type Workload } from './workload.ts';

export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

/** The update strategy of a StatefulSet or DaemonSet; Deployments always roll out a template change. */
function updateStrategy(workload: Workload): string | undefined {
  return workload.kind === 'Deployment' ? undefined : workload.object.spec?.updateStrategy?.type;
}

/**
 * `kubectl rollout restart`: restartedAt on the pod template, set to the attempt's recorded start
 * (not the time of the patch, so a repeated apply is a no-op), with the attempt's marker in the same
 * patch, so the restart is recognisable after a crash and never repeated.
 */
export const rolloutRestart: RemediationAction = {
  type: 'rolloutRestart',

  refusal(workload) {
    const name = workload.object.metadata?.name ?? '';
    if (workload.kind === 'Deployment' && workload.object.spec?.paused)
      return {
        reason: 'TargetPaused',
        message: `can't restart paused deployment ${name} (run rollout resume first)`,
      };
    if (updateStrategy(workload) === 'OnDelete')
      return {
        reason: 'OnDeleteStrategy',
        message: `${workload.kind} ${name} uses the OnDelete update strategy: a restart would change the template and roll out nothing until pods are deleted by hand`,
      };
    return undefined;
  },

  plan(workload) {
    return {
      description: `restart ${workload.kind} ${workload.object.metadata?.name ?? ''} (new restartedAt on the pod template) and wait for its rollout`,
    };
  },

  timeoutMs(params: Action) {
    return parseDuration(params.rolloutRestart?.timeout ?? '5m');
  },

  effect({ marker, startedAt }) {
    const annotations = { [RESTARTED_AT_ANNOTATION]: startedAt.toISOString(), [ATTEMPT_ANNOTATION]: marker };
    return { spec: { template: { metadata: { annotations } } } };
  },

  // The marker, and restartedAt not moved by anyone since: a later `kubectl rollout restart` keeps
  // the marker but sets its own restartedAt, and that rollout is not this attempt's.
  carries(workload, { marker, startedAt }) {
    const annotations = templateAnnotations(workload);
    const restartedAt = annotations[RESTARTED_AT_ANNOTATION];
    return (
      annotations[ATTEMPT_ANNOTATION] === marker &&
      (restartedAt === undefined || restartedAt === startedAt.toISOString())
    );
  },
};
