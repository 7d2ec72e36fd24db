import type { Action, ActionType } from '../api/remediation.ts';
import type { Workload } from './workload.ts';

/** Carried by every side effect, so an attempt can tell whether it acted (rule 1). */
export const ATTEMPT_ANNOTATION = 'selfheal.dev/attempt';
export const FIELD_MANAGER = 'selfheal';

/** Why automation must not act: a CamelCase reason for the condition and a message for people. */
export interface Refusal {
  reason: string;
  message: string;
}

/** Where a long-running effect (a queue drain) stands, as the leader's job registry reports it. */
export type JobView =
  | { state: 'running'; done?: number; total?: number; message: string }
  | { state: 'succeeded'; skipped: boolean; message: string }
  | { state: 'failed'; reason: string; message: string };

/** The leader's background jobs, one per attempt marker; started again after a crash, they resume. */
export interface ActionJobs {
  view(marker: string): JobView | undefined;
  /** Starts the attempt's job unless it runs (or ran) already: one run per marker. */
  /** `owner` is the incident's key, woken when the job ends. */
  start(marker: string, request: { owner: string; namespace: string; action: Action; deadline: Date }): void;
  /** Stops the attempt's job, if it runs: its attempt ended (the pause, a person's resolution). */
  abort(marker: string, reason: string): void;
  /** Stops every job the owner (an incident's key) started: the incident was deleted. */
  abortOwnedBy(owner: string, reason: string): void;
}

/** What an attempt fixes when its intent is recorded, so that its effect is the same every time. */
export interface AttemptIntent {
  /** Unique per incident and attempt: the marker the effect carries. */
  marker: string;
  /** The attempt's start, as recorded: a restart's restartedAt. */
  startedAt: Date;
  /** For scale: the absolute replica count, computed once from the workload the intent saw. */
  targetReplicas?: number;
}

/**
 * A remediation action. Everything but the patch it returns is a pure reading of the workload, so
 * the reconciler's decision stays a pure function; the patch is a pure function of the recorded
 * intent, so applying it twice changes nothing (Argo Rollouts' deterministic restartAt).
 */
export interface RemediationAction {
  readonly type: ActionType;
  /**
   * Why this action cannot run against this workload now, or undefined when it can. Checked when
   * an attempt starts and again right before its effect.
   */
  refusal(workload: Workload, params: Action): Refusal | undefined;
  /** What the attempt will do, fixed at intent time: its description and, for scale, the count. */
  plan(workload: Workload, params: Action): { description: string; targetReplicas?: number };
  /** How long the attempt may take before it counts as failed (and its claim lapses). */
  timeoutMs(params: Action): number;
  /** The strategic merge patch that performs the attempt. */
  effect(intent: AttemptIntent): object;
  /** Whether the workload carries this attempt's effect right now. */
  carries(workload: Workload, intent: AttemptIntent): boolean;
  /**
   * Set for actions whose work is a background job (a queue drain): their patch only claims the
   * workload (and, for waitForConsumers, scales it); once that is applied the job runs, and the
   * job's outcome, not a rollout, ends the attempt.
   */
  readonly runsJob?: true;
}
