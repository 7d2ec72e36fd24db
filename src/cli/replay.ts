// `kubectl incident replay NAME`: the incident that sends back what NAME's queueDrain move parked. A
// pure function of NAME (and its policy, for an alert's incident), so every refusal is tested without
// a cluster.
import type { Severity } from '../api/group.ts';
import type { Incident, IncidentSpec } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import type { Action } from '../api/remediation.ts';
import { CliError, UsageError } from './errors.ts';

/** Annotation on a replay incident naming the incident whose parked messages it replays. */
export const REPLAY_OF_ANNOTATION = 'selfheal.dev/replay-of';

/** One queueDrain move: where it parked what, through which broker, within which timeout. */
export interface QueueMove {
  connectionSecret: string;
  vhost: string;
  queue: string;
  parkingQueue: string;
  timeout: string;
}

/** The queueDrain moves among an incident's actions (its own, or its policy's), each queue pair once. */
export function queueMoves(actions: readonly Action[]): QueueMove[] {
  const moves = new Map<string, QueueMove>();
  for (const action of actions) {
    const drain = action.type === 'queueDrain' ? action.queueDrain : undefined;
    if (drain?.mode !== 'move' || !drain.parkingQueue) continue;
    const move = {
      connectionSecret: drain.connectionSecretRef.name,
      vhost: drain.vhost,
      queue: drain.queue,
      parkingQueue: drain.parkingQueue,
      timeout: drain.timeout,
    };
    const key = JSON.stringify([move.connectionSecret, move.vhost, move.queue, move.parkingQueue]);
    if (!moves.has(key)) moves.set(key, move);
  }
  return [...moves.values()];
}

const MAX_TITLE = 200;
const fitTitle = (title: string) => (title.length > MAX_TITLE ? `${title.slice(0, MAX_TITLE - 1)}…` : title);

const describeMove = (m: QueueMove) => `${m.queue} -> ${m.parkingQueue} (vhost ${m.vhost})`;

export interface ReplayOptions {
  /** The source queue, to pick one of several moves. */
  queue?: string;
  severity: Severity;
  /** A duration such as 15m, checked by the caller. Default: the move's own timeout. */
  timeout?: string;
}

export interface ReplayIncident {
  move: QueueMove;
  annotations: Record<string, string>;
  spec: IncidentSpec;
}

/**
 * The replay incident of `source`: same target, one queueReplay action taking the messages `source`'s
 * move parked back to the queue they came from. `policy` is the one `source` names, when it names one
 * (undefined when it does not exist).
 */
export function replayIncident(
  source: Incident,
  policy: RemediationPolicy | undefined,
  options: ReplayOptions,
): ReplayIncident {
  const name = source.metadata.name ?? '';
  const policyName = source.spec.policyRef?.name;
  if (policyName && !policy)
    throw new CliError(
      `incident "${name}" takes its actions from RemediationPolicy "${policyName}", which does not exist any more`,
      'replay by hand instead: docs/runbooks/queue-replay.md',
    );
  const actions = policy?.spec.actions ?? source.spec.actions ?? [];
  const moves = queueMoves(actions);
  if (moves.length === 0)
    throw new CliError(
      `incident "${name}" has no queueDrain action in mode move: it parked nothing to replay`,
      `its actions: ${actions.map((a) => (a.type === 'queueDrain' ? `queueDrain (${a.queueDrain?.mode ?? 'move'})` : a.type)).join(', ') || 'none'}${policyName ? ` (from RemediationPolicy ${policyName})` : ''}`,
    );
  const chosen = options.queue === undefined ? moves : moves.filter((m) => m.queue === options.queue);
  if (chosen.length === 0)
    throw new UsageError(
      `incident "${name}" moved no queue named "${options.queue ?? ''}"`,
      `its moves: ${moves.map(describeMove).join(', ')}`,
    );
  const [move, ...others] = chosen;
  if (!move || others.length > 0)
    throw new UsageError(
      `incident "${name}" moved ${chosen.length} queues: say which to replay with --queue`,
      `its moves: ${chosen.map(describeMove).join(', ')}`,
    );
  const moving = (source.status?.attempts ?? []).find(
    (a) => a.action === 'queueDrain' && a.result === 'Running',
  );
  if (moving)
    throw new CliError(
      `incident "${name}" is still moving messages (${moving.id}: ${moving.message ?? 'running'})`,
      `replay once its attempt has ended: kubectl incident show ${name}`,
    );
  const target = source.spec.target;
  if (!target)
    throw new CliError(
      `incident "${name}" names no target workload: a replay acts on the same consumers`,
      'replay by hand instead: docs/runbooks/queue-replay.md',
    );
  const replay: Action = {
    type: 'queueReplay',
    queueReplay: {
      connectionSecretRef: { name: move.connectionSecret },
      vhost: move.vhost,
      parkingQueue: move.parkingQueue,
      queue: move.queue,
      timeout: options.timeout ?? move.timeout,
    },
  };
  return {
    move,
    annotations: { [REPLAY_OF_ANNOTATION]: name },
    spec: {
      severity: options.severity,
      title: fitTitle(`Replay ${move.parkingQueue} to ${move.queue} (parked by incident ${name})`),
      description: `Sends the messages incident ${name} ("${source.spec.title}") parked in ${move.parkingQueue} back to ${move.queue} in vhost ${move.vhost}, confirmed there before they leave the parking queue.`,
      source: { type: 'manual' },
      target,
      actions: [replay],
      dryRun: false,
    },
  };
}
