// A client-node ListWatch under supervision, with what controller-runtime's cache adds on top:
// client-node's ListWatch stops for good on any error other than 410 Gone or a client-side timeout
// (a refused connection, a 401/403, a failed list), so this restarts it with backoff and tells
// readiness whether the cache is in sync; objects are trimmed before they are cached (managedFields
// alone is often most of an object); lists are paged; and named indexes answer "which objects have
// this value" without scanning, as client-go's Indexer does.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import { exponentialBackoff } from './backoff.ts';
import { Indexes, type ChangeListener, type ChangeType, type IndexFunction } from './indexes.ts';
import { keyOf, splitKey, type CachedObject } from './keys.ts';
import type { WatchedCache } from './scoped.ts';

export { keyOf, splitKey, type CachedObject, type ObjectKey } from './keys.ts';

/** One page of a list: its items, and where the next page starts. */
export interface ListPage {
  items: unknown[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export interface SupervisedInformerOptions<T extends CachedObject> {
  kc: KubeConfig;
  /** Watch path, e.g. /apis/selfheal.dev/v1alpha1/incidents (all namespaces). */
  path: string;
  /** Lists one page (at most `limit` objects, from `continueToken`). */
  list: (page: { limit: number; continueToken?: string }) => Promise<ListPage>;
  logger: Logger;
  /**
   * Called when the cache is in sync again after a failure: keys that failed meanwhile may be
   * waiting out a long backoff although nothing changed, so they are worth a look now.
   */
  onResync?: () => void;
  /** Trims an object before it is cached; managedFields are always dropped. */
  transform?: (obj: T) => T;
  labelSelector?: string;
  fieldSelector?: string;
  backoff?: { baseMs: number; maxMs: number };
  pageSize?: number;
}

/** managedFields say who set which field: the operator never reads them, and they dominate size. */
function stripManagedFields<T>(obj: T): T {
  const metadata = (obj as { metadata?: { managedFields?: unknown } }).metadata;
  if (metadata?.managedFields !== undefined) delete metadata.managedFields;
  return obj;
}

export class SupervisedInformer<T extends CachedObject> implements WatchedCache<T> {
  private readonly listWatch: ListWatch<KubernetesObject>;
  private readonly options: SupervisedInformerOptions<T>;
  private readonly listeners: ChangeListener<T>[] = [];
  private readonly indexes = new Indexes<T>();
  private synced = false;
  private syncedOnce = false;
  private stopped = false;
  private failures = 0;
  private epoch = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(options: SupervisedInformerOptions<T>) {
    this.options = options;
    const trim = (raw: unknown): KubernetesObject => {
      const obj = stripManagedFields(raw as T);
      return options.transform ? options.transform(obj) : obj;
    };
    const pageSize = options.pageSize ?? 500;
    // All pages of one consistent list: the continue token pins the first page's resourceVersion.
    const listAll = async () => {
      const items: KubernetesObject[] = [];
      let first: ListPage | undefined;
      let continueToken: string | undefined;
      do {
        const page = await options.list({ limit: pageSize, ...(continueToken ? { continueToken } : {}) });
        first ??= page;
        for (const item of page.items) items.push(trim(item));
        continueToken = page.metadata?.continue || undefined;
      } while (continueToken);
      return { items, metadata: { resourceVersion: first.metadata?.resourceVersion ?? '' } };
    };
    const watch = new Watch(options.kc);
    // Bookmarks keep a quiet watch's resourceVersion fresh, so a reconnect rarely needs a relist.
    const trimmingWatch = {
      watch: (
        path: string,
        params: Record<string, string | number | boolean | undefined>,
        callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
        done: (err: unknown) => void,
      ) =>
        watch.watch(
          path,
          { ...params, allowWatchBookmarks: true },
          (phase, obj, watchObj) =>
            callback(phase, phase === 'BOOKMARK' || phase === 'ERROR' ? obj : trim(obj), watchObj),
          done,
        ),
    } as unknown as Watch;
    this.listWatch = new ListWatch<KubernetesObject>(
      options.path,
      trimmingWatch,
      listAll,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    const changed = (change: ChangeType) => (raw: KubernetesObject) => {
      const obj = raw as unknown as T;
      const key = keyOf(obj);
      this.indexes.update(key, change === 'delete' ? undefined : obj);
      for (const listener of this.listeners) listener(key, obj, change);
    };
    this.listWatch.on('add', changed('add'));
    this.listWatch.on('update', changed('update'));
    this.listWatch.on('delete', changed('delete'));
    this.listWatch.on('error', (error: unknown) => this.failed(error));
  }

  /** True once the cache holds a complete list and its watch runs; false after any error. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /**
   * True once the cache has held a complete list: after a watch failure it may lag behind, but it
   * is not empty (what alert intake needs before it may judge an alert by it).
   */
  get hasSyncedOnce(): boolean {
    return this.syncedOnce;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.listWatch.get(name, namespace) as T | undefined;
  }

  /** Copies the cached objects into a new array: for rare whole-cache passes, not hot paths. */
  list(namespace?: string): ReadonlyArray<T> {
    return this.listWatch.list(namespace) as unknown as ReadonlyArray<T>;
  }

  /** Called with the key of every object added, changed or deleted, after the indexes are updated. */
  onChange(listener: ChangeListener<T>): void {
    this.listeners.push(listener);
  }

  /** Adds a named index; existing objects are indexed at once. Add indexes before start(). */
  addIndex(name: string, indexFunction: IndexFunction<T>): void {
    this.indexes.add(name, indexFunction, this.list());
  }

  /** The cached objects whose index `name` has `value`. */
  byIndex(name: string, value: string): T[] {
    const found: T[] = [];
    for (const key of this.indexes.keys(name, value)) {
      const { namespace, name: objectName } = splitKey(key);
      const obj = this.get(objectName, namespace || undefined);
      if (obj) found.push(obj);
    }
    return found;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.synced = false;
    clearTimeout(this.restartTimer);
    await this.listWatch.stop();
  }

  private async run(): Promise<void> {
    const epoch = ++this.epoch;
    try {
      await this.listWatch.start();
    } catch (error) {
      this.failed(error);
      return;
    }
    // An error during start fires the error handler (which bumps the epoch) instead of throwing.
    if (epoch === this.epoch && !this.stopped) {
      this.synced = true;
      this.syncedOnce = true;
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
