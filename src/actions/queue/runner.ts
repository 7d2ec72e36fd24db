// The queue actions' jobs for the reconciler: the registry keyed by attempt marker, each run the
// engine operation its action names, and a plain view of where each stands.
import type { ActionJobs, JobView } from '../action.ts';
import { JobRegistry } from '../jobs.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { SecretReader } from '../../runtime/secrets.ts';
import { errorMessage } from '../../telemetry/logger.ts';
import type { QueueEngine, QueueProgress, QueueResult } from './engine.ts';
import { QueueFailure } from './failure.ts';
import { queueJob } from './job.ts';

export class QueueJobs implements ActionJobs {
  private readonly registry: JobRegistry<QueueProgress, QueueResult>;
  private readonly engine: QueueEngine;
  private readonly secrets: SecretReader;
  private readonly mayRun: () => boolean;
  private readonly owners = new Map<string, string>();

  /** `settled` hears the owner (incident key) of every job that ends, to wake it. */
  constructor(options: {
    engine: QueueEngine;
    secrets: SecretReader;
    clock: Clock;
    settled: (owner: string) => void;
    /** Only the leader starts jobs. */
    mayRun: () => boolean;
  }) {
    this.engine = options.engine;
    this.secrets = options.secrets;
    this.mayRun = options.mayRun;
    this.registry = new JobRegistry({
      clock: options.clock,
      onSettled: (marker) => {
        const owner = this.owners.get(marker);
        this.owners.delete(marker);
        if (owner) options.settled(owner);
      },
    });
  }

  view(marker: string): JobView | undefined {
    const snapshot = this.registry.get(marker);
    if (!snapshot) return undefined;
    switch (snapshot.state) {
      case 'running':
        return {
          state: 'running',
          message: snapshot.progress?.message ?? 'started',
          ...(snapshot.progress ? { done: snapshot.progress.done, total: snapshot.progress.total } : {}),
        };
      case 'succeeded':
        return { state: 'succeeded', skipped: snapshot.result.skipped, message: snapshot.result.message };
      case 'failed':
        return {
          state: 'failed',
          reason: snapshot.error instanceof QueueFailure ? snapshot.error.reason : 'QueueActionFailed',
          message: errorMessage(snapshot.error),
        };
    }
  }

  start(marker: string, request: Parameters<ActionJobs['start']>[1]): void {
    if (!this.mayRun()) return;
    const { owner, ...job } = request;
    this.owners.set(marker, owner);
    this.registry.start(marker, queueJob(this.engine, this.secrets, { ...job, attempt: marker }));
  }

  abort(marker: string, reason: string): void {
    this.registry.abort(marker, reason);
  }

  abortOwnedBy(owner: string, reason: string): void {
    for (const [marker, by] of this.owners) if (by === owner) this.registry.abort(marker, reason);
  }

  /**
   * Leadership lost or shutting down: every run stops, nothing lost (they resume elsewhere).
   * Resolves once the runs have ended (a run requeues what it has not settled and closes its
   * connections at once), or after `withinMs` at the latest.
   */
  async abortAll(reason: string, withinMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
      timer.unref();
    });
    await Promise.race([this.registry.abortAll(reason), late]);
    clearTimeout(timer);
  }
}
