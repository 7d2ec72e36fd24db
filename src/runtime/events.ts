// Kubernetes Events (events.k8s.io/v1) about the objects the operator acts on: what
// `kubectl describe incident` shows. Emitted on transitions only, and, as client-go's
// EventCorrelator does, a repeat of the same Event within ten minutes becomes a count on the first
// one (`series`) instead of a new object, and each object gets a bounded share of Events. As with
// client-go's broadcaster, recording only queues the Event: it is written in the background, a
// few at a time, so a reconcile never waits for its Events (they are best effort), and a full
// backlog drops the newest instead of growing without bound.
import {
  ApiException,
  EventsV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import type { ApiClientFactory } from './kube.ts';
import { TokenBucket } from './ratelimit.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import { trimUtf8 } from '../api/trim.ts';

/** The object an Event is about (any API object; timestamps may be strings or Dates). */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  record(regarding: EventSubject, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void>;
}

/** client-go's defaults: repeats within 10 minutes are counted; 25 Events per object, then 1 per 5 min. */
const SERIES_WINDOW_MS = 10 * 60_000;
const MAX_REMEMBERED = 4096;
const PER_OBJECT_BURST = 25;
const PER_OBJECT_QPS = 1 / 300;
/** Events written at once, and waiting at most (client-go's broadcaster queues 1000). */
const MAX_IN_FLIGHT = 4;
const MAX_BACKLOG = 1000;

/** The overall pace of Event writes: below the status writes they accompany, never ahead of them. */
export interface EventRate {
  qps: number;
  burst: number;
}

class BacklogFullError extends Error {
  constructor() {
    super(`event dropped: ${MAX_BACKLOG} Events are waiting to be written already`);
  }
}

interface Emitted {
  name: string;
  namespace: string;
  count: number;
  firstSeen: number;
  /** The writes of this Event (its creation, then its count patches), one after the other. */
  writes: Promise<void>;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly api: EventsV1Api;
  private readonly controller: string;
  private readonly instance: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Insertion-ordered, so the oldest entries go first when it is full. */
  private readonly emitted = new Map<string, Emitted>();
  private readonly budgets = new Map<string, TokenBucket>();
  private readonly backlog: (() => Promise<void>)[] = [];
  private readonly rate: TokenBucket | undefined;
  private inFlight = 0;

  constructor(
    clients: ApiClientFactory,
    options: { controller: string; instance: string; clock: Clock; logger: Logger; rate?: EventRate },
  ) {
    this.api = clients.makeApiClient(EventsV1Api);
    this.rate = options.rate
      ? new TokenBucket(options.rate.qps, options.rate.burst, options.clock)
      : undefined;
    this.controller = options.controller;
    this.instance = options.instance;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /**
   * Queues the Event and resolves at once (best effort): one that cannot be written is logged, and
   * never fails or delays the reconcile.
   */
  record(regarding: EventSubject, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void> {
    const namespace = regarding.metadata?.namespace ?? 'default';
    const subject = regarding.metadata?.uid ?? `${namespace}/${regarding.metadata?.name ?? ''}`;
    const now = this.clock.now().getTime();
    if (!this.budget(subject).tryTake()) {
      this.logger.debug({ namespace, reason, subject }, 'event dropped: too many for one object');
      return Promise.resolve();
    }
    const key = `${subject}\u0000${type}\u0000${reason}\u0000${note}`;
    const previous = this.emitted.get(key);
    const failed = (entry: Emitted, error: unknown, creating: boolean) => {
      // An Event that was never written, or expired meanwhile: the next repeat starts a new one.
      if (
        (creating || (error instanceof ApiException && error.code === 404)) &&
        this.emitted.get(key) === entry
      )
        this.emitted.delete(key);
      if (error instanceof BacklogFullError) this.logger.debug({ namespace, reason }, error.message);
      else this.logger.warn({ namespace, reason, err: errorMessage(error) }, 'could not record event');
    };
    if (previous && now - previous.firstSeen < SERIES_WINDOW_MS) {
      const count = ++previous.count;
      previous.writes = previous.writes
        .then(() =>
          this.emitted.get(key) === previous
            ? this.submit(() => this.patchCount(previous, count, now))
            : undefined,
        )
        .catch((error: unknown) => failed(previous, error, false));
    } else {
      const name = `${regarding.metadata?.name ?? 'object'}.${now.toString(16)}${randomBytes(2).toString('hex')}`;
      const entry: Emitted = { name, namespace, count: 1, firstSeen: now, writes: Promise.resolve() };
      entry.writes = this.submit(() =>
        this.create(regarding, name, namespace, type, reason, note, now),
      ).catch((error: unknown) => failed(entry, error, true));
      this.remember(key, entry);
    }
    return Promise.resolve();
  }

  /**
   * Waits until every queued Event is written or given up, for at most `timeoutMs`, and drops the
   * rest: on shutdown, before the lease goes.
   */
  async drain(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.inFlight > 0 || this.backlog.length > 0) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.backlog.length > 0)
      this.logger.info({ dropped: this.backlog.length }, 'events not written before shutdown');
    this.backlog.length = 0;
  }

  /** Runs the write when one of the few slots is free; rejects at once when the backlog is full. */
  private submit<T>(write: () => Promise<T>): Promise<T> {
    if (this.backlog.length >= MAX_BACKLOG) return Promise.reject(new BacklogFullError());
    return new Promise<T>((resolve, reject) => {
      this.backlog.push(() => write().then(resolve, reject));
      this.pump();
    });
  }

  /** Starts queued writes while slots are free, each once the overall rate allows it. */
  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT) {
      const next = this.backlog.shift();
      if (!next) return;
      this.inFlight++;
      const run = () =>
        void next().finally(() => {
          this.inFlight--;
          this.pump();
        });
      const waitMs = this.rate?.reserve() ?? 0;
      if (waitMs > 0) setTimeout(run, waitMs);
      else run();
    }
  }

  private async patchCount(entry: Emitted, count: number, now: number): Promise<void> {
    await this.api.patchNamespacedEvent(
      {
        name: entry.name,
        namespace: entry.namespace,
        body: { series: { count, lastObservedTime: new V1MicroTime(now) } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private async create(
    regarding: EventSubject,
    name: string,
    namespace: string,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
    now: number,
  ): Promise<void> {
    await this.api.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name, namespace },
        eventTime: new V1MicroTime(now),
        type,
        reason,
        action: reason,
        // The API server bounds a note in bytes (1 kB), not characters.
        note: trimUtf8(note, 1024),
        reportingController: this.controller,
        reportingInstance: this.instance,
        regarding: {
          apiVersion: regarding.apiVersion,
          kind: regarding.kind,
          name: regarding.metadata?.name,
          namespace,
          uid: regarding.metadata?.uid,
          resourceVersion: regarding.metadata?.resourceVersion,
        },
      },
    });
  }

  private remember(key: string, entry: Emitted): void {
    this.emitted.delete(key);
    this.emitted.set(key, entry);
    if (this.emitted.size > MAX_REMEMBERED) this.emitted.delete(this.emitted.keys().next().value ?? '');
  }

  private budget(subject: string): TokenBucket {
    let bucket = this.budgets.get(subject);
    if (!bucket) {
      bucket = new TokenBucket(PER_OBJECT_QPS, PER_OBJECT_BURST, this.clock);
      this.budgets.set(subject, bucket);
      if (this.budgets.size > MAX_REMEMBERED) this.budgets.delete(this.budgets.keys().next().value ?? '');
    }
    return bucket;
  }
}
