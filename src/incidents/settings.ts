import type { Severity } from '../api/group.ts';
import type { Playbook } from './playbook.ts';

/** Install-wide settings the reconciler decides with (from flags and environment, see main.ts). */
export interface IncidentSettings {
  playbook: Playbook;
  /** Guards for incidents that name their actions directly (a policy brings its own). */
  defaultGuards: { maxAttempts: number; cooldownMs: number; maxPerHour: number };
  /** More than `maxIncidents` opened within `windowMs` → escalate only. */
  storm: { maxIncidents: number; windowMs: number };
  /** Global pause: escalate only, act on nothing. */
  paused: boolean;
  /** How long a resolved incident watches for its signal to return before it closes. */
  recurrenceWindowMs: number;
  /** Severities that need a post-mortem even when automation fixed them (escalated ones always do). */
  postMortemSeverities: Severity[];
  /** How often a running attempt is checked. */
  pollIntervalMs: number;
}
