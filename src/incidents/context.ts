// What on-call checks first, gathered once when an incident opens (the playbook's diagnostics): the
// target's last rollout and how long before the incident it happened, its ready and wanted replicas,
// and the latest warning Events of its pods. Bounded reads, once per incident, never on every pass.
import type { AppsV1Api, CoreV1Api, V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import { MAX_CONTEXT_FACT_LENGTH, MAX_CONTEXT_FACTS, type Incident } from '../api/incident.ts';
import type { Workload } from '../actions/workload.ts';

export interface ContextReader {
  /** Facts about the incident's target, at most MAX_CONTEXT_FACTS, each at most MAX_CONTEXT_FACT_LENGTH. */
  gather(incident: Incident, workload: Workload | undefined): Promise<string[]>;
}

const minutesBetween = (from: Date, to: Date) => Math.round((to.getTime() - from.getTime()) / 60_000);

function replicasFact(workload: Workload): string {
  if (workload.kind === 'DaemonSet') {
    const s = workload.object.status;
    return `${s?.numberReady ?? 0}/${s?.desiredNumberScheduled ?? 0} pods ready`;
  }
  const wanted = workload.object.spec?.replicas ?? 1;
  return `${workload.object.status?.readyReplicas ?? 0}/${wanted} replicas ready`;
}

export class KubeContextReader implements ContextReader {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;

  constructor(apps: AppsV1Api, core: CoreV1Api) {
    this.apps = apps;
    this.core = core;
  }

  async gather(incident: Incident, workload: Workload | undefined): Promise<string[]> {
    const target = incident.spec.target;
    const namespace = incident.metadata.namespace ?? '';
    if (!target) return [];
    if (!workload) return [`${target.kind} ${namespace}/${target.name} does not exist`];
    const openedAt = new Date(incident.status?.openedAt ?? incident.metadata.creationTimestamp ?? Date.now());
    const facts = [`${target.kind} ${target.name}: ${replicasFact(workload)}`];
    if (workload.kind === 'Deployment') facts.push(...(await this.lastRollout(workload.object, openedAt)));
    facts.push(...(await this.warnings(namespace, target.name)));
    return facts.slice(0, MAX_CONTEXT_FACTS).map((f) => f.slice(0, MAX_CONTEXT_FACT_LENGTH));
  }

  private async lastRollout(deployment: V1Deployment, openedAt: Date): Promise<string[]> {
    const labels = deployment.spec?.selector.matchLabels ?? {};
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!selector) return [];
    const sets = await this.apps.listNamespacedReplicaSet({
      namespace: deployment.metadata?.namespace ?? '',
      labelSelector: selector,
      limit: 50,
    });
    return lastRolloutFact(sets.items, deployment, openedAt);
  }

  private async warnings(namespace: string, workloadName: string): Promise<string[]> {
    const events = await this.core.listNamespacedEvent({
      namespace,
      fieldSelector: 'type=Warning',
      limit: 200,
    });
    return events.items
      .filter(
        (e) =>
          e.involvedObject.kind === 'Pod' && (e.involvedObject.name ?? '').startsWith(`${workloadName}-`),
      )
      .sort((a, b) => (a.lastTimestamp?.getTime() ?? 0) - (b.lastTimestamp?.getTime() ?? 0))
      .slice(-5)
      .map((e) => `warning ${e.reason ?? ''} on pod ${e.involvedObject.name ?? ''}: ${e.message ?? ''}`);
  }
}

const REVISION = 'deployment.kubernetes.io/revision';

/**
 * The Deployment's current revision: its ReplicaSet with the highest revision (a rollback gives the
 * old ReplicaSet a new revision, so the newest-created one is not always current). The time is the
 * ReplicaSet's creation, which after a rollback is older than the rollout itself, and says so.
 */
export function lastRolloutFact(
  replicaSets: readonly V1ReplicaSet[],
  deployment: V1Deployment,
  openedAt: Date,
): string[] {
  const revisionOf = (rs: V1ReplicaSet) => Number(rs.metadata?.annotations?.[REVISION] ?? NaN);
  const createdOf = (rs: V1ReplicaSet) => rs.metadata?.creationTimestamp?.getTime() ?? 0;
  const owned = replicaSets.filter(
    (rs) =>
      Number.isInteger(revisionOf(rs)) &&
      rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid),
  );
  const current = owned.reduce<V1ReplicaSet | undefined>(
    (best, rs) => (!best || revisionOf(rs) > revisionOf(best) ? rs : best),
    undefined,
  );
  const created = current?.metadata?.creationTimestamp;
  if (!current || !created) return [];
  const minutes = minutesBetween(created, openedAt);
  const when =
    minutes >= 0 ? `${minutes} min before the incident` : `${-minutes} min after the incident opened`;
  const rolledBack = owned.some((rs) => createdOf(rs) > created.getTime());
  return [
    rolledBack
      ? `last rollout: revision ${revisionOf(current)}, a rollback to the ReplicaSet created at ${created.toISOString()} (${when})`
      : `last rollout: revision ${revisionOf(current)} at ${created.toISOString()} (deployed ${when})`,
  ];
}
