// The Alertmanager webhook receiver, served by every replica. Each alert of a notification is taken
// on its own: the answer lists every alert's outcome (or what is wrong with it, by field path). It is
// 200 once every valid alert is written, 503 while the caches are not synced or when any write failed
// for a reason that may pass (Alertmanager then retries the whole group, and the alerts already
// written come back as duplicates), and 4xx only for requests that can never succeed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpService } from '../runtime/httpserver.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { AlertIntake } from './intake.ts';
import { parseAlertmanagerPayload } from './payload.ts';

export const WEBHOOK_PATH = '/webhook/alertmanager';

export interface AlertWebhookOptions {
  intake: AlertIntake;
  /** The bearer token senders must present; undefined only with the explicit insecure setting. */
  token: string | undefined;
  maxBodyBytes: number;
  /** The caches intake reads are in sync; until then an alert could be judged from an empty cache. */
  ready: () => boolean;
  metrics: Metrics;
  logger: Logger;
}

class HttpError extends Error {
  readonly status: number;
  readonly details: string[];
  readonly outcome: string;

  constructor(status: number, outcome: string, message: string, details: string[] = []) {
    super(message);
    this.status = status;
    this.outcome = outcome;
    this.details = details;
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();

export class AlertWebhook extends HttpService {
  private readonly options: AlertWebhookOptions;
  private readonly tokenDigest: Buffer | undefined;

  constructor(options: AlertWebhookOptions) {
    super();
    this.options = options;
    this.tokenDigest = options.token === undefined ? undefined : digest(options.token);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { metrics, logger, intake } = this.options;
    const started = performance.now();
    const answered = (outcome: string) => {
      metrics.webhookRequests.inc({ outcome });
      metrics.webhookDuration.observe({ outcome }, (performance.now() - started) / 1000);
    };
    try {
      if ((req.url ?? '').split('?')[0] !== WEBHOOK_PATH)
        throw new HttpError(404, 'not_found', `no such path; Alertmanager posts to ${WEBHOOK_PATH}`);
      if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'only POST is accepted');
      this.authenticate(req);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json')
        throw new HttpError(
          415,
          'unsupported_media_type',
          `Content-Type must be application/json, got ${JSON.stringify(type)}`,
        );
      const raw = await this.readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch (error) {
        throw new HttpError(400, 'invalid', `body is not valid JSON: ${errorMessage(error)}`);
      }
      const parsed = parseAlertmanagerPayload(body);
      if (!parsed.ok)
        throw new HttpError(
          400,
          'invalid',
          'not a valid Alertmanager webhook (version 4) payload',
          parsed.errors,
        );
      if (!this.options.ready())
        throw new HttpError(503, 'not_ready', 'caches not synced yet: retry shortly');
      const valid = parsed.entries.flatMap((e) => (e.ok ? [e] : []));
      const taken = await intake.ingest(
        valid.map((e) => e.alert),
        'alertmanager',
      );
      const outcomes = new Map(valid.map((e, i) => [e.index, taken[i]]));
      const alerts = parsed.entries.map((e) =>
        e.ok
          ? { index: e.index, ...outcomes.get(e.index) }
          : { index: e.index, result: 'invalid', errors: e.errors },
      );
      const invalid = parsed.entries.length - valid.length;
      if (invalid > 0) metrics.alertsReceived.inc({ source: 'alertmanager', result: 'invalid' }, invalid);
      const retry = taken.some((o) => o.result === 'failed');
      const outcome = retry
        ? 'unavailable'
        : valid.length === 0
          ? 'invalid'
          : invalid > 0
            ? 'partial'
            : 'accepted';
      answered(outcome);
      const status = retry ? 503 : valid.length === 0 ? 400 : 200;
      if (status !== 200)
        logger.warn(
          { status, outcome, invalid, alerts: parsed.entries.length },
          'alert webhook request not fully taken',
        );
      this.send(res, status, {
        status: retry ? 'retry' : valid.length === 0 ? 'error' : 'accepted',
        ...(retry
          ? { error: 'an Incident could not be written: the API server is unavailable, retry later' }
          : {}),
        ...(valid.length === 0 ? { error: 'no alert of the notification is valid' } : {}),
        ...(invalid > 0 ? { details: parsed.entries.flatMap((e) => (e.ok ? [] : e.errors)) } : {}),
        alerts,
      });
    } catch (error) {
      const failure = error instanceof HttpError ? error : new HttpError(500, 'error', errorMessage(error));
      answered(failure.outcome);
      (failure.status >= 500 ? logger.warn.bind(logger) : logger.info.bind(logger))(
        {
          status: failure.status,
          outcome: failure.outcome,
          error: failure.message,
          details: failure.details,
        },
        'alert webhook request refused',
      );
      if (failure.status === 401) res.setHeader('www-authenticate', 'Bearer realm="selfheal"');
      this.send(res, failure.status, {
        status: 'error',
        error: failure.message,
        ...(failure.details.length ? { details: failure.details } : {}),
      });
    }
  }

  private authenticate(req: IncomingMessage): void {
    if (!this.tokenDigest) return;
    const header = req.headers.authorization;
    if (!header)
      throw new HttpError(401, 'unauthorized', 'missing bearer token: send Authorization: Bearer <token>');
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1])
      throw new HttpError(401, 'unauthorized', 'the Authorization header is not a bearer token');
    if (!timingSafeEqual(digest(match[1].trim()), this.tokenDigest))
      throw new HttpError(401, 'unauthorized', 'invalid bearer token');
  }

  private readBody(req: IncomingMessage): Promise<string> {
    const limit = this.options.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit)
      return Promise.reject(
        new HttpError(413, 'too_large', `body of ${declared} bytes exceeds the limit of ${limit}`),
      );
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners('data');
          reject(new HttpError(413, 'too_large', `body exceeds the limit of ${limit} bytes`));
          req.resume();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  private send(res: ServerResponse, status: number, body: object): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  }
}
