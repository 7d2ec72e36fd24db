// Prometheus as an alert source without Alertmanager: polls /api/v1/alerts and feeds firing alerts
// through the same intake (same names, same dedupe), and reports as resolved every open incident it
// raised whose alert Prometheus no longer fires. That comes from the incidents themselves, not from
// memory of the last poll, so an alert that stopped while the leader changed is still resolved.
// Run by the leader only.
import type { AxiosInstance } from 'axios';
import { RECURRED_ANNOTATION, SIGNAL_CLEARED_ANNOTATION } from '../api/group.ts';
import { outboundClient } from '../base/outbound.ts';
import type { IncidentCache } from '../incidents/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import { labelsFingerprint } from './identity.ts';
import type { AlertIntake } from './intake.ts';
import { parseRfc3339, type ReceivedAlert } from './payload.ts';

interface PrometheusAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
}

export interface PrometheusAlertPollerOptions {
  prometheusUrl: string;
  intervalMs: number;
  intake: AlertIntake;
  incidents: IncidentCache;
  clock: Clock;
  logger: Logger;
}

/** The largest /api/v1/alerts answer read (some 20,000 alerts); a larger one fails the poll. */
export const MAX_ALERTS_ANSWER_BYTES = 16 * 1024 * 1024;

export class PrometheusAlertPoller {
  private readonly options: PrometheusAlertPollerOptions;
  private readonly http: AxiosInstance;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: PrometheusAlertPollerOptions) {
    this.options = options;
    this.http = outboundClient({
      baseURL: options.prometheusUrl,
      timeout: 10_000,
      maxAnswerBytes: MAX_ALERTS_ANSWER_BYTES,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private async loop(): Promise<void> {
    if (!this.running) return;
    try {
      await this.poll();
    } catch (error) {
      this.options.logger.warn(
        {
          prometheus: this.options.prometheusUrl,
          err: errorMessage(error),
        },
        'polling Prometheus alerts failed; retrying',
      );
    }
    this.scheduleNext();
  }

  /** stop() may have been called while a poll was under way. */
  private scheduleNext(): void {
    if (this.running) this.timer = setTimeout(() => void this.loop(), this.options.intervalMs);
  }

  /** One poll: firing alerts in; open incidents this source raised whose alert is gone, resolved. */
  async poll(): Promise<void> {
    const { data } = await this.http.get<{ status: string; data: { alerts: PrometheusAlert[] } }>(
      '/api/v1/alerts',
    );
    const now = this.options.clock.now().toISOString();
    const current = new Map<string, ReceivedAlert>();
    for (const alert of data.data.alerts) {
      if (alert.state !== 'firing') continue;
      const fingerprint = labelsFingerprint(alert.labels);
      const startsAt = (alert.activeAt && parseRfc3339(alert.activeAt)?.toISOString()) ?? now;
      current.set(fingerprint, {
        status: 'firing',
        labels: alert.labels,
        annotations: alert.annotations ?? {},
        startsAt,
        fingerprint,
      });
    }
    const gone = this.options.incidents.list().flatMap((incident): ReceivedAlert[] => {
      const source = incident.spec.source;
      const phase = incident.status?.phase;
      if (source.type !== 'prometheus' || !source.fingerprint || !source.startsAt) return [];
      if (phase === 'Resolved' || phase === 'Closed' || current.has(source.fingerprint)) return [];
      const annotations = incident.metadata.annotations ?? {};
      // The latest firing of the signal (a recurrence) and whether it was reported cleared since.
      const firedAt =
        [source.startsAt, annotations[RECURRED_ANNOTATION] ?? ''].sort().at(-1) ?? source.startsAt;
      const clearedAt = annotations[SIGNAL_CLEARED_ANNOTATION];
      if (clearedAt && clearedAt > firedAt) return [];
      return [
        {
          status: 'resolved',
          labels: source.labels ?? {},
          annotations: {},
          startsAt: firedAt,
          endsAt: now,
          fingerprint: source.fingerprint,
        },
      ];
    });
    const outcomes = await this.options.intake.ingest([...current.values(), ...gone], 'prometheus');
    const failed = outcomes.filter((o) => o.result === 'failed');
    if (failed.length > 0)
      throw new Error(`${failed.length} alert(s) could not be written: ${failed[0]?.note ?? ''}`);
  }
}
