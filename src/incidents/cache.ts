// The Incidents the reconciler and intake read, from the informer, with the indexes that keep every
// lookup proportional to its answer instead of to the number of incidents: by target workload, by
// the incident they follow, by alert fingerprint, and by opening time (the storm window).
import { FINGERPRINT_LABEL } from '../api/group.ts';
import type { Incident } from '../api/incident.ts';
import { targetKey, type TargetRef } from '../actions/workload.ts';
import type { IndexedCache } from '../runtime/indexes.ts';
import { keyOf } from '../runtime/keys.ts';

const BY_TARGET = 'target';
const BY_FOLLOWED = 'followed';
const BY_FINGERPRINT = 'fingerprint';
const BY_POLICY = 'policy';

const fingerprintKey = (namespace: string, fingerprint: string) => `${namespace}/${fingerprint}`;

export class IncidentCache {
  private readonly informer: IndexedCache<Incident>;
  /** Opening times (ms), ascending, and each key's entry, for counting a window by binary search. */
  private readonly openings: number[] = [];
  private readonly openedAt = new Map<string, number>();

  constructor(informer: IndexedCache<Incident>) {
    this.informer = informer;
    informer.addIndex(BY_TARGET, (i) => {
      const target = i.spec.target;
      const namespace = i.metadata.namespace ?? '';
      return target ? [targetKey({ namespace, kind: target.kind, name: target.name })] : [];
    });
    informer.addIndex(BY_FOLLOWED, (i) =>
      i.status?.following ? [`${i.metadata.namespace ?? ''}/${i.status.following.incident}`] : [],
    );
    informer.addIndex(BY_FINGERPRINT, (i) => {
      const fingerprint = i.metadata.labels?.[FINGERPRINT_LABEL];
      return fingerprint ? [fingerprintKey(i.metadata.namespace ?? '', fingerprint)] : [];
    });
    informer.addIndex(BY_POLICY, (i) =>
      i.spec.policyRef ? [`${i.metadata.namespace ?? ''}/${i.spec.policyRef.name}`] : [],
    );
    informer.onChange((key, incident, change) => this.track(key, change === 'delete' ? undefined : incident));
    for (const incident of informer.list()) this.track(keyOf(incident), incident);
  }

  get hasSynced(): boolean {
    return this.informer.hasSynced;
  }

  get(name: string, namespace: string): Incident | undefined {
    return this.informer.get(name, namespace);
  }

  /** Every cached incident: for rare whole-cache passes (a new leader's first look), not hot paths. */
  list(namespace?: string): ReadonlyArray<Incident> {
    return this.informer.list(namespace);
  }

  /** Incidents that name this workload as their target. */
  byTarget(ref: TargetRef): Incident[] {
    return this.informer.byIndex(BY_TARGET, targetKey(ref));
  }

  /** Incidents that follow this one (status.following). */
  followersOf(namespace: string, name: string): Incident[] {
    return this.informer.byIndex(BY_FOLLOWED, `${namespace}/${name}`);
  }

  /** Incidents raised from the alert with this fingerprint label value, in that namespace. */
  byFingerprint(namespace: string, fingerprintLabel: string): Incident[] {
    return this.informer.byIndex(BY_FINGERPRINT, fingerprintKey(namespace, fingerprintLabel));
  }

  /** Incidents raised under this RemediationPolicy. */
  byPolicy(namespace: string, name: string): Incident[] {
    return this.informer.byIndex(BY_POLICY, `${namespace}/${name}`);
  }

  /** How many incidents opened at or after this time. */
  openedSince(time: Date): number {
    return this.openings.length - lowerBound(this.openings, time.getTime());
  }

  private track(key: string, incident: Incident | undefined): void {
    const previous = this.openedAt.get(key);
    const created = incident?.metadata.creationTimestamp;
    const current = created ? new Date(created).getTime() : undefined;
    if (previous === current) return;
    if (previous !== undefined) {
      this.openings.splice(lowerBound(this.openings, previous), 1);
      this.openedAt.delete(key);
    }
    if (current !== undefined && !Number.isNaN(current)) {
      this.openings.splice(lowerBound(this.openings, current + 1), 0, current);
      this.openedAt.set(key, current);
    }
  }
}

/** The first index whose value is >= target. */
function lowerBound(sorted: number[], target: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] ?? 0) < target) low = mid + 1;
    else high = mid;
  }
  return low;
}
