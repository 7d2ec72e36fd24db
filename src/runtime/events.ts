// Kubernetes Events (events.k8s.io/v1) about the objects the operator acts on: what
// `kubectl describe incident` shows. Emitted on transitions only, and, as client-go's
// EventCorrelator does, a repeat of the same Event within ten minutes becomes a count on the first
// one (`series`) instead of a new object, and each object gets a bounded share of Events.
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

interface Emitted {
  name: string;
  namespace: string;
  count: number;
  firstSeen: number;
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

  constructor(
    clients: ApiClientFactory,
    options: { controller: string; instance: string; clock: Clock; logger: Logger },
  ) {
    this.api = clients.makeApiClient(EventsV1Api);
    this.controller = options.controller;
    this.instance = options.instance;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /** Best effort: an Event that cannot be written is logged, and never fails the reconcile. */
  async record(
    regarding: EventSubject,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
  ): Promise<void> {
    const namespace = regarding.metadata?.namespace ?? 'default';
    const subject = regarding.metadata?.uid ?? `${namespace}/${regarding.metadata?.name ?? ''}`;
    const now = this.clock.now().getTime();
    if (!this.budget(subject).tryTake()) {
      this.logger.debug({ namespace, reason, subject }, 'event dropped: too many for one object');
      return;
    }
    const key = `${subject}\u0000${type}\u0000${reason}\u0000${note}`;
    const previous = this.emitted.get(key);
    try {
      if (previous && now - previous.firstSeen < SERIES_WINDOW_MS) {
        previous.count++;
        await this.api.patchNamespacedEvent(
          {
            name: previous.name,
            namespace: previous.namespace,
            body: { series: { count: previous.count, lastObservedTime: new V1MicroTime(now) } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      }
      const name = await this.create(regarding, namespace, type, reason, note, now);
      this.remember(key, { name, namespace, count: 1, firstSeen: now });
    } catch (error) {
      // An Event counted on that expired meanwhile: start a new one next time.
      if (error instanceof ApiException && error.code === 404) this.emitted.delete(key);
      this.logger.warn({ namespace, reason, err: errorMessage(error) }, 'could not record event');
    }
  }

  private async create(
    regarding: EventSubject,
    namespace: string,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
    now: number,
  ): Promise<string> {
    const name = `${regarding.metadata?.name ?? 'object'}.${now.toString(16)}${randomBytes(2).toString('hex')}`;
    await this.api.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name, namespace },
        eventTime: new V1MicroTime(now),
        type,
        reason,
        action: reason,
        note: note.slice(0, 1024),
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
    return name;
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
