// The RemediationPolicy controller, run by the leader: it keeps each policy's Ready condition and
// observedGeneration true to what the policy can do, and emits an Event whenever that changes.
import type { ObjectCache } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/group.ts';
import { RemediationPolicyStatus, type RemediationPolicy } from '../api/policy.ts';
import { fitToSchema } from '../api/trim.ts';
import type { RemediationAction } from '../actions/action.ts';
import type { WorkloadCache } from '../actions/workload.ts';
import type { IncidentCache } from '../incidents/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { splitKey } from '../runtime/informer.ts';
import type { StatusWriter } from '../runtime/status.ts';
import { setCondition } from '../runtime/conditions.ts';
import { readiness } from './validate.ts';

export interface PolicyReconcilerDeps {
  policies: ObjectCache<RemediationPolicy>;
  incidents: IncidentCache;
  workloads: WorkloadCache;
  actions: Partial<Record<string, RemediationAction>>;
  status: StatusWriter;
  events: EventRecorder;
  clock: Clock;
}

export class PolicyReconciler implements Reconciler {
  private readonly deps: PolicyReconcilerDeps;

  constructor(deps: PolicyReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const { deps } = this;
    const policy = deps.policies.get(name, namespace);
    if (!policy) return {};
    const { kind, name: fixedName } = policy.spec.target;
    const latestIncident = deps.incidents
      .byPolicy(namespace, name)
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))
      .at(-1);
    const ready = readiness(policy, {
      peers: deps.policies.list(namespace),
      actions: deps.actions,
      ...(fixedName
        ? { fixedTargetExists: deps.workloads.get({ namespace, kind, name: fixedName }) !== undefined }
        : {}),
      ...(latestIncident ? { latestIncident } : {}),
    });
    const before = policy.status?.conditions?.find((c) => c.type === 'Ready');
    // The Ready message can quote the policy's own text (a matcher, a regex error): within the CRD's limits.
    const status = fitToSchema(RemediationPolicyStatus, {
      ...policy.status,
      ...(policy.metadata.generation !== undefined ? { observedGeneration: policy.metadata.generation } : {}),
      conditions: setCondition(
        policy.status?.conditions,
        'Ready',
        ready.status,
        ready.reason,
        ready.message,
        deps.clock.now(),
        policy.metadata.generation,
      ),
    });
    const written = await deps.status.write(
      {
        group: GROUP,
        version: VERSION,
        plural: 'remediationpolicies',
        namespace,
        name,
        resourceVersion: policy.metadata.resourceVersion,
      },
      policy.status,
      status,
    );
    if (written !== undefined && (before?.status !== ready.status || before.reason !== ready.reason)) {
      await deps.events.record(
        { apiVersion: `${GROUP}/${VERSION}`, kind: 'RemediationPolicy', metadata: policy.metadata },
        ready.status === 'True' ? 'Normal' : 'Warning',
        ready.status === 'True' ? 'PolicyReady' : ready.reason,
        ready.message,
      );
    }
    return {};
  }
}
