// Prometheus as an alert source without Alertmanager: polls /api/v1/alerts and feeds firing alerts,
// and those that stopped firing since the last poll, through the same intake (same names, same
// dedupe). Run by the leader only; a new leader starts from what Prometheus reports.
import axios, { type AxiosInstance } from 'axios';
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
  clock: Clock;
  logger: Logger;
}

export class PrometheusAlertPoller {
  private readonly options: PrometheusAlertPollerOptions;
  private readonly http: AxiosInstance;
  private firing = new Map<string, ReceivedAlert>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: PrometheusAlertPollerOptions) {
    this.options = options;
    this.http = axios.create({ baseURL: options.prometheusUrl, timeout: 10_000 });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.firing = new Map();
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

  /** One poll: firing alerts in, alerts gone since the last poll out as resolved. */
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
    const gone = [...this.firing.values()]
      .filter((a) => !current.has(a.fingerprint))
      .map((a): ReceivedAlert => ({ ...a, status: 'resolved', endsAt: now }));
    await this.options.intake.ingest([...current.values(), ...gone], 'prometheus');
    this.firing = current;
  }
}
