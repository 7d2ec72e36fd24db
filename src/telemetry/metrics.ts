// The operator's Prometheus metrics (prefix selfheal_). One registry per process, passed to whoever
// records, so tests read the same numbers /metrics serves.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const RESPONSE_BUCKETS = [10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200];

/** The label value that stands for every value past a BoundedLabel's bound. */
export const OTHER_LABEL = 'other';
/** Alert names seen per process before the rest count as `other`: well above a real rule set. */
export const MAX_ALERTNAME_LABELS = 200;
const MAX_LABEL_LENGTH = 128;

/**
 * A label whose values come from outside the operator (whoever writes alert rules chooses alert
 * names): the first `max` values keep their own series, any further one counts as `other`, so a flood
 * of made-up names cannot grow the registry (or the Prometheus that scrapes it) without bound.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  value(raw: string): string {
    if (this.seen.has(raw)) return raw;
    if (this.seen.size >= this.max || raw.length > MAX_LABEL_LENGTH || raw === OTHER_LABEL)
      return OTHER_LABEL;
    this.seen.add(raw);
    return raw;
  }
}

// Every other label below takes its values from a fixed set the operator defines (severities,
// phases, actions, results, condition reasons, receiver types, controllers): none is a name a tenant
// chose (namespace, incident, policy, receiver or workload names never become labels).
export class Metrics {
  readonly registry = new Registry();

  /** Counted from the cache at each scrape; main.ts sets the source. */
  incidentSource: () => Iterable<{ severity: string; phase: string }> = () => [];
  readonly incidents = new Gauge({
    name: 'selfheal_incidents',
    help: 'Incidents in the cache, by severity and phase.',
    labelNames: ['severity', 'phase'] as const,
    registers: [this.registry],
    collect: () => {
      this.incidents.reset();
      for (const labels of this.incidentSource()) this.incidents.inc(labels);
    },
  });
  readonly remediationAttempts = new Counter({
    name: 'selfheal_remediation_attempts_total',
    help: 'Remediation attempts that ended, by action and result.',
    labelNames: ['action', 'result'] as const,
    registers: [this.registry],
  });
  readonly remediationDuration = new Histogram({
    name: 'selfheal_remediation_duration_seconds',
    help: 'From recording an attempt to its end, by action and result.',
    labelNames: ['action', 'result'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly verifications = new Counter({
    name: 'selfheal_verifications_total',
    help: 'Verification outcomes (passed, failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly escalations = new Counter({
    name: 'selfheal_escalations_total',
    help: 'Incidents escalated to people, by reason (a refused action names its harm limit).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly notifications = new Counter({
    name: 'selfheal_notifications_total',
    help: 'Notification delivery tries, by receiver type, event (trigger, acknowledge, update, resolve) and result (delivered, retry, failed, skipped).',
    labelNames: ['receiver_type', 'event', 'result'] as const,
    registers: [this.registry],
  });
  /** Counted from the cache at each scrape; main.ts sets the source. */
  postMortemSource: () => number = () => 0;
  readonly postMortemsOverdue = new Gauge({
    name: 'selfheal_postmortems_overdue',
    help: 'Resolved incidents whose required post-mortem is past its due time and not recorded.',
    registers: [this.registry],
    collect: () => {
      this.postMortemsOverdue.set(this.postMortemSource());
    },
  });
  readonly slaBreaches = new Counter({
    name: 'selfheal_sla_breaches_total',
    help: 'Response and resolution targets missed, by severity.',
    labelNames: ['severity', 'sla'] as const,
    registers: [this.registry],
  });
  readonly timeToAcknowledge = new Histogram({
    name: 'selfheal_time_to_acknowledge_seconds',
    help: 'From opening to acknowledgement, by severity.',
    labelNames: ['severity'] as const,
    buckets: RESPONSE_BUCKETS,
    registers: [this.registry],
  });
  readonly timeToResolve = new Histogram({
    name: 'selfheal_time_to_resolve_seconds',
    help: 'From opening to resolution, by severity and by who resolved it (automation, person).',
    labelNames: ['severity', 'resolved_by'] as const,
    buckets: RESPONSE_BUCKETS,
    registers: [this.registry],
  });
  readonly webhookRequests = new Counter({
    name: 'selfheal_webhook_requests_total',
    help: 'Alert webhook requests, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookDuration = new Histogram({
    name: 'selfheal_webhook_request_duration_seconds',
    help: 'Alert webhook request latency, from the request to the answer, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly alertsReceived = new Counter({
    name: 'selfheal_alerts_total',
    help: 'Alerts taken in, by source (alertmanager, prometheus) and outcome (created, duplicate, reopened, cleared, unmatched, escalation-only, unknown-incident, invalid, refused, failed).',
    labelNames: ['source', 'result'] as const,
    registers: [this.registry],
  });
  private readonly unmatchedByName = new Counter({
    name: 'selfheal_alerts_unmatched_total',
    help: `Firing alerts that no RemediationPolicy matched, by alert name (the first ${MAX_ALERTNAME_LABELS} names seen; the rest as "${OTHER_LABEL}").`,
    labelNames: ['alertname'] as const,
    registers: [this.registry],
  });
  private readonly unmatchedNames = new BoundedLabel(MAX_ALERTNAME_LABELS);
  readonly alertsUnmatched = {
    inc: ({ alertname }: { alertname: string }): void =>
      this.unmatchedByName.inc({ alertname: this.unmatchedNames.value(alertname) }),
  };
  readonly queueMessages = new Counter({
    name: 'selfheal_queue_messages_total',
    help: 'RabbitMQ messages handled by queue actions, by operation (moved, replayed, purged).',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });
  readonly workqueueDepth = new Gauge({
    name: 'selfheal_workqueue_depth',
    help: 'Keys waiting in the work queue.',
    labelNames: ['controller'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'selfheal_reconcile_duration_seconds',
    help: 'Time per reconcile, by controller and result (success, requeue, error).',
    labelNames: ['controller', 'result'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'selfheal_leader',
    help: '1 while this replica holds the leader lease.',
    registers: [this.registry],
  });

  constructor({ processMetrics = true }: { processMetrics?: boolean } = {}) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'selfheal_' });
  }
}
