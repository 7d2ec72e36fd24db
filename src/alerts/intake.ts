// From alerts to Incidents, for every source (the Alertmanager webhook, the Prometheus poller): the
// matching RemediationPolicy in the alert's own namespace decides severity, target and actions; the
// Incident's name comes from the alert (fingerprint and start), so duplicates are no-ops; a resolved
// alert marks its Incident's signal cleared; the same signal firing again soon after an automated fix
// reopens that Incident instead of starting a new one.
import type { ObjectCache } from '@kubernetes/client-node';
import {
  FINGERPRINT_LABEL,
  RECURRED_ANNOTATION,
  SIGNAL_CLEARED_ANNOTATION,
  type Severity,
} from '../api/group.ts';
import type { Incident } from '../api/incident.ts';
import { DEFAULT_SEVERITY_MAPPING, type RemediationPolicy } from '../api/policy.ts';
import type { PolicyPublic } from '../api/public.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { incidentNameFor } from './identity.ts';
import { selectPolicy, severityFor, targetFor } from './matching.ts';
import type { ReceivedAlert } from './payload.ts';
import type { IncidentStore } from './store.ts';

export type AlertSource = 'alertmanager' | 'prometheus';

export type IntakeResult =
  'created' | 'duplicate' | 'reopened' | 'cleared' | 'unmatched' | 'escalation-only' | 'unknown-incident';

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
  incidents: ObjectCache<Incident>;
  /** Where alerts no policy matches become escalation-only Incidents; undefined: only counted. */
  unmatchedNamespace?: string;
  recurrenceWindowMs: number;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
}

const LABEL_VALUE = /[^A-Za-z0-9._-]/g;
const labelValue = (text: string) =>
  text
    .replace(LABEL_VALUE, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');

export class AlertIntake {
  private readonly options: AlertIntakeOptions;

  constructor(options: AlertIntakeOptions) {
    this.options = options;
  }

  /** Writes what the alerts mean; throws when the API server cannot be written (the sender retries). */
  async ingest(alerts: readonly ReceivedAlert[], source: AlertSource): Promise<IntakeOutcome[]> {
    const outcomes: IntakeOutcome[] = [];
    for (const alert of alerts) {
      const outcome =
        alert.status === 'firing' ? await this.firing(alert, source) : await this.resolved(alert);
      this.options.logger.info({ source, ...outcome }, 'alert received');
      outcomes.push(outcome);
    }
    return outcomes;
  }

  private async firing(alert: ReceivedAlert, source: AlertSource): Promise<IntakeOutcome> {
    const { store, policies, metrics } = this.options;
    const alertname = alert.labels.alertname ?? '';
    const base = { alertname, fingerprint: alert.fingerprint };
    const namespace = alert.labels.namespace;
    const policy = namespace ? selectPolicy(policies.list(namespace), alert) : undefined;
    if (!namespace || !policy) {
      metrics.alertsUnmatched.inc({ alertname });
      const where = this.options.unmatchedNamespace;
      const note = namespace
        ? `no RemediationPolicy in namespace ${namespace} matches`
        : 'the alert has no namespace label';
      if (!where) return { ...base, result: 'unmatched', note };
      const incident = this.incident(
        alert,
        source,
        where,
        mappedSeverity(alert),
        `${note}; escalation only`,
        undefined,
      );
      await store.create(incident);
      return {
        ...base,
        result: 'escalation-only',
        namespace: where,
        incident: incident.metadata.name ?? '',
        note,
      };
    }
    const reopened = this.recurrenceOf(alert, namespace);
    if (reopened) {
      const name = reopened.metadata.name ?? '';
      if (reopened.metadata.annotations?.[RECURRED_ANNOTATION] === alert.startsAt)
        return { ...base, result: 'duplicate', namespace, incident: name };
      await store.annotate(namespace, name, { [RECURRED_ANNOTATION]: alert.startsAt });
      return { ...base, result: 'reopened', namespace, incident: name };
    }
    // The same signal from another source or another sender may carry another start time (Prometheus
    // reports when the alert became active, Alertmanager when it fired): one open incident per signal.
    const open = this.openIncidentOf(alert, namespace);
    if (open) {
      const name = open.metadata.name ?? '';
      // Back after it had cleared (during verification, say): the fix did not last.
      if (!clearedBefore(open, alert.startsAt))
        return { ...base, result: 'duplicate', namespace, incident: name };
      await store.annotate(namespace, name, { [RECURRED_ANNOTATION]: alert.startsAt });
      return { ...base, result: 'reopened', namespace, incident: name };
    }
    const target = targetFor(policy, alert);
    const incident = this.incident(
      alert,
      source,
      namespace,
      severityFor(policy, alert),
      'error' in target ? target.error : undefined,
      policy.spec.public,
    );
    incident.spec.policyRef = { name: policy.metadata.name ?? '' };
    if (!('error' in target)) incident.spec.target = target;
    const created = await store.create(incident);
    return {
      ...base,
      result: created === 'created' ? 'created' : 'duplicate',
      namespace,
      incident: incident.metadata.name ?? '',
    };
  }

  private async resolved(alert: ReceivedAlert): Promise<IntakeOutcome> {
    const base = { alertname: alert.labels.alertname ?? '', fingerprint: alert.fingerprint };
    const clearedAt = alert.endsAt ?? this.options.clock.now().toISOString();
    const namespaces = [alert.labels.namespace, this.options.unmatchedNamespace].filter((n): n is string =>
      Boolean(n),
    );
    const byName = incidentNameFor(alert);
    for (const namespace of namespaces) {
      // The incident raised for this firing, or the one its return reopened.
      const reopened = this.options.incidents
        .list(namespace)
        .find(
          (i) =>
            i.metadata.labels?.[FINGERPRINT_LABEL] === labelValue(alert.fingerprint) &&
            i.metadata.annotations?.[RECURRED_ANNOTATION] === alert.startsAt,
        );
      const name = reopened?.metadata.name ?? byName;
      if (
        (await this.options.store.annotate(namespace, name, { [SIGNAL_CLEARED_ANNOTATION]: clearedAt })) ===
        'annotated'
      ) {
        return { ...base, result: 'cleared', namespace, incident: name };
      }
    }
    return { ...base, result: 'unknown-incident', note: 'no incident was raised for this alert' };
  }

  /** An incident of the same signal that is still open (not Resolved or Closed), if any. */
  private openIncidentOf(alert: ReceivedAlert, namespace: string): Incident | undefined {
    return this.options.incidents
      .list(namespace)
      .find(
        (i) =>
          i.metadata.labels?.[FINGERPRINT_LABEL] === labelValue(alert.fingerprint) &&
          i.status?.phase !== 'Resolved' &&
          i.status?.phase !== 'Closed',
      );
  }

  /** A recently auto-resolved incident of the same signal (a different start), if any. */
  private recurrenceOf(alert: ReceivedAlert, namespace: string): Incident | undefined {
    const now = this.options.clock.now().getTime();
    return this.options.incidents.list(namespace).find((i) => {
      if (i.metadata.labels?.[FINGERPRINT_LABEL] !== labelValue(alert.fingerprint)) return false;
      if (i.metadata.name === incidentNameFor(alert)) return false;
      const resolved = i.status?.conditions?.find((c) => c.type === 'Resolved' && c.status === 'True');
      const automated = resolved?.reason === 'RemediatedAndVerified';
      const recent =
        i.status?.resolvedAt !== undefined &&
        now - new Date(i.status.resolvedAt).getTime() <= this.options.recurrenceWindowMs;
      const alreadyReopened = i.metadata.annotations?.[RECURRED_ANNOTATION] === alert.startsAt;
      return (
        alreadyReopened ||
        (automated && recent && (i.status?.phase === 'Resolved' || i.status?.phase === 'Closed'))
      );
    });
  }

  private incident(
    alert: ReceivedAlert,
    source: AlertSource,
    namespace: string,
    severity: Severity,
    problem: string | undefined,
    publicTemplate: PolicyPublic | undefined,
  ): Incident {
    const alertname = alert.labels.alertname ?? 'alert';
    const summary = alert.annotations.summary || alert.annotations.message || `${alertname} is firing`;
    const description = [alert.annotations.description, problem].filter(Boolean).join('\n\n');
    return {
      metadata: {
        name: incidentNameFor(alert),
        namespace,
        labels: {
          [FINGERPRINT_LABEL]: labelValue(alert.fingerprint),
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
        // The policy's plain-language template is the incident's first public update, so the status
        // page says something at once, in words people wrote, never the alert's.
        ...(publicTemplate
          ? {
              public: {
                ...(publicTemplate.title ? { title: publicTemplate.title } : {}),
                ...(publicTemplate.components ? { components: publicTemplate.components } : {}),
                ...(publicTemplate.impact ? { impact: publicTemplate.impact } : {}),
                updates: [
                  {
                    time: this.options.clock.now().toISOString(),
                    status: 'investigating',
                    message: publicTemplate.message,
                  },
                ],
              },
            }
          : {}),
      },
    };
  }
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
