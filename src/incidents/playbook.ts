// The incident-response playbook: per severity, the response (acknowledge) target, the resolution
// target, how often stakeholders get an update, and when the post-mortem is due after resolution.
import type { Severity } from '../api/group.ts';
import { parseDuration } from '../api/durations.ts';

export interface SeverityTargets {
  responseMs: number;
  resolutionMs: number;
  updateEveryMs: number;
  postMortemDueMs: number;
}

export type Playbook = Record<Severity, SeverityTargets>;

const targets = (
  response: string,
  resolution: string,
  updateEvery: string,
  postMortemDue: string,
): SeverityTargets => ({
  responseMs: parseDuration(response),
  resolutionMs: parseDuration(resolution),
  updateEveryMs: parseDuration(updateEvery),
  postMortemDueMs: parseDuration(postMortemDue),
});

export const DEFAULT_PLAYBOOK: Playbook = {
  P1: targets('15m', '4h', '30m', '48h'),
  P2: targets('30m', '8h', '1h', '48h'),
  P3: targets('2h', '24h', '4h', '168h'),
  P4: targets('8h', '72h', '24h', '168h'),
};

export interface SlaDeadlines {
  responseDueAt: string;
  resolutionDueAt: string;
}

/** The response and resolution deadlines of an incident opened at `openedAt`. */
export function slaDeadlines(playbook: Playbook, severity: Severity, openedAt: Date): SlaDeadlines {
  const t = playbook[severity];
  return {
    responseDueAt: new Date(openedAt.getTime() + t.responseMs).toISOString(),
    resolutionDueAt: new Date(openedAt.getTime() + t.resolutionMs).toISOString(),
  };
}

/** The first update time after `now` on the cadence that started at `openedAt`. */
export function nextUpdateAfter(playbook: Playbook, severity: Severity, openedAt: Date, now: Date): string {
  const every = playbook[severity].updateEveryMs;
  const elapsed = now.getTime() - openedAt.getTime();
  const periods = Math.max(1, Math.floor(elapsed / every) + 1);
  return new Date(openedAt.getTime() + periods * every).toISOString();
}
