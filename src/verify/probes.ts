// Verification checks off the reconcile path. A reconcile never waits on an endpoint a tenant
// chose (or a query a tenant wrote): it asks for the latest observation of a check, and when none is
// fresh enough, one is started here in the background, within a bounded pool; when it completes, its
// result is kept and the incident is woken to read it on its next pass. A slow endpoint thus holds
// one pool slot for at most its (install-capped) timeout, never a reconcile worker, and stop() ends
// everything in flight at once, so a shutdown never waits for a check.
import type { Clock } from '../runtime/clock.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';

/**
 * One of an incident's checks (its HTTP health check, its PromQL check, ...), typed by what the
 * check observes. An incident has at most one probe per slot: a changed check replaces it.
 */
export interface ProbeSlot<T> {
  readonly name: string;
  /** Carries the observation type only; never set. */
  readonly observes?: T;
}

export interface Observed<T> {
  value: T;
  /** When the probe that observed it was started. */
  startedAt: Date;
}

export interface ProbeRequest<T> {
  /** The incident's key: whom the result wakes, and what forget() drops. */
  owner: string;
  /** The owner's namespace, whose share of the pool the probe takes. */
  namespace: string;
  slot: ProbeSlot<T>;
  /** The check as configured (its spec, serialised): a different one is a new probe. */
  identity: string;
  /** Only a probe started at or after this counts (say, after the action it verifies was applied). */
  since: Date;
  /** A new probe starts once the latest one started this long ago (Infinity: run once). */
  everyMs: number;
  /** Runs the check; it ends when `signal` aborts, and turns every failure into an observation. */
  run: (signal: AbortSignal) => Promise<T>;
}

interface Probe {
  identity: string;
  latest?: Observed<unknown>;
  /** Set while queued or running: at most one at a time per slot. */
  inFlight?: { controller: AbortController; started: boolean; namespace: string };
}

export interface ProbesOptions {
  clock: Clock;
  /** Probes running at once, overall. */
  concurrency: number;
  /** Probes running at once for one namespace: one tenant's slow endpoints cannot take the pool. */
  perNamespace: number;
  /** Wakes the owner once a result is kept (enqueues its key). */
  settled: (owner: string) => void;
  logger: Logger;
}

interface Queued {
  owner: string;
  probe: Probe;
  request: ProbeRequest<unknown>;
}

export class CheckProbes {
  private readonly options: ProbesOptions;
  /** owner → slot name → probe. */
  private readonly probes = new Map<string, Map<string, Probe>>();
  private readonly waiting: Queued[] = [];
  private readonly runningIn = new Map<string, number>();
  private running = 0;
  private stopped = false;

  constructor(options: ProbesOptions) {
    this.options = options;
  }

  /**
   * The newest observation of the check started at or after `since` (undefined: none yet). Starts a
   * probe when none is in flight and the latest is missing, older than `since` or `everyMs` old.
   */
  latest<T>(request: ProbeRequest<T>): Observed<T> | undefined {
    const probe = this.probeFor(request.owner, request.slot, request.identity);
    const latest =
      probe.latest && probe.latest.startedAt >= request.since ? (probe.latest as Observed<T>) : undefined;
    const now = this.options.clock.now().getTime();
    const due = !latest || now - latest.startedAt.getTime() >= request.everyMs;
    if (due && !probe.inFlight && !this.stopped) this.enqueue({ owner: request.owner, probe, request });
    return latest;
  }

  /** The newest observation of the check, if any; never starts one. */
  peek<T>(owner: string, slot: ProbeSlot<T>, identity: string): Observed<T> | undefined {
    const probe = this.probes.get(owner)?.get(slot.name);
    return probe?.identity === identity ? (probe.latest as Observed<T> | undefined) : undefined;
  }

  /** Drops every probe of the owner (closed or deleted), aborting what is in flight. */
  forget(owner: string): void {
    for (const probe of this.probes.get(owner)?.values() ?? []) this.cancel(probe);
    this.probes.delete(owner);
  }

  /** Aborts everything in flight and starts nothing more (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const slots of this.probes.values()) for (const probe of slots.values()) this.cancel(probe);
    this.probes.clear();
  }

  private probeFor(owner: string, slot: ProbeSlot<unknown>, identity: string): Probe {
    let slots = this.probes.get(owner);
    if (!slots) {
      slots = new Map<string, Probe>();
      this.probes.set(owner, slots);
    }
    const current = slots.get(slot.name);
    if (current?.identity === identity) return current;
    if (current) this.cancel(current);
    const probe: Probe = { identity };
    slots.set(slot.name, probe);
    return probe;
  }

  private cancel(probe: Probe): void {
    const inFlight = probe.inFlight;
    if (!inFlight) return;
    delete probe.inFlight;
    inFlight.controller.abort(new Error('probe cancelled'));
    if (!inFlight.started) {
      const index = this.waiting.findIndex((q) => q.probe === probe);
      if (index >= 0) this.waiting.splice(index, 1);
    }
  }

  private enqueue(queued: Queued): void {
    queued.probe.inFlight = {
      controller: new AbortController(),
      started: false,
      namespace: queued.request.namespace,
    };
    this.waiting.push(queued);
    this.startWaiting();
  }

  /** Starts waiting probes in order while the pool and their namespace's share allow. */
  private startWaiting(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.options.concurrency;) {
      const queued = this.waiting[i];
      if (!queued || (this.runningIn.get(queued.request.namespace) ?? 0) >= this.options.perNamespace) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      void this.run(queued);
    }
  }

  private async run({ owner, probe, request }: Queued): Promise<void> {
    const inFlight = probe.inFlight;
    if (!inFlight) return;
    inFlight.started = true;
    const { namespace } = request;
    const signal = inFlight.controller.signal;
    this.running++;
    this.runningIn.set(namespace, (this.runningIn.get(namespace) ?? 0) + 1);
    const startedAt = this.options.clock.now();
    try {
      // The slot is free once the probe is cancelled, even if the check does not listen to its signal.
      const value = await Promise.race([request.run(signal), aborted(signal)]);
      if (probe.inFlight !== inFlight) return;
      probe.latest = { value, startedAt };
      delete probe.inFlight;
      this.options.settled(owner);
    } catch (error) {
      if (probe.inFlight !== inFlight) return;
      // A check that throws has no observation; the next pass due starts another.
      delete probe.inFlight;
      this.options.logger.warn(
        { incident: owner, check: request.slot.name, error: errorMessage(error) },
        'verification check failed without an observation',
      );
    } finally {
      this.running--;
      const left = (this.runningIn.get(namespace) ?? 1) - 1;
      if (left > 0) this.runningIn.set(namespace, left);
      else this.runningIn.delete(namespace);
      if (!this.stopped) this.startWaiting();
    }
  }
}

/** Rejects when the signal aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}
