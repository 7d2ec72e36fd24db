// Long-running effects (a queue drain) run as background jobs of the leader, one per attempt id. A
// reconciler pass never waits on one: it starts the job (a no-op when it already runs) and reads
// its snapshot. The registry is memory only; after a crash the next leader starts the job again for
// the same attempt, and the job resumes from what the external system holds.
import type { Clock } from '../runtime/clock.ts';

export type JobRun<P, R> = (signal: AbortSignal, report: (progress: P) => void) => Promise<R>;

interface Times {
  startedAt: Date;
}
export type JobSnapshot<P, R> =
  | (Times & { state: 'running'; progress?: P })
  | (Times & { state: 'succeeded'; progress?: P; finishedAt: Date; result: R })
  | (Times & { state: 'failed'; progress?: P; finishedAt: Date; error: Error });

export interface JobRegistryOptions {
  clock: Clock;
  /** How long a finished job's outcome stays readable if nobody calls forget(). */
  retainMs?: number;
  /** Called once when a job finishes, so its owner can look again (enqueue the incident). */
  onSettled?: (id: string) => void;
}

interface Entry<P, R> {
  /** Replaced as the job reports progress and finishes. */
  current: { snapshot: JobSnapshot<P, R> };
  controller: AbortController;
  settled: Promise<JobSnapshot<P, R>>;
}

export class JobRegistry<P, R> {
  private readonly jobs = new Map<string, Entry<P, R>>();
  private readonly clock: Clock;
  private readonly retainMs: number;
  private readonly onSettled: ((id: string) => void) | undefined;

  constructor(options: JobRegistryOptions) {
    this.clock = options.clock;
    this.retainMs = options.retainMs ?? 60 * 60_000;
    this.onSettled = options.onSettled;
  }

  /**
   * Starts `run` under `id` unless a job with that id is running or finished and still retained:
   * then it returns that job's snapshot and `run` is not called. One run per attempt id.
   */
  start(id: string, run: JobRun<P, R>): JobSnapshot<P, R> {
    this.prune();
    const existing = this.jobs.get(id);
    if (existing) return existing.current.snapshot;
    const controller = new AbortController();
    const current: Entry<P, R>['current'] = { snapshot: { state: 'running', startedAt: this.clock.now() } };
    const report = (progress: P) => {
      if (current.snapshot.state === 'running') current.snapshot = { ...current.snapshot, progress };
    };
    const finish = (outcome: { result: R } | { error: Error }): JobSnapshot<P, R> => {
      const { startedAt, progress } = current.snapshot;
      const common = { startedAt, finishedAt: this.clock.now(), ...(progress ? { progress } : {}) };
      current.snapshot =
        'result' in outcome
          ? { state: 'succeeded', ...common, result: outcome.result }
          : { state: 'failed', ...common, error: outcome.error };
      this.onSettled?.(id);
      return current.snapshot;
    };
    // The run starts on a later tick: start() itself never throws, and never waits.
    const settled = Promise.resolve()
      .then(() => run(controller.signal, report))
      .then(
        (result) => finish({ result }),
        (error: unknown) => finish({ error: error instanceof Error ? error : new Error(String(error)) }),
      );
    this.jobs.set(id, { current, controller, settled });
    return current.snapshot;
  }

  get(id: string): JobSnapshot<P, R> | undefined {
    this.prune();
    return this.jobs.get(id)?.current.snapshot;
  }

  /** Resolves with the job's final snapshot (for shutdown and tests); undefined for an unknown id. */
  async settled(id: string): Promise<JobSnapshot<P, R> | undefined> {
    return this.jobs.get(id)?.settled;
  }

  /**
   * Stops a running job (the pause, a person's resolution, the incident deleted): its run sees the
   * signal with `reason` and ends as it chooses (a queue job requeues what it has not settled), then
   * the job is failed with the run's error. True when a running job was told to stop; a finished
   * job keeps its outcome and a job already told keeps the first reason.
   */
  abort(id: string, reason: string): boolean {
    const entry = this.jobs.get(id);
    if (!entry || entry.current.snapshot.state !== 'running' || entry.controller.signal.aborted) return false;
    entry.controller.abort(reason);
    return true;
  }

  /**
   * Stops every running job at once (the lease is lost and another replica takes over, or the
   * process shuts down); resolves once each has ended.
   */
  async abortAll(reason: string): Promise<void> {
    const ids = this.running();
    for (const id of ids) this.abort(id, reason);
    await Promise.all(ids.map((id) => this.settled(id)));
  }

  /** Drops a finished job once its outcome is recorded; a running job is left alone. */
  forget(id: string): void {
    if (this.jobs.get(id)?.current.snapshot.state !== 'running') this.jobs.delete(id);
  }

  /** Ids of the jobs still running. */
  running(): string[] {
    return [...this.jobs].filter(([, e]) => e.current.snapshot.state === 'running').map(([id]) => id);
  }

  private prune(): void {
    const cutoff = this.clock.now().getTime() - this.retainMs;
    for (const [id, { current }] of this.jobs) {
      const { snapshot } = current;
      if (snapshot.state !== 'running' && snapshot.finishedAt.getTime() < cutoff) this.jobs.delete(id);
    }
  }
}
