// A queueDrain or queueReplay action as a background job for the JobRegistry: it reads the
// connection Secret, then runs the engine operation the action's parameters name.
import type { Action } from '../../api/remediation.ts';
import { errorMessage } from '../../telemetry/logger.ts';
import type { JobRun } from '../jobs.ts';
import { parseConnectionSecret, type RabbitConnection, type SecretReader } from './connection.ts';
import type { QueueEngine, QueueProgress, QueueResult } from './engine.ts';
import { QueueFailure } from './failure.ts';

export interface QueueJobRequest {
  /** The incident's namespace: the connection Secret is read there. */
  namespace: string;
  /** The attempt id, unique per incident and attempt; parked messages carry it. */
  attempt: string;
  /** A queueDrain or queueReplay action. */
  action: Action;
  /** The attempt's start plus the action's timeout: the run fails with Timeout after it. */
  deadline: Date;
}

async function connectionFor(
  secrets: SecretReader,
  namespace: string,
  name: string,
): Promise<RabbitConnection> {
  const ref = { namespace, name };
  let data;
  try {
    data = await secrets.read(ref.namespace, ref.name);
  } catch (error) {
    throw new QueueFailure(
      'SecretUnavailable',
      `connection Secret ${namespace}/${name} could not be read: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  return parseConnectionSecret(ref, data);
}

/** The job that runs a queue action; start it with `registry.start(request.attempt, queueJob(...))`. */
export function queueJob(
  engine: QueueEngine,
  secrets: SecretReader,
  request: QueueJobRequest,
): JobRun<QueueProgress, QueueResult> {
  const { namespace, attempt, action, deadline } = request;
  return async (signal, report) => {
    if (action.type === 'queueReplay' && action.queueReplay) {
      const p = action.queueReplay;
      const connection = await connectionFor(secrets, namespace, p.connectionSecretRef.name);
      const spec = { vhost: p.vhost, parkingQueue: p.parkingQueue, attempt, deadline };
      return engine.replay(connection, p.queue ? { ...spec, onlyFrom: p.queue } : spec, signal, report);
    }
    if (action.type !== 'queueDrain' || !action.queueDrain)
      throw new Error(`attempt ${attempt}: a ${action.type} action is not a queue job`);
    const p = action.queueDrain;
    const connection = await connectionFor(secrets, namespace, p.connectionSecretRef.name);
    const { vhost, queue, threshold } = p;
    switch (p.mode) {
      case 'move':
        if (!p.parkingQueue) throw new Error(`attempt ${attempt}: mode move without a parkingQueue`);
        return engine.move(
          connection,
          { vhost, queue, parkingQueue: p.parkingQueue, threshold, attempt, deadline },
          signal,
          report,
        );
      case 'purge':
        // The API refuses purge without allowPurge; an object from before that rule is refused here.
        if (!p.allowPurge) throw new Error(`attempt ${attempt}: mode purge without allowPurge: true`);
        return engine.purge(connection, { vhost, queue, threshold }, signal);
      case 'waitForConsumers':
        return engine.waitForConsumers(connection, { vhost, queue, threshold, deadline }, signal, report);
    }
  };
}
