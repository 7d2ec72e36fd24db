// Watches of the API server from the bench's side: what a user watching with kubectl would see, and
// when (performance.now() ms, the same clock the load generators stamp their requests with).
import type { HttpClient } from './http.ts';

export interface Meta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
}

export interface WatchedObject {
  metadata: Meta;
}

export type WatchEventType = 'LISTED' | 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * A list, then a watch from its resourceVersion, resumed where it left off when the API server ends
 * it (and listed anew after 410 Gone), calling `onEvent` for every object seen.
 */
export class Watcher<T extends WatchedObject> {
  private readonly api: HttpClient;
  private readonly path: string;
  private readonly onEvent: (type: WatchEventType, obj: T, at: number) => void;
  private abort: (() => void) | undefined;
  private stopped = false;
  private failure: Error | undefined;

  constructor(api: HttpClient, path: string, onEvent: (type: WatchEventType, obj: T, at: number) => void) {
    this.api = api;
    this.path = path;
    this.onEvent = onEvent;
  }

  async start(): Promise<void> {
    const resourceVersion = await this.list();
    void this.loop(resourceVersion);
  }

  /** Throws if the watch failed for good (so a wait on it does not time out silently). */
  assertHealthy(): void {
    if (this.failure) throw this.failure;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.();
  }

  /** A method, not the field: the field changes while the loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async list(): Promise<string> {
    let continueToken = '';
    let resourceVersion = '';
    do {
      const page = await this.api.json<{
        items: T[];
        metadata: { resourceVersion: string; continue?: string };
      }>(
        'GET',
        `${this.path}?limit=500${continueToken ? `&continue=${encodeURIComponent(continueToken)}` : ''}`,
      );
      resourceVersion ||= page.metadata.resourceVersion;
      const at = performance.now();
      for (const item of page.items) this.onEvent('LISTED', item, at);
      continueToken = page.metadata.continue ?? '';
    } while (continueToken);
    return resourceVersion;
  }

  private async loop(from: string): Promise<void> {
    let resourceVersion = from;
    let failures = 0;
    while (!this.stopped) {
      // Set by the stream's callback: the resourceVersion is too old, list again.
      const round = { gone: false };
      const { done, abort } = this.api.stream(
        `${this.path}?watch=1&allowWatchBookmarks=true&resourceVersion=${resourceVersion}`,
        (line) => {
          const event = JSON.parse(line) as { type: string; object: T & { code?: number } };
          const at = performance.now();
          if (event.type === 'ERROR') {
            round.gone = event.object.code === 410;
            return;
          }
          resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
          if (event.type === 'BOOKMARK') return;
          this.onEvent(event.type as WatchEventType, event.object, at);
        },
      );
      this.abort = abort;
      try {
        const status = await done;
        if (this.isStopped()) return;
        if (status !== 200) throw new Error(`watch ${this.path}: HTTP ${status}`);
        failures = 0;
        if (round.gone) resourceVersion = await this.list();
      } catch (error) {
        if (++failures > 5) {
          this.failure = new Error(`watch ${this.path} failed: ${(error as Error).message}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * failures));
      }
    }
  }
}

export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface DeploymentObject extends WatchedObject {
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: { observedGeneration?: number };
}

interface DeploymentState {
  restartedAt: string | undefined;
  generation: number;
  observedGeneration: number;
  /** Distinct pod-template restarts seen since the watch began. */
  restarts: number;
}

/**
 * The Deployments of a namespace as a watch shows them: when each one's pod template got a new
 * `restartedAt` (a restart, by whoever made it), and whether the deployment controller caught up.
 */
export class DeploymentWatcher {
  readonly state = new Map<string, DeploymentState>();
  private readonly waiting = new Map<string, { before: string | undefined; resolve: (at: number) => void }>();
  private readonly watcher: Watcher<DeploymentObject>;

  constructor(api: HttpClient, namespace: string) {
    this.watcher = new Watcher<DeploymentObject>(
      api,
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      (type, d, at) => this.seen(type, d, at),
    );
  }

  start(): Promise<void> {
    return this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }

  /** Resolves with the time the watch shows the Deployment restarted after now (a new restartedAt). */
  nextRestart(name: string): Promise<number> {
    return new Promise((resolve) =>
      this.waiting.set(name, { before: this.state.get(name)?.restartedAt, resolve }),
    );
  }

  /** Every Deployment rolled out by its controller (observedGeneration caught up with generation). */
  settled(names: Iterable<string>): boolean {
    this.watcher.assertHealthy();
    for (const name of names) {
      const s = this.state.get(name);
      if (!s || s.observedGeneration < s.generation) return false;
    }
    return true;
  }

  assertHealthy(): void {
    this.watcher.assertHealthy();
  }

  private seen(type: WatchEventType, d: DeploymentObject, at: number): void {
    const name = d.metadata.name ?? '';
    if (type === 'DELETED') {
      this.state.delete(name);
      return;
    }
    const restartedAt = d.spec?.template?.metadata?.annotations?.[RESTARTED_AT];
    const previous = this.state.get(name);
    const restarted = previous !== undefined && restartedAt !== previous.restartedAt;
    this.state.set(name, {
      restartedAt,
      generation: d.metadata.generation ?? 0,
      observedGeneration: d.status?.observedGeneration ?? 0,
      restarts: (previous?.restarts ?? 0) + (restarted ? 1 : 0),
    });
    const waiter = this.waiting.get(name);
    if (waiter && restartedAt !== waiter.before) {
      this.waiting.delete(name);
      waiter.resolve(at);
    }
  }
}

interface IncidentObject extends WatchedObject {
  status?: { phase?: string; verification?: { message?: string } } & Record<string, unknown>;
}

/** One status change as the watch showed it: which top-level fields changed, and to what phase. */
export interface StatusChange {
  atMs: number;
  phase: string | undefined;
  changed: string[];
  verification?: string;
}

export interface IncidentSeen {
  /** When the watch first showed it (its creation, for incidents created while watching). */
  addedAt: number;
  /** When the watch first showed it with a status (the operator's first look). */
  firstStatusAt?: number;
  phase?: string;
  /** Whether it existed before the watch began. */
  listed: boolean;
  /** With `history`, every status change seen. */
  changes?: StatusChange[];
  last?: Record<string, unknown>;
}

/** The Incidents of a namespace as a watch shows them: when each appeared, got a status, its phase. */
export class IncidentWatcher {
  readonly seen = new Map<string, IncidentSeen>();
  private readonly watcher: Watcher<IncidentObject>;

  private readonly history: boolean;

  /** With `history`, each incident's status changes are kept (to tell what every write changed). */
  constructor(api: HttpClient, namespace: string, { history = false } = {}) {
    this.history = history;
    this.watcher = new Watcher<IncidentObject>(
      api,
      `/apis/selfheal.dev/v1alpha1/namespaces/${namespace}/incidents`,
      (type, incident, at) => this.update(type, incident, at),
    );
  }

  start(): Promise<void> {
    return this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }

  assertHealthy(): void {
    this.watcher.assertHealthy();
  }

  /** How many incidents are in one of these phases. */
  count(phases: readonly string[], names?: Iterable<string>): number {
    let n = 0;
    if (names) {
      for (const name of names) if (phases.includes(this.seen.get(name)?.phase ?? '')) n++;
    } else for (const s of this.seen.values()) if (phases.includes(s.phase ?? '')) n++;
    return n;
  }

  private update(type: WatchEventType, incident: IncidentObject, at: number): void {
    const name = incident.metadata.name ?? '';
    if (type === 'DELETED') {
      this.seen.delete(name);
      return;
    }
    const entry = this.seen.get(name) ?? { addedAt: at, listed: type === 'LISTED' };
    const status = incident.status ?? {};
    if (Object.keys(status).length > 0) entry.firstStatusAt ??= at;
    if (status.phase !== undefined) entry.phase = status.phase;
    if (this.history) {
      const last = entry.last ?? {};
      const changed = [...new Set([...Object.keys(status), ...Object.keys(last)])].filter(
        (k) => JSON.stringify(status[k]) !== JSON.stringify(last[k]),
      );
      if (changed.length)
        (entry.changes ??= []).push({
          atMs: Math.round(at - entry.addedAt),
          phase: status.phase,
          changed,
          ...(status.verification?.message ? { verification: status.verification.message } : {}),
        });
      entry.last = status;
    }
    this.seen.set(name, entry);
  }
}
