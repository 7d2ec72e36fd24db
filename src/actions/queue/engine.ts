// The queue-drain engine: move a backlog to a parking queue, replay parked messages, purge, or wait
// for consumers. Each operation is a function of what the broker holds when it starts (the depth it
// measures, the headers parked messages carry), never of a previous run's memory, so a run started
// again after a crash, or after a lost connection, resumes where the queues stand.
import { setTimeout as sleep } from 'node:timers/promises';
import amqp, { type ChannelModel } from 'amqplib';
import type { Clock } from '../../runtime/clock.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { silentLogger, type Logger } from '../../telemetry/logger.ts';
import type { EgressGuard, EgressPolicy } from '../../base/egress.ts';
import { guardedSocket, type RabbitConnection } from './connection.ts';
import { classifyAmqpError, QueueFailure, where } from './failure.ts';
import { ManagementClient, type QueueBacklog } from './management.ts';
import { discardingSettings } from './parking.ts';
import { keepOptions, parkedSource, parkOptions, replayOptions } from './messages.ts';
import { transfer, type Route, type RouteKind } from './transfer.ts';
import type { ConsumeMessage } from 'amqplib';

export interface QueueProgress {
  /** Messages handled so far (moved, replayed; for a wait, how far the backlog fell). */
  done: number;
  /** What there is to handle: the depth measured when the run (or its latest pass) began. */
  total: number;
  message: string;
}

export interface QueueResult {
  /** True when there was nothing to do (backlog at or below the threshold, nothing parked). */
  skipped: boolean;
  /** One line for the attempt's message. */
  message: string;
  /** The backlog the management API reported before the run acted. */
  backlog: QueueBacklog;
  moved: number;
  replayed: number;
  /** Left in the parking queue by a replay because they came from another queue. */
  kept: number;
  purged: number;
}

export type Report = (progress: QueueProgress) => void;

export interface MoveSpec {
  vhost: string;
  queue: string;
  parkingQueue: string;
  /** Act only when more than this many messages are ready. */
  threshold: number;
  /** The attempt id: written into each parked message's header and the connection name. */
  attempt: string;
  deadline: Date;
}

export interface ReplaySpec {
  vhost: string;
  parkingQueue: string;
  /** Replay only messages parked from this queue; the others stay parked. Default: every message. */
  onlyFrom?: string;
  attempt: string;
  deadline: Date;
}

export interface PurgeSpec {
  vhost: string;
  queue: string;
  threshold: number;
}

export interface WaitSpec {
  vhost: string;
  queue: string;
  threshold: number;
  deadline: Date;
}

export interface EngineOptions {
  /** Unacknowledged deliveries per pass at most (memory, and what one failure sends back). */
  prefetch: number;
  /**
   * Confirm channels a pass publishes on, round-robin. More than one lets the broker work on them in
   * parallel, at the price of strict order (messages from different channels may interleave); in the
   * benchmark two were no faster than one on a loaded two-core machine, so one is the default.
   */
  publishChannels: number;
  /** How often a wait reads the backlog, and a move checks its deadline and an idle source. */
  pollIntervalMs: number;
  tickMs: number;
  /** After a lost connection: how many times to reconnect, with doubling delays between these. */
  reconnect: { attempts: number; initialDelayMs: number; maxDelayMs: number };
  /** AMQP heartbeat, so a broker that vanished without closing the socket is noticed. */
  heartbeatSeconds: number;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  prefetch: 2000,
  publishChannels: 1,
  pollIntervalMs: 2_000,
  tickMs: 250,
  reconnect: { attempts: 8, initialDelayMs: 500, maxDelayMs: 10_000 },
  heartbeatSeconds: 10,
};

export interface EngineDeps {
  clock: Clock;
  metrics?: Metrics;
  logger?: Logger;
  options?: Partial<EngineOptions>;
  /**
   * The egress policy every broker URL (the tenant's) goes through, per the connection Secret's
   * namespace. Tests against a local broker give one that allows loopback, as an install would.
   */
  egress: EgressPolicy;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
const belowThreshold = (ready: number, threshold: number) =>
  `${plural(ready, 'message')} ready, at or below the threshold ${threshold}: nothing to do`;

export class QueueEngine {
  private readonly clock: Clock;
  private readonly metrics: Metrics | undefined;
  private readonly logger: Logger;
  private readonly options: EngineOptions;
  private readonly egress: EgressPolicy;

  constructor(deps: EngineDeps) {
    this.clock = deps.clock;
    this.metrics = deps.metrics;
    this.logger = deps.logger ?? silentLogger;
    this.options = { ...DEFAULT_ENGINE_OPTIONS, ...deps.options };
    this.egress = deps.egress;
  }

  private guard(connection: RabbitConnection): EgressGuard {
    return this.egress.forNamespace(connection.namespace);
  }

  /** The backlog as the management API reports it (the figures alerts and thresholds use). */
  backlog(connection: RabbitConnection, vhost: string, queue: string): Promise<QueueBacklog> {
    return new ManagementClient(connection, this.guard(connection)).backlog(vhost, queue);
  }

  /**
   * Moves the ready messages of `queue` to `parkingQueue` (declared durable when absent), at least
   * once, bounded by the depth measured when each pass starts. Skipped when the backlog is at or
   * below the threshold.
   */
  async move(
    connection: RabbitConnection,
    spec: MoveSpec,
    signal: AbortSignal,
    report: Report,
  ): Promise<QueueResult> {
    const { vhost, queue, parkingQueue } = spec;
    const context = where(vhost, queue, `moving to ${parkingQueue}`);
    const backlog = await this.retrying(context, signal, spec.deadline, () =>
      this.backlog(connection, vhost, queue),
    );
    await this.retrying(context, signal, spec.deadline, () =>
      this.keepsWhatItConfirms(connection, vhost, parkingQueue),
    );
    const base = { backlog, moved: 0, replayed: 0, kept: 0, purged: 0 };
    const route = (message: ConsumeMessage): Route => ({
      queue: parkingQueue,
      options: parkOptions(message, {
        sourceQueue: queue,
        attempt: spec.attempt,
        username: connection.username,
      }),
      kind: 'moved',
    });
    const counts = await this.passes(connection, {
      vhost,
      from: queue,
      ensure: [parkingQueue],
      threshold: spec.threshold,
      route,
      attempt: spec.attempt,
      deadline: spec.deadline,
      context,
      verb: `moved to ${parkingQueue}`,
      operation: 'moved',
      signal,
      report,
    });
    if (counts.skippedAt !== undefined)
      return { ...base, skipped: true, message: belowThreshold(counts.skippedAt, spec.threshold) };
    return {
      ...base,
      skipped: false,
      moved: counts.moved,
      message: `moved ${plural(counts.moved, 'message')} from ${queue} to ${parkingQueue}${counts.note}`,
    };
  }

  /**
   * Refuses a parking queue that may drop or move out what it confirmed, before the first message
   * moves: the source is acknowledged on the parking queue's confirm, so such a queue could lose
   * messages for good. A parking queue that does not exist yet is declared without arguments.
   */
  private async keepsWhatItConfirms(
    connection: RabbitConnection,
    vhost: string,
    parkingQueue: string,
  ): Promise<void> {
    const settings = await new ManagementClient(connection, this.guard(connection)).settings(
      vhost,
      parkingQueue,
    );
    const discards = settings && discardingSettings(settings);
    if (discards)
      throw new QueueFailure(
        'ParkingQueueDiscards',
        `the parking queue "${parkingQueue}" in vhost ${vhost} has ${discards}: nothing was moved; park in a queue without them`,
      );
  }

  /**
   * Sends parked messages back to the queue their source header names, with the same guarantees as
   * a move. Messages from other queues (with `onlyFrom`) or without the header are republished to
   * the parking queue's tail, so each is looked at once.
   */
  async replay(
    connection: RabbitConnection,
    spec: ReplaySpec,
    signal: AbortSignal,
    report: Report,
  ): Promise<QueueResult> {
    const { vhost, parkingQueue, onlyFrom } = spec;
    const context = where(vhost, parkingQueue, `replaying${onlyFrom ? ` to ${onlyFrom}` : ''}`);
    const backlog = await this.retrying(context, signal, spec.deadline, () =>
      this.backlog(connection, vhost, parkingQueue),
    );
    const base = { backlog, moved: 0, replayed: 0, kept: 0, purged: 0 };
    const route = (message: ConsumeMessage): Route => {
      const source = parkedSource(message);
      if (source === undefined || (onlyFrom !== undefined && source !== onlyFrom))
        return { queue: parkingQueue, options: keepOptions(message, connection.username), kind: 'kept' };
      return { queue: source, options: replayOptions(message, connection.username), kind: 'moved' };
    };
    const counts = await this.passes(connection, {
      vhost,
      from: parkingQueue,
      ensure: [],
      threshold: 0,
      route,
      attempt: spec.attempt,
      deadline: spec.deadline,
      context,
      verb: 'replayed',
      operation: 'replayed',
      signal,
      report,
    });
    if (counts.skippedAt !== undefined)
      return { ...base, skipped: true, message: `nothing is parked in ${parkingQueue}` };
    const kept = counts.kept > 0 ? `; ${plural(counts.kept, 'message')} from other queues stayed parked` : '';
    return {
      ...base,
      skipped: false,
      replayed: counts.moved,
      kept: counts.kept,
      message: `replayed ${plural(counts.moved, 'message')} from ${parkingQueue}${kept}${counts.note}`,
    };
  }

  /**
   * Deletes the ready messages of `queue` (unacknowledged ones survive) when the backlog is above the
   * threshold; the count is the broker's own answer to the purge.
   */
  async purge(connection: RabbitConnection, spec: PurgeSpec, signal: AbortSignal): Promise<QueueResult> {
    const { vhost, queue } = spec;
    const context = where(vhost, queue, 'purging');
    const backlog = await this.backlog(connection, vhost, queue);
    const base = { backlog, moved: 0, replayed: 0, kept: 0, purged: 0 };
    const purged = await this.withConnection(connection, vhost, `purge ${queue}`, signal, async (c) => {
      const channel = await c.createChannel();
      channel.on('error', () => undefined);
      try {
        const { messageCount } = await channel.checkQueue(queue);
        return messageCount <= spec.threshold ? { skippedAt: messageCount } : await channel.purgeQueue(queue);
      } catch (error) {
        throw classifyAmqpError(error, context);
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
    if ('skippedAt' in purged)
      return { ...base, skipped: true, message: belowThreshold(purged.skippedAt, spec.threshold) };
    const count = purged.messageCount;
    this.metrics?.queueMessages.inc({ operation: 'purged' }, count);
    this.logger.info({ vhost, queue, purged: count }, 'queue purged');
    return {
      ...base,
      skipped: false,
      purged: count,
      message: `purged ${plural(count, 'ready message')} from ${queue}`,
    };
  }

  /** Waits, polling the management API, until the backlog is at or below the threshold. */
  async waitForConsumers(
    connection: RabbitConnection,
    spec: WaitSpec,
    signal: AbortSignal,
    report: Report,
  ): Promise<QueueResult> {
    const { vhost, queue, threshold, deadline } = spec;
    const context = where(vhost, queue, 'waiting for consumers');
    const read = () => this.retrying(context, signal, deadline, () => this.backlog(connection, vhost, queue));
    const first = await read();
    const base = { backlog: first, moved: 0, replayed: 0, kept: 0, purged: 0 };
    if (first.ready <= threshold)
      return { ...base, skipped: true, message: belowThreshold(first.ready, threshold) };
    const total = first.ready - threshold;
    for (let current = first; ; current = await read()) {
      const state = `${current.ready} ready (threshold ${threshold}), ${plural(current.consumers, 'consumer')}, acknowledging ${current.rates.ack.toFixed(1)}/s`;
      if (current.ready <= threshold)
        return { ...base, skipped: false, message: `consumers brought the backlog down: ${state}` };
      if (this.clock.now() >= deadline)
        throw new QueueFailure(
          'Timeout',
          `${context}: not under the threshold by ${deadline.toISOString()}: ${state}`,
        );
      report({ done: Math.max(0, first.ready - current.ready), total, message: `waiting: ${state}` });
      await this.pause(context, signal, this.options.pollIntervalMs);
    }
  }

  /**
   * Transfer passes until one ends well. A pass broken by a lost connection is followed, after a
   * delay, by a new one bounded by the depth the queue holds then; every other failure ends the run.
   */
  private async passes(
    connection: RabbitConnection,
    job: {
      vhost: string;
      from: string;
      ensure: string[];
      /** The first pass does nothing when the source holds at most this many ready messages. */
      threshold: number;
      route: (message: ConsumeMessage) => Route;
      attempt: string;
      deadline: Date;
      context: string;
      verb: string;
      operation: 'moved' | 'replayed';
      signal: AbortSignal;
      report: Report;
    },
  ): Promise<{ moved: number; kept: number; note: string; skippedAt?: number }> {
    const counts: Record<RouteKind, number> = { moved: 0, kept: 0 };
    let total = 0;
    let passes = 0;
    let skippedAt: number | undefined;
    const progress = () =>
      job.report({ done: counts.moved, total, message: `${counts.moved} of ${total} messages ${job.verb}` });
    await this.retrying(job.context, job.signal, job.deadline, () =>
      this.withConnection(connection, job.vhost, `${job.attempt} ${job.operation}`, job.signal, async (c) => {
        passes++;
        const depth = await this.prepare(c, job.from, job.ensure, job.context);
        if (passes === 1 && depth <= job.threshold) {
          skippedAt = depth;
          return;
        }
        total = counts.moved + depth;
        progress();
        this.logger.info(
          { vhost: job.vhost, queue: job.from, depth, pass: passes, attempt: job.attempt },
          'transfer pass',
        );
        await this.withConnection(
          connection,
          job.vhost,
          `${job.attempt} ${job.operation} (publish)`,
          job.signal,
          (p) =>
            transfer(
              { consume: c, publish: this.publishingOn(c, p) },
              { from: job.from, limit: depth, prefetch: this.options.prefetch, route: job.route },
              {
                signal: job.signal,
                deadline: job.deadline,
                clock: this.clock,
                tickMs: this.options.tickMs,
                context: job.context,
                onSettled: (kind, n) => {
                  counts[kind] += n;
                  if (kind === 'moved') this.metrics?.queueMessages.inc({ operation: job.operation }, n);
                  progress();
                },
              },
            ),
        );
      }),
    );
    const note = passes > 1 ? ` in ${passes} passes (the connection was lost and re-established)` : '';
    return {
      moved: counts.moved,
      kept: counts.kept,
      note,
      ...(skippedAt !== undefined ? { skippedAt } : {}),
    };
  }

  /** The connections the publishing channels go on, alternating between the pass's two connections. */
  private publishingOn(consume: ChannelModel, publish: ChannelModel): ChannelModel[] {
    return Array.from({ length: this.options.publishChannels }, (_, i) => (i % 2 ? consume : publish));
  }

  /** The source's ready count, after checking it exists and declaring absent destinations durable. */
  private async prepare(c: ChannelModel, from: string, ensure: string[], context: string): Promise<number> {
    // A passive declare of a missing queue closes its channel: each check gets a channel of its own.
    const check = async (queue: string) => {
      const channel = await c.createChannel();
      channel.on('error', () => undefined);
      try {
        return await channel.checkQueue(queue);
      } finally {
        await channel.close().catch(() => undefined);
      }
    };
    let depth: number;
    try {
      depth = (await check(from)).messageCount;
    } catch (error) {
      throw classifyAmqpError(error, context);
    }
    for (const queue of ensure) {
      try {
        await check(queue);
      } catch (error) {
        const failure = classifyAmqpError(error, context);
        if (failure.reason !== 'QueueNotFound') throw failure;
        const channel = await c.createChannel();
        await channel.assertQueue(queue, { durable: true });
        await channel.close();
        this.logger.info({ queue }, 'declared the parking queue (durable)');
      }
    }
    return depth;
  }

  private async withConnection<T>(
    connection: RabbitConnection,
    vhost: string,
    name: string,
    signal: AbortSignal,
    use: (c: ChannelModel) => Promise<T>,
  ): Promise<T> {
    const endpoint = `AMQP connection to ${connection.amqpUrl} (vhost ${vhost})`;
    const url = new URL(connection.amqpUrl);
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    let c: ChannelModel;
    try {
      c = await amqp.connect(
        {
          protocol: url.protocol.replace(':', ''),
          hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          username: connection.username,
          password: connection.password,
          vhost,
          heartbeat: this.options.heartbeatSeconds,
        },
        // Without TCP_NODELAY, Nagle's algorithm holds small frames (acks, the handshake) for a delayed
        // ACK: 40 ms per connection set-up, and stalls in the confirm-ack pipeline.
        {
          clientProperties: { connection_name: `selfheal ${name}` },
          timeout: 10_000,
          noDelay: true,
          // The broker's address is checked where the socket connects (the tenant chose it).
          ...guardedSocket(hostname, this.guard(connection)),
        },
      );
    } catch (error) {
      throw classifyAmqpError(error, endpoint);
    }
    // Connection errors surface through the channels' close; without a listener they would throw.
    // A close the server sent carries its reply text, which the tenant's broker chooses: the log
    // says it in our words, with the AMQP reply code only.
    c.on('error', (error: unknown) =>
      this.logger.warn({ err: classifyAmqpError(error, endpoint).message, vhost }, 'AMQP connection error'),
    );
    // On an abort the connection closes a tick later: the pass's own abort handler first acknowledges
    // what the destination confirmed and requeues the rest, on channels still open (frames after the
    // connection's close would be ignored by the broker, turning confirmed messages into duplicates).
    const closeSoon = () => setImmediate(() => void c.close().catch(() => undefined));
    signal.addEventListener('abort', closeSoon, { once: true });
    try {
      return await use(c);
    } catch (error) {
      // What `use` did on the connection (opening a channel, say) may fail with amqplib's own error,
      // whose message carries the broker's words: it leaves here as a QueueFailure in ours.
      throw classifyAmqpError(error, endpoint);
    } finally {
      signal.removeEventListener('abort', closeSoon);
      // Aborted before the listener was added (while connecting): nothing else would close it.
      const closing = c.close().catch(() => undefined);
      if (!signal.aborted) await closing;
    }
  }

  /** Runs `step`, again after a lost connection (doubling delays), until it succeeds or may not. */
  private async retrying<T>(
    context: string,
    signal: AbortSignal,
    deadline: Date,
    step: () => Promise<T>,
  ): Promise<T> {
    const { attempts, initialDelayMs, maxDelayMs } = this.options.reconnect;
    for (let attempt = 0, delay = initialDelayMs; ; attempt++, delay = Math.min(delay * 2, maxDelayMs)) {
      try {
        return await step();
      } catch (error) {
        const failure = error instanceof QueueFailure ? error : classifyAmqpError(error, context);
        // The abort closed the connection under the step: the abort is why it failed.
        if (signal.aborted && failure.reason !== 'Aborted')
          throw new QueueFailure('Aborted', `${context}: aborted: ${String(signal.reason)}`, {
            cause: failure,
          });
        const left = deadline.getTime() - this.clock.now().getTime();
        if (
          signal.aborted ||
          failure.reason !== 'BrokerUnavailable' ||
          attempt >= attempts ||
          left <= delay
        ) {
          if (failure.reason === 'BrokerUnavailable' && attempt > 0)
            throw new QueueFailure(
              'BrokerUnavailable',
              `${failure.message} (gave up after ${attempt + 1} tries)`,
              {
                cause: failure,
              },
            );
          throw failure;
        }
        this.logger.warn({ err: failure.message, retryInMs: delay }, 'queue job lost the broker; retrying');
        await this.pause(context, signal, delay);
      }
    }
  }

  private async pause(context: string, signal: AbortSignal, ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw new QueueFailure('Aborted', `${context}: aborted: ${String(signal.reason)}`);
    }
  }
}
