// Named indexes over a cache (client-go's Indexer): "which objects have this value" answered from
// a map kept up to date on every change, instead of by scanning the cache.
import { keyOf, type CachedObject, type ObjectKey } from './keys.ts';
import type { ObjectCache } from '@kubernetes/client-node';

/** The values of an object under one index (client-go's IndexFunc); an object may have several. */
export type IndexFunction<T> = (obj: T) => string[];

export type ChangeType = 'add' | 'update' | 'delete';

export type ChangeListener<T> = (key: ObjectKey, obj: T, change: ChangeType) => void;

/** A cache with named indexes and change listeners: what the informer offers, and what readers need. */
export interface IndexedCache<T> extends ObjectCache<T> {
  readonly hasSynced: boolean;
  addIndex(name: string, indexFunction: IndexFunction<T>): void;
  byIndex(name: string, value: string): T[];
  onChange(listener: ChangeListener<T>): void;
}

export class Indexes<T> {
  private readonly functions = new Map<string, IndexFunction<T>>();
  /** index name → value → keys */
  private readonly values = new Map<string, Map<string, Set<ObjectKey>>>();
  /** index name → key → the values it was indexed under (to unindex on change) */
  private readonly indexed = new Map<string, Map<ObjectKey, string[]>>();

  add(name: string, indexFunction: IndexFunction<T>, existing: Iterable<T>): void {
    if (this.functions.has(name)) throw new Error(`index ${name} exists already`);
    this.functions.set(name, indexFunction);
    this.values.set(name, new Map());
    this.indexed.set(name, new Map());
    for (const obj of existing) this.update(keyOf(obj as CachedObject), obj);
  }

  /** The keys whose index `name` has `value`. */
  keys(name: string, value: string): Iterable<ObjectKey> {
    const index = this.values.get(name);
    if (!index) throw new Error(`no index named ${name}`);
    return index.get(value) ?? [];
  }

  /** Re-indexes the object under `key`; undefined removes it. */
  update(key: ObjectKey, obj: T | undefined): void {
    for (const [name, indexFunction] of this.functions) {
      const index = this.values.get(name);
      const indexed = this.indexed.get(name);
      if (!index || !indexed) continue;
      for (const value of indexed.get(key) ?? []) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
      const values = obj ? indexFunction(obj) : [];
      if (values.length === 0) indexed.delete(key);
      else indexed.set(key, values);
      for (const value of values) {
        let keys = index.get(value);
        if (!keys) index.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }
}
