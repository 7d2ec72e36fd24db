// The playbook's RabbitMQ moves as actions: queueDrain (move the backlog to a parking queue, purge
// it when explicitly allowed, or wait for consumers, optionally after scaling them) and queueReplay
// (parked messages back to their queues). Their work is a background job of the leader
// (queue/engine.ts); the patch the attempt applies first claims the consumer workload, as every
// effect does, with the attempt's marker on it, and for waitForConsumers sets the scaled count.
import { parseDuration } from '../api/durations.ts';
import type { Action } from '../api/remediation.ts';
import { ATTEMPT_ANNOTATION, type RemediationAction } from './action.ts';
import { scaleTarget } from './scale.ts';
import { objectAnnotations, specReplicas, type Workload } from './workload.ts';

/** The consumer count a waitForConsumers attempt scales to, when it scales at all. */
function consumerTarget(workload: Workload, params: Action): number | undefined {
  const scaling = params.queueDrain?.scaleConsumers;
  return scaling && workload.kind !== 'DaemonSet'
    ? scaleTarget(workload, { type: 'scale', scale: scaling })
    : undefined;
}

function describe(params: Action): string {
  const drain = params.queueDrain;
  if (params.type === 'queueReplay' && params.queueReplay) {
    const r = params.queueReplay;
    return `replay the messages parked in ${r.parkingQueue}${r.queue ? ` from ${r.queue}` : ''} to their source queue`;
  }
  if (!drain) return params.type;
  switch (drain.mode) {
    case 'move':
      return `move the backlog of queue ${drain.queue} above ${drain.threshold} to ${drain.parkingQueue ?? ''} (publisher confirms: nothing lost)`;
    case 'purge':
      return `purge the ready messages of queue ${drain.queue} above ${drain.threshold} (allowed by allowPurge)`;
    case 'waitForConsumers':
      return `wait for consumers to bring queue ${drain.queue} to ${drain.threshold} or fewer ready messages`;
  }
}

function queueAction(type: 'queueDrain' | 'queueReplay'): RemediationAction {
  return {
    type,
    runsJob: true,

    refusal(workload, params) {
      if (params.queueDrain?.scaleConsumers && workload.kind === 'DaemonSet')
        return { reason: 'ActionRefused', message: 'scaleConsumers cannot scale a DaemonSet' };
      return undefined;
    },

    plan(workload, params) {
      const targetReplicas = consumerTarget(workload, params);
      const scaling =
        targetReplicas === undefined
          ? ''
          : `, after scaling ${workload.kind} ${workload.object.metadata?.name ?? ''} from ${specReplicas(workload) ?? 0} to ${targetReplicas}`;
      return {
        description: `${describe(params)}${scaling}`,
        ...(targetReplicas !== undefined ? { targetReplicas } : {}),
      };
    },

    timeoutMs(params) {
      return parseDuration(params.queueDrain?.timeout ?? params.queueReplay?.timeout ?? '10m');
    },

    effect({ marker, targetReplicas }) {
      return {
        metadata: { annotations: { [ATTEMPT_ANNOTATION]: marker } },
        ...(targetReplicas !== undefined ? { spec: { replicas: targetReplicas } } : {}),
      };
    },

    carries(workload, { marker, targetReplicas }) {
      return (
        objectAnnotations(workload)[ATTEMPT_ANNOTATION] === marker &&
        (targetReplicas === undefined || specReplicas(workload) === targetReplicas)
      );
    },
  };
}

export const queueDrain = queueAction('queueDrain');
export const queueReplay = queueAction('queueReplay');
