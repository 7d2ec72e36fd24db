import {
  ApiException,
  Observable,
  V1MicroTime,
  type ConfigurationOptions,
  type CoordinationV1Api,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { systemClock, type Clock } from './clock.ts';
import { errorMessage, createLogger, type Logger } from '../telemetry/logger.ts';

/**
 * The calls the elector makes. A structural subset of CoordinationV1Api, so that a test can stand a
 * wrapper in front of the real client (to cut a replica off from the API server) without mocks.
 */
export type LeaseClient = Pick<
  CoordinationV1Api,
  'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
>;

export interface LeaderElectorOptions {
  client: LeaseClient;
  namespace: string;
  name: string;
  /** Unique per process (pod name plus a random suffix): a restarted replica must not inherit a lease. */
  identity: string;
  /** How long followers wait, after they last saw the lease change, before taking it over. */
  leaseDurationMs?: number;
  /** How long the leader keeps acting without a successful renewal. Must be below leaseDurationMs. */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Wall-clock time, only for the timestamps written on the Lease for people to read. */
  clock?: Clock;
  /**
   * Monotonic milliseconds for every duration the election computes (performance.now by default):
   * a wall-clock step can neither extend nor cut short a lease.
   */
  monotonic?: () => number;
  logger?: Logger;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Called synchronously, before anyone else can take the lease over: stop acting here, at once. */
  onStoppedLeading(): void;
  onNewLeader?(identity: string): void;
}

/** What this replica last saw of the lease, and when it saw it change (monotonic ms). */
interface Observation {
  resourceVersion: string;
  holder: string;
  leaseDurationMs: number;
  observedAt: number;
}

type State = 'new' | 'running' | 'stopped';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with the semantics of client-go's leaderelection:
 * candidates retry every retryPeriod; a lease is free when it has no holder, or when it has not changed
 * for its leaseDuration as observed locally (never by comparing the holder's timestamps with our clock,
 * so clock skew between nodes does not matter); writes carry the resourceVersion that was read, so two
 * candidates racing for the same lease cannot both win.
 *
 * Safety rests on renewDeadline < leaseDuration: a leader's claim is valid until renewDeadline after
 * the start of its last successful renewal (monotonic time), and isLeader() is false from then on
 * even if the event loop was blocked and no timer has fired; a follower waits at least leaseDuration
 * after that renewal reached the API server. Requests the leader sends must time out within
 * leaseDuration - renewDeadline, so that none is still in flight when a follower can take over.
 */
export class LeaderElector {
  private readonly client: LeaseClient;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly monotonic: () => number;
  private readonly logger: Logger;

  private state: State = 'new';
  private callbacks: LeaderCallbacks | undefined;
  private leading = false;
  /** Monotonic ms until which this replica may act as leader. */
  private validUntil = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private observation: Observation | undefined;
  /** The lease as this replica last wrote it as holder: what release() hands back. */
  private written: V1Lease | undefined;
  private reportedLeader: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.client = opts.client;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.identity = opts.identity;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.clock = opts.clock ?? systemClock;
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.logger = opts.logger ?? createLogger();
    if (this.identity === '') throw new Error('leader election needs a non-empty identity');
    if (!(this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new Error(
        'renewDeadlineMs must be less than leaseDurationMs, or two replicas could lead at once',
      );
    }
    if (!(this.retryPeriodMs > 0 && this.retryPeriodMs < this.renewDeadlineMs)) {
      throw new Error('retryPeriodMs must be positive and less than renewDeadlineMs');
    }
  }

  start(callbacks: LeaderCallbacks): void {
    if (this.state !== 'new') throw new Error('a LeaderElector starts once');
    this.state = 'running';
    this.callbacks = callbacks;
    this.schedule(0);
  }

  /** True only while the last successful renewal is younger than renewDeadline (monotonic). */
  isLeader(): boolean {
    return this.leading && this.monotonic() < this.validUntil;
  }

  /** When the current claim lapses, on the wall clock (for logs and tests that compare with audit logs). */
  validUntilWallClock(): Date {
    return new Date(this.clock.now().getTime() + (this.validUntil - this.monotonic()));
  }

  /**
   * Stops the loops and, if this replica holds the lease, hands it back so that another replica takes
   * over at its next retry instead of after leaseDuration. Resolves once nothing is left running.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private get leaseRef(): string {
    return `${this.namespace}/${this.name}`;
  }

  private schedule(delayMs: number): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.inflight = this.attempt().finally(() => {
        this.inflight = undefined;
        if (this.state === 'running') this.schedule(this.nextRoundInMs());
      });
    }, delayMs);
  }

  /**
   * When the next round starts: after retryPeriod, or sooner while leading if the claim would lapse
   * before a renewal sent then could land. A lease acquired through a slow answer (an API server that
   * was frozen) is valid only for what is left of its round, and would be lost before its first
   * renewal; renewing early changes nothing of the claim's arithmetic.
   */
  private nextRoundInMs(): number {
    if (!this.leading) return this.retryPeriodMs;
    const leftMs = this.validUntil - this.monotonic() - this.retryPeriodMs;
    return Math.min(this.retryPeriodMs, Math.max(this.retryPeriodMs / 10, leftMs));
  }

  private async shutdown(): Promise<void> {
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Bounded: every attempt aborts its requests after renewDeadline.
    await this.inflight;
    // Before the release, not after: once the lease is handed back another replica may start at once.
    this.loseLeadership('stopping');
    const written = this.written;
    this.written = undefined;
    if (written) await this.release(written);
  }

  /** One round of acquire-or-renew. Never rejects: errors are logged and the next round retries. */
  private async attempt(): Promise<void> {
    const startedAt = this.monotonic();
    const abort = new AbortController();
    const timeout = setTimeout(() => {
      abort.abort(new Error(`lease request timed out after ${this.renewDeadlineMs} ms`));
    }, this.renewDeadlineMs);
    let held = false;
    try {
      held = await this.tryAcquireOrRenew(abortable(abort.signal));
    } catch (error) {
      this.logger.warn(
        { lease: this.leaseRef, identity: this.identity, err: errorMessage(error) },
        this.leading ? 'lease renewal failed' : 'lease acquisition failed',
      );
    } finally {
      clearTimeout(timeout);
    }
    if (this.state !== 'running') return;

    // Measured from the start of the round: the renewal reached the server no earlier than that.
    const remainingMs = this.renewDeadlineMs - (this.monotonic() - startedAt);
    if (held && remainingMs > 0) {
      this.validUntil = startedAt + this.renewDeadlineMs;
      this.armDeadline(remainingMs);
      if (!this.leading) {
        this.leading = true;
        this.logger.info({ lease: this.leaseRef, identity: this.identity }, 'became leader');
        this.notify('onStartedLeading', () => this.callbacks?.onStartedLeading());
      }
    } else if (this.leading) {
      const holder = this.observation?.holder ?? '';
      // Someone else's name on the lease is proof enough: no point acting until the deadline.
      if (holder !== '' && holder !== this.identity) this.loseLeadership(`lease taken over by ${holder}`);
    }
    this.reportLeader();
  }

  private async tryAcquireOrRenew(options: ConfigurationOptions): Promise<boolean> {
    const { name, namespace } = this;
    let current: V1Lease | undefined;
    try {
      current = await this.client.readNamespacedLease({ name, namespace }, options);
    } catch (error) {
      if (!hasCode(error, 404)) throw error;
    }

    if (current === undefined) {
      try {
        const body: V1Lease = { metadata: { name, namespace }, spec: this.record(undefined) };
        return this.wrote(await this.client.createNamespacedLease({ namespace, body }, options));
      } catch (error) {
        if (hasCode(error, 409)) return false; // another candidate created it first
        throw error;
      }
    }

    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity && !this.expired()) return false;

    try {
      const body = withSpec(current, this.record(spec));
      return this.wrote(await this.client.replaceNamespacedLease({ name, namespace, body }, options));
    } catch (error) {
      // Conflict: the lease changed since we read it, so whoever changed it won this round.
      if (hasCode(error, 409)) return false;
      throw error;
    }
  }

  /** The spec this replica writes to acquire or renew. */
  private record(previous: V1LeaseSpec | undefined): V1LeaseSpec {
    const now = new V1MicroTime(this.clock.now().getTime());
    const renewing = previous?.holderIdentity === this.identity;
    return {
      // Fields of coordinated leader election, which this elector does not use but must not wipe out.
      strategy: previous?.strategy,
      preferredHolder: previous?.preferredHolder,
      holderIdentity: this.identity,
      // The API counts in whole seconds; rounding up keeps followers from taking over too early.
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: renewing ? (previous.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: previous === undefined ? 0 : (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1),
    };
  }

  private wrote(lease: V1Lease): true {
    this.written = lease;
    this.observe(lease);
    return true;
  }

  private observe(lease: V1Lease): void {
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    if (this.observation?.resourceVersion === resourceVersion) return;
    const seconds = lease.spec?.leaseDurationSeconds;
    const holder = lease.spec?.holderIdentity ?? '';
    // Nothing of ours left to release once someone else has written the lease.
    if (holder !== this.identity) this.written = undefined;
    this.observation = {
      resourceVersion,
      holder,
      // The holder's own promise (1 s after a release) rather than ours, as client-go does.
      leaseDurationMs: seconds !== undefined && seconds > 0 ? seconds * 1000 : this.leaseDurationMs,
      observedAt: this.monotonic(),
    };
  }

  private expired(): boolean {
    const seen = this.observation;
    if (seen === undefined) return true;
    return this.monotonic() - seen.observedAt > seen.leaseDurationMs;
  }

  private armDeadline(delayMs: number): void {
    clearTimeout(this.deadlineTimer);
    // A timer rather than a check after the next round: a renewal request may hang, and the operator
    // has to stop acting at the deadline, not whenever that request gives up.
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      this.loseLeadership(`lease not renewed within ${this.renewDeadlineMs} ms`);
    }, delayMs);
  }

  private loseLeadership(reason: string): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.logger.warn({ lease: this.leaseRef, identity: this.identity, reason }, 'stopped leading');
    this.notify('onStoppedLeading', () => this.callbacks?.onStoppedLeading());
  }

  private reportLeader(): void {
    const holder = this.observation?.holder ?? '';
    if (holder === '' || holder === this.reportedLeader) return;
    // Our own name counts only once we act on it (a renewal that came back too late does not).
    if (holder === this.identity && !this.leading) return;
    this.reportedLeader = holder;
    this.logger.info({ lease: this.leaseRef, identity: this.identity, leader: holder }, 'new leader');
    this.notify('onNewLeader', () => this.callbacks?.onNewLeader?.(holder));
  }

  /** A throwing callback is the caller's bug; it must not stop the elector from renewing or stepping down. */
  private notify(callback: keyof LeaderCallbacks, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logger.error(
        { lease: this.leaseRef, identity: this.identity, callback, err: error },
        'callback threw',
      );
    }
  }

  private async release(written: V1Lease): Promise<void> {
    const now = new V1MicroTime(this.clock.now().getTime());
    const abort = new AbortController();
    const timeout = setTimeout(() => {
      abort.abort(new Error(`lease release timed out after ${this.renewDeadlineMs} ms`));
    }, this.renewDeadlineMs);
    try {
      await this.client.replaceNamespacedLease(
        {
          name: this.name,
          namespace: this.namespace,
          // No holder and a 1 s duration: free for the next candidate whichever way it judges.
          body: withSpec(written, {
            strategy: written.spec?.strategy,
            preferredHolder: written.spec?.preferredHolder,
            leaseTransitions: written.spec?.leaseTransitions,
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
          }),
        },
        abortable(abort.signal),
      );
      this.logger.info({ lease: this.leaseRef, identity: this.identity }, 'released lease');
    } catch (error) {
      // A conflict means someone else already holds it; otherwise it simply expires after leaseDuration.
      const level = hasCode(error, 409) ? 'info' : 'warn';
      this.logger[level]({ lease: this.leaseRef, identity: this.identity, err: error }, 'lease not released');
    } finally {
      clearTimeout(timeout);
    }
  }
}

/** The lease with a new spec; its metadata (resourceVersion included) makes the write conditional. */
function withSpec(lease: V1Lease, spec: V1LeaseSpec): V1Lease {
  return { apiVersion: lease.apiVersion, kind: lease.kind, metadata: lease.metadata, spec };
}

function hasCode(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}

/** Per-call options that make the request abortable; appended so the kubeconfig's middleware stays. */
function abortable(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
