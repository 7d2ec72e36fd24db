import { describe, expect, it } from '@jest/globals';
import type { CachedObject } from '../../src/runtime/keys.ts';
import { ScopedCache, watchNamespaces, type WatchedCache } from '../../src/runtime/scoped.ts';
import { MemoryCache } from '../support/memoryCache.ts';

/** One namespace's informer as the ScopedCache sees it: objects in memory, a lifecycle, a sync flag. */
class NamespaceCache extends MemoryCache<CachedObject> implements WatchedCache<CachedObject> {
  override hasSynced = false;
  hasSyncedOnce = false;
  started = 0;
  stopped = 0;

  constructor(namespace: string, names: string[]) {
    super(names.map((name) => ({ metadata: { name, namespace } })));
  }

  start(): Promise<void> {
    this.started++;
    this.hasSynced = true;
    this.hasSyncedOnce = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped++;
    this.hasSynced = false;
    return Promise.resolve();
  }
}

const names = (objects: ReadonlyArray<CachedObject>) =>
  objects.map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);

describe('ScopedCache: one cache over one informer per watched namespace', () => {
  const shop = new NamespaceCache('shop', ['api', 'web']);
  const payments = new NamespaceCache('payments', ['api']);
  const cache = new ScopedCache(
    new Map<string, WatchedCache<CachedObject>>([
      ['shop', shop],
      ['payments', payments],
    ]),
  );

  it('is in sync only when every namespace is', async () => {
    expect(cache.hasSynced).toBe(false);
    await shop.start();
    expect(cache.hasSynced).toBe(false);
    await cache.start();
    expect(cache.hasSynced).toBe(true);
    payments.hasSynced = false;
    expect(cache.hasSynced).toBe(false);
    await cache.stop();
    expect([shop.stopped, payments.stopped]).toEqual([1, 1]);
  });

  it('reads a namespace from its own informer, and all of them without one', () => {
    expect(names(cache.list())).toEqual(['shop/api', 'shop/web', 'payments/api']);
    expect(names(cache.list('payments'))).toEqual(['payments/api']);
    expect(cache.list('elsewhere')).toEqual([]);
    expect(cache.get('api', 'payments')?.metadata?.namespace).toBe('payments');
    expect(cache.get('web', 'payments')).toBeUndefined();
    expect(cache.get('web')?.metadata?.namespace).toBe('shop');
    expect(cache.get('api', 'elsewhere')).toBeUndefined();
  });
});

describe('watchNamespaces', () => {
  it('builds one informer for all namespaces when none are listed', () => {
    const asked: (string | undefined)[] = [];
    const all = new NamespaceCache('any', []);
    expect(watchNamespaces([], (ns: string | undefined) => (asked.push(ns), all))).toBe(all);
    expect(asked).toEqual([undefined]);
  });

  it('builds one informer per listed namespace behind a ScopedCache', () => {
    const asked: (string | undefined)[] = [];
    const cache = watchNamespaces(['shop', 'payments'], (ns: string | undefined) => {
      asked.push(ns);
      return new NamespaceCache(ns ?? '', ['api']);
    });
    expect(asked).toEqual(['shop', 'payments']);
    expect(names(cache.list())).toEqual(['shop/api', 'payments/api']);
  });
});

describe('ScopedCache: indexes and change listeners across namespaces', () => {
  it('indexes every namespace and calls listeners for each', () => {
    const shop = new NamespaceCache('shop', ['api']);
    const payments = new NamespaceCache('payments', ['api']);
    const cache = new ScopedCache(
      new Map<string, WatchedCache<CachedObject>>([
        ['shop', shop],
        ['payments', payments],
      ]),
    );
    cache.addIndex('name', (o) => [o.metadata?.name ?? '']);
    const changed: string[] = [];
    cache.onChange((key) => changed.push(key));
    payments.put({ metadata: { name: 'web', namespace: 'payments' } });
    expect(names(cache.byIndex('name', 'api'))).toEqual(['shop/api', 'payments/api']);
    expect(names(cache.byIndex('name', 'web'))).toEqual(['payments/web']);
    expect(changed).toEqual(['payments/web']);
  });
});
