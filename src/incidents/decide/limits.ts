// The harm limits, as cert-manager's trigger policies: an ordered chain of small named pure checks,
// each returning why automation must not act (a reason and a message) or nothing. The first that
// applies wins. Checks marked for the effect run again right before the effect, on the freshest view,
// so that a limit that appeared after the intent was recorded still stops it.
import { DISABLED_ANNOTATION } from '../../api/group.ts';
import { MAX_ATTEMPTS } from '../../api/incident.ts';
import type { Action } from '../../api/remediation.ts';
import type { Refusal } from '../../actions/action.ts';
import { describeTarget } from '../../actions/workload.ts';
import type { Decision } from './decision.ts';
import { policyRefusal } from './policytarget.ts';
import type { Remediation } from './types.ts';

/** `start`: before an attempt is recorded; `effect`: right before a recorded attempt acts. */
export type Stage = 'start' | 'effect';

export interface LimitContext {
  d: Decision;
  remediation: Remediation;
  next: Action;
}

export interface HarmLimit {
  name: string;
  stages: readonly Stage[];
  check(ctx: LimitContext): Refusal | undefined;
}

const HOUR_MS = 3_600_000;
const BOTH: readonly Stage[] = ['start', 'effect'];
const START: readonly Stage[] = ['start'];

/** Attempts that count against the guards: refused ones never acted. */
export function countedAttempts(d: Decision) {
  return d.attempts.filter((a) => a.result !== 'Refused');
}

export const HARM_LIMITS: readonly HarmLimit[] = [
  {
    name: 'target-named',
    stages: BOTH,
    check: ({ d }) =>
      d.obs.target ? undefined : { reason: 'NoTarget', message: 'the incident names no target workload' },
  },
  {
    name: 'target-exists',
    stages: BOTH,
    check: ({ d }) => {
      const target = d.obs.target;
      return target && !target.workload
        ? { reason: 'TargetNotFound', message: `${describeTarget(target.ref)} does not exist` }
        : undefined;
    },
  },
  {
    name: 'namespace-enabled',
    stages: BOTH,
    check: ({ d }) => {
      const target = d.obs.target;
      return target?.namespaceAnnotations?.[DISABLED_ANNOTATION] === 'true'
        ? {
            reason: 'RemediationDisabled',
            message: `namespace ${target.ref.namespace} is annotated ${DISABLED_ANNOTATION}=true`,
          }
        : undefined;
    },
  },
  {
    name: 'workload-enabled',
    stages: BOTH,
    check: ({ d }) => {
      const target = d.obs.target;
      return target?.workload?.object.metadata?.annotations?.[DISABLED_ANNOTATION] === 'true'
        ? {
            reason: 'RemediationDisabled',
            message: `${describeTarget(target.ref)} is annotated ${DISABLED_ANNOTATION}=true`,
          }
        : undefined;
    },
  },
  {
    // Under a policy, the workload may have been named by an alert: only one the policy allows.
    name: 'target-allowed',
    stages: BOTH,
    check: ({ d }) => {
      const target = d.obs.target;
      const labels = target?.workload?.object.metadata?.labels ?? {};
      return d.obs.policy && target ? policyRefusal(d.obs.policy, target.ref, labels) : undefined;
    },
  },
  {
    name: 'action-available',
    stages: BOTH,
    check: ({ d, next }) =>
      d.actions[next.type]
        ? undefined
        : { reason: 'ActionUnavailable', message: `action ${next.type} is not available in this build` },
  },
  {
    name: 'action-allowed',
    stages: BOTH,
    check: ({ d, next }) => {
      const workload = d.obs.target?.workload;
      const action = d.actions[next.type];
      return workload && action ? action.refusal(workload, next) : undefined;
    },
  },
  {
    name: 'max-attempts',
    stages: START,
    check: ({ d, remediation }) => {
      const used = countedAttempts(d).length;
      const max = remediation.guards.maxAttempts;
      return used >= max
        ? {
            reason: 'MaxAttemptsExhausted',
            message: `${used} of ${max} attempts used without a verified fix`,
          }
        : undefined;
    },
  },
  {
    name: 'storm-breaker',
    stages: START,
    check: ({ d }) => {
      const { maxIncidents, windowMs } = d.settings.storm;
      const opened = d.obs.incidentsInStormWindow;
      return countedAttempts(d).length === 0 && opened > maxIncidents
        ? {
            reason: 'StormBreaker',
            message: `${opened} incidents opened within ${windowMs / 1000}s (limit ${maxIncidents}): escalating only`,
          }
        : undefined;
    },
  },
  {
    name: 'cooldown',
    stages: START,
    check: ({ d, remediation }) => {
      const target = d.obs.target;
      const last = Math.max(...d.obs.otherAttemptsOnTarget.map((t) => t.getTime()), Number.NEGATIVE_INFINITY);
      if (!target || d.now.getTime() - last >= remediation.guards.cooldownMs) return undefined;
      const until = new Date(last + remediation.guards.cooldownMs).toISOString();
      return {
        reason: 'CooldownActive',
        message: `${describeTarget(target.ref)} was acted on at ${new Date(last).toISOString()} by another incident; cooldown until ${until}`,
      };
    },
  },
  {
    name: 'hourly-budget',
    stages: START,
    check: ({ d, remediation }) => {
      const target = d.obs.target;
      const now = d.now.getTime();
      const lastHour = [
        ...d.obs.otherAttemptsOnTarget,
        ...countedAttempts(d).map((a) => new Date(a.startedAt)),
      ].filter((t) => now - t.getTime() < HOUR_MS);
      const budget = remediation.guards.maxPerHour;
      return target && lastHour.length >= budget
        ? {
            reason: 'HourlyBudgetExhausted',
            message: `${lastHour.length} automated actions on ${describeTarget(target.ref)} in the last hour (budget ${budget})`,
          }
        : undefined;
    },
  },
  {
    // Refused attempts count against no guard, yet the status holds only so many: an incident that
    // has recorded them all is for people (dropping old attempts would reuse their ids).
    name: 'attempt-record',
    stages: START,
    check: ({ d }) =>
      d.attempts.length >= MAX_ATTEMPTS
        ? {
            reason: 'AttemptRecordFull',
            message: `${d.attempts.length} attempts recorded, as many as the status holds`,
          }
        : undefined,
  },
];

/** The first harm limit of the stage that refuses the action, if any. */
export function firstRefusal(stage: Stage, ctx: LimitContext): Refusal | undefined {
  for (const limit of HARM_LIMITS) {
    if (!limit.stages.includes(stage)) continue;
    const refusal = limit.check(ctx);
    if (refusal) return refusal;
  }
  return undefined;
}
