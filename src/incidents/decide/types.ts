// What a decision reads and what it returns. Everything here is plain data: decide() is a pure
// function of it, so every behaviour is a row in a table test.
import type { Attempt, Incident, IncidentStatus } from '../../api/incident.ts';
import type { RemediationPolicy } from '../../api/policy.ts';
import type { Action, Verification } from '../../api/remediation.ts';
import type { AttemptIntent, JobView, RemediationAction } from '../../actions/action.ts';
import type { HttpObservation } from '../../verify/http.ts';
import type { Claim } from '../../actions/claim.ts';
import type { TargetRef, Workload } from '../../actions/workload.ts';
import type { DeliveryObservation } from './escalation.ts';

export interface TargetObservation {
  ref: TargetRef;
  /** Undefined when the workload does not exist. */
  workload?: Workload;
  /** Undefined when the namespace does not exist (or cannot be read). */
  namespaceAnnotations?: Record<string, string>;
}

/** The claim on the target workload, judged against its claimant's status. */
export interface ClaimObservation {
  claim: Claim;
  /** The claim is this incident's own. */
  own: boolean;
  /** The claimant's attempt still runs and the claim has not expired: nobody else may act. */
  live: boolean;
}

/** The PromQL check of a verification, run by observe() while the incident is Verifying. */
export type PromQLObservation = { ok: true; holds: boolean } | { ok: false; error: string };

/** The install's live switch (or its --paused default): while on, automation holds, it does not act. */
export interface PauseObservation {
  /** Who paused and why, for the message every held incident shows. */
  reason: string;
}

export interface Observations {
  now: Date;
  /** The policy spec.policyRef names: undefined when none is named, null when it does not exist. */
  policy?: RemediationPolicy | null;
  /** Undefined when the incident names no target. */
  target?: TargetObservation;
  /** The claim on the target workload, when it carries one. */
  claim?: ClaimObservation;
  /** The incident this one follows (status.following): null when it is gone. */
  followed?: Incident | null;
  /** Set while automated remediation is paused for the installation. */
  pause?: PauseObservation;
  /** Start times of other incidents' attempts on the same target (cooldown and hourly budget). */
  otherAttemptsOnTarget: Date[];
  /** Incidents opened within the storm window, this one included. */
  incidentsInStormWindow: number;
  /** The verification's PromQL check, when one is configured and the incident is Verifying. */
  promQL?: PromQLObservation;
  /** Delivery results of ledger entries since the last status write, by entry id. */
  deliveries?: ReadonlyMap<string, DeliveryObservation>;
  /** What on-call checks first, gathered when the incident opens (status.context). */
  context?: string[];
  /** The post-mortem draft ConfigMap, once created. */
  postMortemDraft?: string;
  /** The running attempt's background job (a queue action), when this replica runs or ran it. */
  job?: JobView;
  /** The verification's HTTP health check, when one is configured and the incident is Verifying. */
  http?: HttpObservation;
}

/** The one side effect a plan may carry: an attempt whose intent the stored status records. */
export interface ApplyEffect {
  attempt: Attempt;
  action: Action;
  intent: AttemptIntent;
  /** The workload version the decision checked; the effect lands only on exactly this version. */
  resourceVersion: string;
  /** The claim the effect writes with it. */
  claim: Claim;
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

export interface Plan {
  status: IncidentStatus;
  effect?: ApplyEffect;
  /** Create the post-mortem draft ConfigMap (once; the next decision records it). */
  postMortemDraft?: boolean;
  /** Start the running attempt's background job (idempotent per marker), after the status is written. */
  job?: { marker: string; action: Action; deadline: Date };
  /**
   * Stop the job of an attempt this plan ended before its job did (the pause, a person's resolution),
   * after the status is written; its messages stay in the source or the parking queue.
   */
  abortJob?: { marker: string; reason: string };
  events: PlannedEvent[];
  /** Look again after this long (a deadline, a running check); undefined: only on change. */
  requeueAfterMs?: number;
}

/** What remediation applies: the incident's own actions or its policy's, with the guards. */
export interface Remediation {
  actions: Action[];
  guards: { maxAttempts: number; cooldownMs: number; maxPerHour: number };
  verification?: Verification;
  dryRun: boolean;
}

export type ActionRegistry = Partial<Record<Action['type'], RemediationAction>>;
