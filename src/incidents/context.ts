// What on-call checks first, gathered once when an incident opens (the playbook's diagnostics): the
// target's last rollout and how long before the incident it happened, its ready and wanted replicas,
// and the latest warning Events of its pods. Bounded reads, once per incident, never on every pass.
import type { AppsV1Api, CoreV1Api, V1Deployment } from '@kubernetes/client-node';
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
    const newest = sets.items
      .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === deployment.metadata?.uid))
      .sort(
        (a, b) =>
          (a.metadata?.creationTimestamp?.getTime() ?? 0) - (b.metadata?.creationTimestamp?.getTime() ?? 0),
      )
      .at(-1);
    const created = newest?.metadata?.creationTimestamp;
    if (!newest || !created) return [];
    const revision = newest.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? '?';
    const minutes = minutesBetween(created, openedAt);
    const when =
      minutes >= 0 ? `${minutes} min before the incident` : `${-minutes} min after the incident opened`;
    return [`last rollout: revision ${revision} at ${created.toISOString()} (deployed ${when})`];
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
