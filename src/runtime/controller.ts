// Runs a reconciler over a work queue with N workers, only while this replica leads. Keys come from
// informer events; on taking the lead every cached key is queued once, so nothing waits for a change.
import { ApiException } from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileResult {
  /** Look at the key again after this long, even without a change. */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: string): Promise<ReconcileResult>;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  workers: number;
  logger: Logger;
  metrics: Metrics;
  /** Every key the cache holds, queued when this replica starts leading. */
  allKeys: () => string[];
  backoff?: { baseMs: number; maxMs: number };
  /** Overall limit on retries across keys (client-go: 10 qps, burst 100). */
  retryLimit?: { qps: number; burst: number };
}

/** A write that lost to a newer version: the cache will deliver it; retry without alarm. */
const isConflict = (error: unknown) => error instanceof ApiException && error.code === 409;

export class Controller {
  private readonly options: ControllerOptions;
  private queue: WorkQueue | undefined;
  private workers: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.options = options;
  }

  /** Every cached key, now (after the API server came back, say). */
  enqueueAll(): void {
    for (const key of this.options.allKeys()) this.queue?.add(key);
  }

  /** Informer handlers call this; keys that arrive while not leading are picked up on taking the lead. */
  enqueue(key: string): void {
    this.queue?.add(key);
  }

  start(): void {
    if (this.queue) return;
    const { name, metrics } = this.options;
    const queue = new WorkQueue({
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
      ...(this.options.retryLimit ? { retryLimit: this.options.retryLimit } : {}),
      onDepthChange: (depth) => metrics.workqueueDepth.set({ controller: name }, depth),
    });
    this.queue = queue;
    metrics.workqueueDepth.set({ controller: name }, 0);
    for (const key of this.options.allKeys()) queue.add(key);
    this.workers = Array.from({ length: this.options.workers }, () => this.work(queue));
    this.options.logger.info({ controller: name, workers: this.options.workers }, 'controller started');
  }

  /** Stops handing out keys at once (leadership lost); in-flight reconciles finish their step. */
  async stop(): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    this.queue = undefined;
    queue.shutDown();
    await Promise.all(this.workers);
    this.options.logger.info({ controller: this.options.name }, 'controller stopped');
  }

  private async work(queue: WorkQueue): Promise<void> {
    const { name, reconciler, logger, metrics } = this.options;
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      const started = performance.now();
      let result = 'success';
      try {
        const { requeueAfterMs } = await reconciler.reconcile(key);
        queue.forget(key);
        if (requeueAfterMs !== undefined) {
          result = 'requeue';
          queue.addAfter(key, requeueAfterMs);
        }
      } catch (error) {
        const conflict = isConflict(error);
        result = conflict ? 'conflict' : 'error';
        logger[conflict ? 'debug' : 'warn'](
          {
            controller: name,
            key,
            err: errorMessage(error),
            retries: queue.numRequeues(key),
          },
          conflict ? 'conflict with a newer version; retrying' : 'reconcile failed; retrying with backoff',
        );
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
        metrics.reconcileDuration.observe({ controller: name, result }, (performance.now() - started) / 1000);
      }
    }
  }
}
