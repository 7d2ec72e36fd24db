// From alerts to Incidents, for every source (the Alertmanager webhook, the Prometheus poller): the
// matching RemediationPolicy in the alert's own namespace decides severity, target and actions.
// One signal (an alert's fingerprint) has at most one open incident, with the API server as the lock:
// its incidents are numbered episodes with deterministic names, so two replicas or two senders
// racing to report the same firing create one incident, and the loser's 409 is a duplicate. A
// resolved alert marks its incident's signal cleared; the same signal firing again soon after an
// automated fix reopens that incident instead of starting a new one.
import {
  FINGERPRINT_LABEL,
  RECURRED_ANNOTATION,
  SIGNAL_CLEARED_ANNOTATION,
  TARGET_PROBLEM_ANNOTATION,
  type Severity,
} from '../api/group.ts';
import type { Incident } from '../api/incident.ts';
import { DEFAULT_SEVERITY_MAPPING, type RemediationPolicy } from '../api/policy.ts';
import type { IncidentPublic, PolicyPublic } from '../api/public.ts';
import type { ObjectCache } from '@kubernetes/client-node';
import type { IncidentCache } from '../incidents/cache.ts';
import { MatchBudgetExhausted, selectPolicy, severityFor, targetFor } from '../policies/matching.ts';
import type { Clock } from '../runtime/clock.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { EPISODE_LABEL, episodeOf, incidentNameFor } from './identity.ts';
import { parseRfc3339, type ReceivedAlert } from './payload.ts';
import { isRetriable, type IncidentStore } from './store.ts';

export type AlertSource = 'alertmanager' | 'prometheus';

export type IntakeResult =
  | 'created'
  | 'duplicate'
  | 'reopened'
  | 'cleared'
  | 'unmatched'
  | 'escalation-only'
  | 'unknown-incident'
  /** The API server refused the Incident for good (it can never be written as it is). */
  | 'refused'
  /** The write failed for a reason that may pass (the API server is down): the sender must retry. */
  | 'failed';

export interface IntakeOutcome {
  alertname: string;
  fingerprint: string;
  result: IntakeResult;
  namespace?: string;
  incident?: string;
  note?: string;
}

export interface AlertIntakeOptions {
  store: IncidentStore;
  policies: ObjectCache<RemediationPolicy>;
  incidents: IncidentCache;
  /** Where alerts no policy matches become escalation-only Incidents; undefined: only counted. */
  unmatchedNamespace?: string;
  recurrenceWindowMs: number;
  /** Alerts of one notification written at once, at most. */
  concurrency?: number;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
}

const LABEL_VALUE = /[^A-Za-z0-9._-]/g;
export const labelValue = (text: string) =>
  text
    .replace(LABEL_VALUE, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');

const sameInstant = (a: string | undefined, b: string) =>
  a !== undefined && parseRfc3339(a)?.getTime() === parseRfc3339(b)?.getTime();

const isOpen = (i: Incident) => i.status?.phase !== 'Resolved' && i.status?.phase !== 'Closed';

export class AlertIntake {
  private readonly options: AlertIntakeOptions;
  /** Per fingerprint, the intake under way: alerts of one signal are taken one after the other. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(options: AlertIntakeOptions) {
    this.options = options;
  }

  /**
   * Takes each alert on its own, several at once (one signal at a time), and never throws: a failed
   * write is an outcome ('failed' when the sender should retry, 'refused' when it never can succeed).
   */
  async ingest(alerts: readonly ReceivedAlert[], source: AlertSource): Promise<IntakeOutcome[]> {
    const outcomes: IntakeOutcome[] = new Array<IntakeOutcome>(alerts.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < alerts.length; i = next++) {
        const alert = alerts[i];
        if (alert) outcomes[i] = await this.serialized(alert, () => this.one(alert, source));
      }
    };
    const workers = Math.min(this.options.concurrency ?? 8, alerts.length);
    await Promise.all(Array.from({ length: workers }, worker));
    return outcomes;
  }

  private async serialized<T>(alert: ReceivedAlert, run: () => Promise<T>): Promise<T> {
    const key = alert.fingerprint;
    const before = this.inFlight.get(key) ?? Promise.resolve();
    const mine = before.then(run, run);
    this.inFlight.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.inFlight.get(key) === mine) this.inFlight.delete(key);
    }
  }

  private async one(alert: ReceivedAlert, source: AlertSource): Promise<IntakeOutcome> {
    const base = { alertname: alert.labels.alertname ?? '', fingerprint: alert.fingerprint };
    let outcome: IntakeOutcome;
    try {
      outcome = alert.status === 'firing' ? await this.firing(alert, source) : await this.resolved(alert);
    } catch (error) {
      outcome = { ...base, result: isRetriable(error) ? 'failed' : 'refused', note: errorMessage(error) };
    }
    this.options.metrics.alertsReceived.inc({ source, result: outcome.result });
    const level = outcome.result === 'failed' || outcome.result === 'refused' ? 'warn' : 'info';
    this.options.logger[level]({ source, ...outcome }, 'alert received');
    return outcome;
  }

  /** The incidents of this alert's signal in a namespace, oldest episode first. */
  private episodes(alert: ReceivedAlert, namespace: string): Incident[] {
    return this.options.incidents
      .byFingerprint(namespace, labelValue(alert.fingerprint))
      .sort((a, b) => episodeOf(a) - episodeOf(b));
  }

  /** The policy the alert falls under, or `exhausted` when its namespace's regexes cost too much. */
  private select(
    policies: readonly RemediationPolicy[],
    alert: ReceivedAlert,
  ): RemediationPolicy | 'exhausted' | undefined {
    try {
      return selectPolicy(policies, alert);
    } catch (error) {
      if (!(error instanceof MatchBudgetExhausted)) throw error;
      this.options.logger.warn(
        { namespace: alert.labels.namespace, alertname: alert.labels.alertname, stoppedAt: error.message },
        "matching an alert against its namespace's policies stopped at the budget",
      );
      return 'exhausted';
    }
  }

  private async firing(alert: ReceivedAlert, source: AlertSource): Promise<IntakeOutcome> {
    const { policies, metrics } = this.options;
    const alertname = alert.labels.alertname ?? '';
    const base = { alertname, fingerprint: alert.fingerprint };
    const namespace = alert.labels.namespace;
    const selection = namespace ? this.select(policies.list(namespace), alert) : undefined;
    const policy = typeof selection === 'object' ? selection : undefined;
    if (!namespace || !policy) {
      metrics.alertsUnmatched.inc({ alertname });
      const where = this.options.unmatchedNamespace;
      const note = !namespace
        ? 'the alert has no namespace label'
        : selection === 'exhausted'
          ? `matching stopped: the regular expressions of the RemediationPolicies in namespace ${namespace} cost more than one alert may (simplify their patterns)`
          : `no RemediationPolicy in namespace ${namespace} matches`;
      if (!where) return { ...base, result: 'unmatched', note };
      const known = await this.known(alert, where);
      if (known) return known;
      const incident = this.incident(alert, source, where, mappedSeverity(alert), `${note}; escalation only`);
      return this.create(incident, 'escalation-only', note);
    }
    const known = await this.known(alert, namespace);
    if (known) return known;
    const target = targetFor(policy, alert);
    const problem = 'error' in target ? target.error : undefined;
    const incident = this.incident(alert, source, namespace, severityFor(policy, alert), problem);
    incident.spec.policyRef = { name: policy.metadata.name ?? '' };
    if (policy.spec.public) incident.spec.public = publicSide(policy.spec.public, this.options.clock.now());
    if ('error' in target) {
      // The policy's status reports it (policies/validate.ts reads this annotation).
      incident.metadata.annotations = { [TARGET_PROBLEM_ANNOTATION]: target.error };
    } else incident.spec.target = target;
    return this.create(incident, 'created');
  }

  /**
   * What an alert of a signal that already has incidents means, if it is not a new episode: a
   * repeat of a firing already taken (duplicate), the open incident's signal firing on (duplicate) or
   * back after it cleared, or a recent automated fix that did not last (reopened).
   */
  private async known(alert: ReceivedAlert, namespace: string): Promise<IntakeOutcome | undefined> {
    const base = { alertname: alert.labels.alertname ?? '', fingerprint: alert.fingerprint, namespace };
    const episodes = this.episodes(alert, namespace);
    const taken = episodes.find(
      (i) =>
        sameInstant(i.spec.source.startsAt, alert.startsAt) ||
        sameInstant(i.metadata.annotations?.[RECURRED_ANNOTATION], alert.startsAt),
    );
    if (taken) return { ...base, result: 'duplicate', incident: taken.metadata.name ?? '' };
    const latest = episodes.at(-1);
    if (!latest) return undefined;
    const name = latest.metadata.name ?? '';
    // The same signal from another source or another sender may carry another start time (Prometheus
    // reports when the alert became active, Alertmanager when it fired): one open incident per signal.
    if (isOpen(latest) && !clearedBefore(latest, alert.startsAt))
      return { ...base, result: 'duplicate', incident: name };
    if (!isOpen(latest) && !this.recentlyFixedByAutomation(latest)) return undefined;
    const annotated = await this.options.store.annotate(namespace, name, {
      [RECURRED_ANNOTATION]: alert.startsAt,
    });
    // Deleted meanwhile: nothing to reopen, so this firing is a new episode.
    return annotated === 'annotated' ? { ...base, result: 'reopened', incident: name } : undefined;
  }

  private recentlyFixedByAutomation(incident: Incident): boolean {
    const resolved = incident.status?.conditions?.find((c) => c.type === 'Resolved' && c.status === 'True');
    const resolvedAt = incident.status?.resolvedAt;
    return (
      resolved?.reason === 'RemediatedAndVerified' &&
      resolvedAt !== undefined &&
      this.options.clock.now().getTime() - new Date(resolvedAt).getTime() <= this.options.recurrenceWindowMs
    );
  }

  private async create(
    incident: Incident,
    result: 'created' | 'escalation-only',
    note?: string,
  ): Promise<IntakeOutcome> {
    const source = incident.spec.source;
    const base = {
      alertname: source.alertName ?? '',
      fingerprint: source.fingerprint ?? '',
      namespace: incident.metadata.namespace ?? '',
      incident: incident.metadata.name ?? '',
      ...(note ? { note } : {}),
    };
    // 409: another replica or sender made this episode first; the API server decided.
    const created = await this.options.store.create(incident);
    return { ...base, result: created === 'created' ? result : 'duplicate' };
  }

  private async resolved(alert: ReceivedAlert): Promise<IntakeOutcome> {
    const base = { alertname: alert.labels.alertname ?? '', fingerprint: alert.fingerprint };
    const clearedAt = alert.endsAt ?? this.options.clock.now().toISOString();
    const namespaces = [alert.labels.namespace, this.options.unmatchedNamespace].filter((n): n is string =>
      Boolean(n),
    );
    for (const namespace of namespaces) {
      const episodes = this.episodes(alert, namespace);
      // The incident raised for this firing, or the one its return reopened; else the open one.
      const incident =
        episodes.find(
          (i) =>
            sameInstant(i.spec.source.startsAt, alert.startsAt) ||
            sameInstant(i.metadata.annotations?.[RECURRED_ANNOTATION], alert.startsAt),
        ) ?? episodes.filter(isOpen).at(-1);
      const name = incident?.metadata.name;
      if (!name) continue;
      if (incident.metadata.annotations?.[SIGNAL_CLEARED_ANNOTATION] === clearedAt)
        return { ...base, result: 'cleared', namespace, incident: name };
      if (
        (await this.options.store.annotate(namespace, name, { [SIGNAL_CLEARED_ANNOTATION]: clearedAt })) ===
        'annotated'
      )
        return { ...base, result: 'cleared', namespace, incident: name };
    }
    return { ...base, result: 'unknown-incident', note: 'no incident was raised for this alert' };
  }

  private incident(
    alert: ReceivedAlert,
    source: AlertSource,
    namespace: string,
    severity: Severity,
    problem: string | undefined,
  ): Incident {
    const alertname = alert.labels.alertname ?? 'alert';
    const summary = alert.annotations.summary || alert.annotations.message || `${alertname} is firing`;
    const description = [alert.annotations.description, problem].filter(Boolean).join('\n\n');
    const episode = (this.episodes(alert, namespace).map(episodeOf).at(-1) ?? 0) + 1;
    return {
      metadata: {
        name: incidentNameFor(alert, episode),
        namespace,
        labels: {
          [FINGERPRINT_LABEL]: labelValue(alert.fingerprint),
          [EPISODE_LABEL]: String(episode),
          'selfheal.dev/alertname': labelValue(alertname),
        },
      },
      spec: {
        severity,
        title: summary.slice(0, 200),
        ...(description ? { description: description.slice(0, 4096) } : {}),
        source: {
          type: source,
          alertName: alertname.slice(0, 253),
          labels: alert.labels,
          fingerprint: alert.fingerprint,
          startsAt: alert.startsAt,
          ...(alert.generatorURL ? { generatorURL: alert.generatorURL.slice(0, 2048) } : {}),
        },
        dryRun: false,
      },
    };
  }
}

/**
 * The policy's plain-language template as the incident's first public update, so the status page
 * says something at once, in words people wrote, never the alert's.
 */
function publicSide(template: PolicyPublic, now: Date): IncidentPublic {
  return {
    ...(template.title ? { title: template.title } : {}),
    ...(template.components ? { components: template.components } : {}),
    ...(template.impact ? { impact: template.impact } : {}),
    updates: [{ time: now.toISOString(), status: 'investigating', message: template.message }],
  };
}

/** Whether the incident's signal cleared after its last firing, and this firing started later. */
function clearedBefore(incident: Incident, startsAt: string): boolean {
  const annotations = incident.metadata.annotations ?? {};
  const clearedAt = annotations[SIGNAL_CLEARED_ANNOTATION];
  const firedAt = [incident.spec.source.startsAt, annotations[RECURRED_ANNOTATION]]
    .filter((t): t is string => Boolean(t))
    .map((t) => new Date(t).getTime());
  if (!clearedAt) return false;
  const cleared = new Date(clearedAt).getTime();
  return cleared > Math.max(...firedAt, 0) && new Date(startsAt).getTime() >= cleared;
}

/** The default severity mapping, for alerts that no policy claims. */
function mappedSeverity(alert: ReceivedAlert): Severity {
  const label = (alert.labels.severity ?? '').toLowerCase();
  return Object.hasOwn(DEFAULT_SEVERITY_MAPPING, label)
    ? DEFAULT_SEVERITY_MAPPING[label as keyof typeof DEFAULT_SEVERITY_MAPPING]
    : 'P3';
}
