import type { Action, ActionType } from '../api/remediation.ts';
import type { RolloutState, Workload } from '../verify/rollout.ts';
import type { TargetRef, WorkloadClient } from './workloads.ts';

/** Carried by every side effect, so an attempt can tell whether it already acted (rule 1). */
export const ATTEMPT_ANNOTATION = 'selfheal.dev/attempt';
export const FIELD_MANAGER = 'selfheal';

/** One attempt of one action on one target. `marker` is unique per incident and attempt. */
export interface AttemptContext {
  target: TargetRef;
  workload: Workload;
  params: Action;
  marker: string;
  startedAt: Date;
}

export interface ActionProgress {
  /** The attempt's side effect is on the target (its marker is there). */
  applied: boolean;
  /** Where the effect stands: complete, progressing or failed. */
  rollout: RolloutState;
}

/**
 * A remediation action. `refusal`, `progress` and `describe` only read what was observed, so the
 * reconciler's decision stays a pure function; `apply` is the one side effect, idempotent by marker.
 */
export interface RemediationAction {
  readonly type: ActionType;
  /** Why this action cannot run against this workload, or undefined when it can. */
  refusal(workload: Workload, params: Action): string | undefined;
  progress(ctx: AttemptContext): ActionProgress;
  /** How long the attempt may take before it counts as failed. */
  timeoutMs(params: Action): number;
  /** What the action would do, for dry runs and the timeline. */
  describe(workload: Workload, params: Action): string;
  apply(ctx: AttemptContext, client: WorkloadClient, now: Date): Promise<void>;
}
