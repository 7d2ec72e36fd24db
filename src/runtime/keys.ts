import type { KubernetesObject } from '@kubernetes/client-node';

export type ObjectKey = string;

/**
 * What the caches hold: any API object. Custom resources arrive as plain JSON, so their
 * timestamps are strings, unlike client-node's typed models; only name and namespace matter here.
 */
export interface CachedObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export function keyOf(obj: CachedObject | KubernetesObject): ObjectKey {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function splitKey(key: ObjectKey): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
