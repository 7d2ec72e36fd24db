// An informer's cache without an API server: the same IndexedCache the readers use (named indexes
// kept by the shared Indexes, change listeners called after the indexes are updated), filled and
// changed by the test instead of by a watch. Objects are copied in, as a watch decodes its own.
import type { ChangeListener, IndexedCache, IndexFunction } from '../../src/runtime/indexes.ts';
import { Indexes } from '../../src/runtime/indexes.ts';
import { keyOf, splitKey, type CachedObject, type ObjectKey } from '../../src/runtime/keys.ts';

export class MemoryCache<T extends CachedObject> implements IndexedCache<T> {
  hasSynced: boolean = true;
  private readonly objects = new Map<ObjectKey, T>();
  private readonly indexes = new Indexes<T>();
  private readonly listeners: ChangeListener<T>[] = [];

  constructor(objects: Iterable<T> = []) {
    for (const obj of objects) this.objects.set(keyOf(obj), structuredClone(obj));
  }

  get(name: string, namespace?: string): T | undefined {
    if (namespace !== undefined) return this.objects.get(`${namespace}/${name}`);
    for (const obj of this.objects.values()) if (obj.metadata?.name === name) return obj;
    return undefined;
  }

  list(namespace?: string): ReadonlyArray<T> {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((obj) => obj.metadata?.namespace === namespace);
  }

  addIndex(name: string, indexFunction: IndexFunction<T>): void {
    this.indexes.add(name, indexFunction, this.objects.values());
  }

  byIndex(name: string, value: string): T[] {
    const found: T[] = [];
    for (const key of this.indexes.keys(name, value)) {
      const { namespace, name: objectName } = splitKey(key);
      const obj = this.get(objectName, namespace);
      if (obj) found.push(obj);
    }
    return found;
  }

  onChange(listener: ChangeListener<T>): void {
    this.listeners.push(listener);
  }

  /** Adds the object, or replaces the one of the same namespace/name, as a watch event would. */
  put(obj: T): void {
    const key = keyOf(obj);
    const copy = structuredClone(obj);
    const change = this.objects.has(key) ? 'update' : 'add';
    this.objects.set(key, copy);
    this.indexes.update(key, copy);
    for (const listener of this.listeners) listener(key, copy, change);
  }

  /** Removes the object, as a watch's DELETED event would; false when it was not there. */
  delete(namespace: string, name: string): boolean {
    const key = `${namespace}/${name}`;
    const obj = this.objects.get(key);
    if (!obj) return false;
    this.objects.delete(key);
    this.indexes.update(key, undefined);
    for (const listener of this.listeners) listener(key, obj, 'delete');
    return true;
  }
}
