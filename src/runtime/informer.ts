// A client-node informer under supervision. client-node's ListWatch stops for good on any error
// other than 410 Gone or a client-side timeout (a refused connection, a 401/403, a failed list);
// this restarts it with backoff, and tells readiness whether the cache is in sync with the API.
import {
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import { exponentialBackoff } from './backoff.ts';

export type ObjectKey = string;

/**
 * What the informer caches: any API object. Custom resources arrive as plain JSON, so their
 * timestamps are strings, unlike client-node's typed models; only name and namespace matter here.
 */
export interface CachedObject {
  metadata: { name?: string; namespace?: string; resourceVersion?: string };
}

export function keyOf(obj: CachedObject | KubernetesObject): ObjectKey {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function splitKey(key: ObjectKey): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export interface SupervisedInformerOptions<T extends CachedObject> {
  kc: KubeConfig;
  /** Watch path, e.g. /apis/selfheal.dev/v1alpha1/incidents (all namespaces) or .../namespaces/shop/incidents. */
  path: string;
  /** Lists the objects of the path: the API's list response, whose items the cache then holds as T. */
  list: () => Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }>;
  logger: Logger;
  /** Called with the key of every object added, changed or deleted. */
  onChange: (key: ObjectKey, obj: T) => void;
  /**
   * Called when the cache is in sync again after a failure: keys that failed meanwhile may be
   * waiting out a long backoff although nothing changed, so they are worth a look now.
   */
  onResync?: () => void;
  backoff?: { baseMs: number; maxMs: number };
}

export class SupervisedInformer<T extends CachedObject> implements WatchedCache<T> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private readonly options: SupervisedInformerOptions<T>;
  private synced = false;
  private stopped = false;
  private failures = 0;
  private epoch = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(options: SupervisedInformerOptions<T>) {
    this.options = options;
    // client-node types its cache by its own models; the objects are the JSON the API sends.
    const list = options.list as () => Promise<{ items: KubernetesObject[] }>;
    this.informer = makeInformer<KubernetesObject>(options.kc, options.path, list) as unknown as Informer<T> &
      ObjectCache<T>;
    const changed = (obj: T) => options.onChange(keyOf(obj), obj);
    this.informer.on('add', changed);
    this.informer.on('update', changed);
    this.informer.on('delete', changed);
    this.informer.on('error', (error: unknown) => this.failed(error));
  }

  /** True once the cache holds a complete list and its watch runs; false after any error. */
  get hasSynced(): boolean {
    return this.synced;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.informer.list(namespace);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.synced = false;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  private async run(): Promise<void> {
    const epoch = ++this.epoch;
    try {
      await this.informer.start();
    } catch (error) {
      this.failed(error);
      return;
    }
    // An error during start fires the error handler (which bumps the epoch) instead of throwing.
    if (epoch === this.epoch && !this.stopped) {
      this.synced = true;
      if (this.failures > 0) {
        this.options.logger.info({ path: this.options.path }, 'informer resynced');
        this.options.onResync?.();
      }
      this.failures = 0;
    }
  }

  private failed(error: unknown): void {
    this.epoch++;
    this.synced = false;
    if (this.stopped) return;
    const delay = exponentialBackoff(this.failures++, this.options.backoff ?? { baseMs: 250, maxMs: 5_000 });
    this.options.logger.warn(
      { path: this.options.path, err: errorMessage(error), retryInMs: delay },
      'informer stopped; restarting',
    );
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.run(), delay);
  }
}

/** What the rest of the operator reads and runs: a cache with its lifecycle and sync state. */
export interface WatchedCache<T extends CachedObject> extends ObjectCache<T> {
  readonly hasSynced: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One cache over one informer per watched namespace (--watch-namespaces), for an operator whose
 * permissions are Roles in those namespaces only: a list or watch across all namespaces would be
 * forbidden. In sync when every informer is.
 */
export class ScopedCache<T extends CachedObject> implements WatchedCache<T> {
  private readonly informers: ReadonlyMap<string, WatchedCache<T>>;

  constructor(informers: ReadonlyMap<string, WatchedCache<T>>) {
    this.informers = informers;
  }

  get hasSynced(): boolean {
    return [...this.informers.values()].every((informer) => informer.hasSynced);
  }

  get(name: string, namespace?: string): T | undefined {
    if (namespace !== undefined) return this.informers.get(namespace)?.get(name, namespace);
    for (const informer of this.informers.values()) {
      const found = informer.get(name);
      if (found) return found;
    }
    return undefined;
  }

  list(namespace?: string): ReadonlyArray<T> {
    if (namespace !== undefined) return this.informers.get(namespace)?.list(namespace) ?? [];
    return [...this.informers.values()].flatMap((informer) => informer.list());
  }

  async start(): Promise<void> {
    await Promise.all([...this.informers.values()].map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }
}

/**
 * The cache of one resource: a single informer over all namespaces when `namespaces` is empty,
 * else a ScopedCache of one informer per namespace. `informerFor` builds the informer of one
 * namespace (undefined: all of them).
 */
export function watchNamespaces<T extends CachedObject>(
  namespaces: readonly string[],
  informerFor: (namespace: string | undefined) => WatchedCache<T>,
): WatchedCache<T> {
  if (namespaces.length === 0) return informerFor(undefined);
  return new ScopedCache(new Map(namespaces.map((namespace) => [namespace, informerFor(namespace)])));
}
