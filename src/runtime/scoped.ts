// One cache over one informer per watched namespace (--watch-namespaces), for an operator whose
// permissions are Roles in those namespaces only: a list or watch across all namespaces would be
// forbidden. Readers see the same IndexedCache either way.
import type { ChangeListener, IndexedCache, IndexFunction } from './indexes.ts';
import type { CachedObject } from './keys.ts';

/** A cache with its lifecycle: what main.ts starts, stops and asks about readiness. */
export interface WatchedCache<T extends CachedObject> extends IndexedCache<T> {
  /** Complete once at least: after a watch failure it may lag behind, but it is not empty. */
  readonly hasSyncedOnce: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class ScopedCache<T extends CachedObject> implements WatchedCache<T> {
  private readonly informers: ReadonlyMap<string, WatchedCache<T>>;

  constructor(informers: ReadonlyMap<string, WatchedCache<T>>) {
    this.informers = informers;
  }

  private get all(): WatchedCache<T>[] {
    return [...this.informers.values()];
  }

  /** In sync when every namespace's informer is. */
  get hasSynced(): boolean {
    return this.all.every((informer) => informer.hasSynced);
  }

  get hasSyncedOnce(): boolean {
    return this.all.every((informer) => informer.hasSyncedOnce);
  }

  get(name: string, namespace?: string): T | undefined {
    if (namespace !== undefined) return this.informers.get(namespace)?.get(name, namespace);
    for (const informer of this.all) {
      const found = informer.get(name);
      if (found) return found;
    }
    return undefined;
  }

  list(namespace?: string): ReadonlyArray<T> {
    if (namespace !== undefined) return this.informers.get(namespace)?.list(namespace) ?? [];
    return this.all.flatMap((informer) => informer.list());
  }

  addIndex(name: string, indexFunction: IndexFunction<T>): void {
    for (const informer of this.all) informer.addIndex(name, indexFunction);
  }

  byIndex(name: string, value: string): T[] {
    return this.all.flatMap((informer) => informer.byIndex(name, value));
  }

  onChange(listener: ChangeListener<T>): void {
    for (const informer of this.all) informer.onChange(listener);
  }

  async start(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((informer) => informer.stop()));
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
