import type { Severity } from '../api/group.ts';
import type { Escalation } from '../api/remediation.ts';
import type { Playbook } from './playbook.ts';

/** Install-wide settings the reconciler decides with (from flags and environment, see main.ts). */
export interface IncidentSettings {
  playbook: Playbook;
  /** Guards for incidents that name their actions directly (a policy brings its own). */
  defaultGuards: { maxAttempts: number; cooldownMs: number; maxPerHour: number };
  /** More than `maxIncidents` opened within `windowMs` → escalate only. */
  storm: { maxIncidents: number; windowMs: number };
  /** The install-time default of the global pause (the live switch overrides it; see pause.ts). */
  paused: boolean;
  /** Escalation levels for incidents that bring none (nor their policy), per severity. */
  escalationDefaults: Partial<Record<Severity, Escalation>>;
  /** Severities whose first level is paged as soon as automation starts, not only on escalation. */
  headsUpSeverities: Severity[];
  /** The playbook's status page rule: a public update within this long of opening, for these severities. */
  statusPageUpdate: { severities: Severity[]; withinMs: number };
  /** How long a resolved incident watches for its signal to return before it closes. */
  recurrenceWindowMs: number;
  /** Severities that need a post-mortem even when automation fixed them (escalated ones always do). */
  postMortemSeverities: Severity[];
  /** How often a pending verification's PromQL check is queried. */
  pollIntervalMs: number;
}
