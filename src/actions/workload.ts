// The workloads selfheal remediates, as the actions see them: a typed object from the cache, a
// reference, and the one write an action makes (a patch conditioned on the version it checked).
import type { V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import type { WorkloadKind } from '../api/group.ts';

export type Workload =
  | { kind: 'Deployment'; object: V1Deployment }
  | { kind: 'StatefulSet'; object: V1StatefulSet }
  | { kind: 'DaemonSet'; object: V1DaemonSet };

export interface TargetRef {
  namespace: string;
  kind: WorkloadKind;
  name: string;
}

/** "Deployment shop/checkout", for messages. */
export function describeTarget(ref: TargetRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** The key a workload is indexed and claimed under: kind/namespace/name. */
export function targetKey(ref: TargetRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** Workloads as the informers hold them: reads cost nothing and follow changes, not time. */
export interface WorkloadCache {
  /** The workload, or undefined when it does not exist (or is not in the cache yet). */
  get(ref: TargetRef): Workload | undefined;
}

/** The workload changed since the version the patch was conditioned on (HTTP 409). */
export class WorkloadConflictError extends Error {
  constructor(ref: TargetRef) {
    super(`${describeTarget(ref)} changed since it was checked (resourceVersion conflict)`);
  }
}

/** The workload no longer exists (HTTP 404). */
export class WorkloadGoneError extends Error {
  constructor(ref: TargetRef) {
    super(`${describeTarget(ref)} does not exist`);
  }
}

export interface WorkloadWriter {
  /**
   * A strategic merge patch, as kubectl sends, that lands only on `resourceVersion` (the version
   * whose state the caller checked); returns the workload as written. Throws WorkloadConflictError
   * or WorkloadGoneError.
   */
  patch(ref: TargetRef, body: object, resourceVersion: string): Promise<Workload>;
  /** The workload as the API server holds it now (after a conflict, the cache may lag behind). */
  read(ref: TargetRef): Promise<Workload | undefined>;
}

export const templateAnnotations = (workload: Workload): Record<string, string> =>
  workload.object.spec?.template.metadata?.annotations ?? {};

export const objectAnnotations = (workload: Workload): Record<string, string> =>
  workload.object.metadata?.annotations ?? {};

/** Replicas the workload asks for; a DaemonSet runs one pod per eligible node instead. */
export const specReplicas = (workload: Workload): number | undefined =>
  workload.kind === 'DaemonSet' ? undefined : (workload.object.spec?.replicas ?? 1);
