// One pass of moving messages from a queue to other queues over one AMQP connection, at least once:
// consume with a bounded prefetch, republish each message on a confirm channel with `mandatory`,
// acknowledge the source only after the destination confirmed, requeue on a nack or a return.
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Clock } from '../../runtime/clock.ts';
import { classifyAmqpError, QueueFailure } from './failure.ts';
import { SettleWindow } from './settle.ts';

/** `moved`: to its destination; `kept`: republished to the queue it came from (replay skips it). */
export type RouteKind = 'moved' | 'kept';

export interface Route {
  queue: string;
  options: Options.Publish;
  kind: RouteKind;
}

export interface TransferPlan {
  from: string;
  /** Take at most this many deliveries (the depth measured before the pass). */
  limit: number;
  /** Unacknowledged deliveries at most: bounds memory and what one failure sends back. */
  prefetch: number;
  route(message: ConsumeMessage): Route;
}

export interface TransferControl {
  signal: AbortSignal;
  deadline: Date;
  clock: Clock;
  /** How often the pass checks the deadline, and looks at the source while nothing arrives. */
  tickMs: number;
  /** Called after each acknowledgement with what it settled. */
  onSettled(kind: RouteKind, count: number): void;
  /** Names the pass in failures: `queue orders in vhost / (moving to orders.parked)`. */
  context: string;
}

/** How a pass ended well: it took `limit` deliveries, or the source emptied before that. */
export type TransferEnd = 'limit' | 'empty';

/**
 * Runs one pass on its own two channels. Resolves when every message taken is confirmed at its
 * destination and acknowledged at the source; rejects with a QueueFailure otherwise, after sending
 * every unacknowledged delivery back to the source (a message confirmed but not yet acknowledged
 * may then exist twice; none is lost).
 */
export async function transfer(
  connections: { consume: ChannelModel; publish: ChannelModel[] },
  plan: TransferPlan,
  control: TransferControl,
): Promise<TransferEnd> {
  if (plan.limit <= 0) return 'limit';
  const consumer = await connections.consume.createChannel();
  const publishers = await Promise.all(connections.publish.map((c) => c.createConfirmChannel()));
  const pass = new Pass(consumer, publishers, plan, control);
  try {
    await consumer.prefetch(Math.min(plan.prefetch, plan.limit));
    return await pass.run();
  } finally {
    // Closing the consuming channel requeues whatever it still holds. After an abort nothing waits.
    const closing = Promise.all([consumer, ...publishers].map(closeChannel));
    if (!control.signal.aborted) await closing;
  }
}

/**
 * Closes a channel, done when the broker confirms or the channel closes otherwise: amqplib leaves
 * the promise of a close pending forever when the connection dies before the broker's CloseOk.
 */
function closeChannel(channel: Channel): Promise<void> {
  return new Promise<void>((resolve) => {
    channel.once('close', () => resolve());
    channel.close().then(
      () => resolve(),
      () => resolve(),
    );
  });
}

interface Taken {
  message: ConsumeMessage;
  kind: RouteKind;
}

class Pass {
  private taken = 0;
  private deliveredSinceTick = false;
  private checking = false;
  private consumerTag: string | undefined;
  private cancelled = false;
  private stopReason: TransferEnd | undefined;
  private failure: QueueFailure | undefined;
  private done = false;
  private readonly window = new SettleWindow<Taken>();
  /** Confirmed at the destination, acknowledged at the source on the next flush. */
  private unacked: Taken[] = [];
  private resolve: (end: TransferEnd) => void = () => undefined;
  private reject: (failure: QueueFailure) => void = () => undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () =>
    this.fail(
      new QueueFailure('Aborted', `${this.control.context}: aborted: ${String(this.control.signal.reason)}`),
    );

  private readonly consumer: Channel;
  /** Deliveries are published round-robin over these: the broker works on each in parallel. */
  private readonly publishers: ConfirmChannel[];
  private readonly plan: TransferPlan;
  private readonly control: TransferControl;

  constructor(consumer: Channel, publishers: ConfirmChannel[], plan: TransferPlan, control: TransferControl) {
    this.consumer = consumer;
    this.publishers = publishers;
    this.plan = plan;
    this.control = control;
  }

  run(): Promise<TransferEnd> {
    return new Promise<TransferEnd>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      const context = this.control.context;
      const onError = (error: unknown) => this.fail(classifyAmqpError(error, context));
      const onClose = () =>
        this.fail(new QueueFailure('BrokerUnavailable', `${context}: the broker closed the channel`));
      for (const channel of [this.consumer, ...this.publishers]) {
        channel.on('error', onError);
        channel.on('close', onClose);
      }
      // A return comes before the confirm of the same message, and nothing says which publish it
      // was: from here on no confirm can be trusted, so everything unacknowledged goes back.
      for (const publisher of this.publishers)
        publisher.on('return', (message: ConsumeMessage) =>
          this.fail(
            new QueueFailure(
              'DestinationUnroutable',
              `${context}: the broker returned a message as unroutable: queue ${message.fields.routingKey} does not exist`,
            ),
          ),
        );
      if (this.control.signal.aborted) return this.onAbort();
      this.control.signal.addEventListener('abort', this.onAbort, { once: true });
      this.timer = setInterval(() => this.tick(), this.control.tickMs);
      this.consumer
        .consume(this.plan.from, (m) => this.onDelivery(m), { noAck: false })
        .then(({ consumerTag }) => {
          this.consumerTag = consumerTag;
          if (this.stopReason) this.cancel();
        }, onError);
    });
  }

  private onDelivery(message: ConsumeMessage | null): void {
    if (this.done) return;
    if (message === null) {
      this.fail(
        new QueueFailure(
          'QueueNotFound',
          `${this.control.context}: the broker cancelled the consumer (queue deleted)`,
        ),
      );
      return;
    }
    if (this.taken >= this.plan.limit) {
      this.guarded(() => this.consumer.nack(message, false, true));
      return;
    }
    this.deliveredSinceTick = true;
    this.taken++;
    const route = this.plan.route(message);
    const tag = message.fields.deliveryTag;
    this.window.add(tag, { message, kind: route.kind });
    const publisher = this.publishers[this.taken % this.publishers.length] as ConfirmChannel;
    publisher.publish('', route.queue, message.content, route.options, (error: unknown) =>
      this.onConfirm(tag, error),
    );
    if (this.taken >= this.plan.limit) this.stop('limit');
  }

  private onConfirm(tag: number, error: unknown): void {
    if (this.done || this.failure) return;
    if (error) {
      // amqplib fails every unconfirmed publish with 'channel closed' when the channel goes away.
      const nacked = error instanceof Error && error.message === 'message nacked';
      this.fail(
        nacked
          ? new QueueFailure('PublishRejected', `${this.control.context}: the broker nacked a publish`)
          : new QueueFailure(
              'BrokerUnavailable',
              `${this.control.context}: the channel closed before the confirm`,
            ),
      );
      return;
    }
    const settled = this.window.confirm(tag);
    if (settled.length === 0) return;
    this.unacked.push(...settled);
    // A batch of confirms arrives in one read and fires one callback per message: acknowledge once
    // for all of them, after the read, instead of sending an ack frame per message.
    if (this.unacked.length === settled.length) queueMicrotask(() => this.flushAcks());
  }

  /** Acknowledges (with `multiple`) every message confirmed since the last flush. */
  private flushAcks(): boolean {
    const settled = this.unacked.splice(0);
    const last = settled.at(-1);
    if (!last || this.done) return true;
    if (!this.guarded(() => this.consumer.ack(last.message, true))) return false;
    const moved = settled.filter((t) => t.kind === 'moved').length;
    if (moved > 0) this.control.onSettled('moved', moved);
    if (moved < settled.length) this.control.onSettled('kept', settled.length - moved);
    this.maybeFinish();
    return true;
  }

  private tick(): void {
    if (this.done || this.stopReason) return;
    if (this.control.clock.now() >= this.control.deadline) {
      const at = this.control.deadline.toISOString();
      this.fail(new QueueFailure('Timeout', `${this.control.context}: not done by its deadline ${at}`));
      return;
    }
    const idle = !this.deliveredSinceTick;
    this.deliveredSinceTick = false;
    // Other consumers, expiry or a purge can empty the source before the limit is reached.
    if (!idle || this.checking || this.window.size > 0 || this.consumerTag === undefined) return;
    this.checking = true;
    this.consumer.checkQueue(this.plan.from).then(
      ({ messageCount }) => {
        this.checking = false;
        if (messageCount === 0 && !this.deliveredSinceTick && this.window.size === 0) this.stop('empty');
      },
      (error: unknown) => this.fail(classifyAmqpError(error, this.control.context)),
    );
  }

  private stop(reason: TransferEnd): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.cancel();
    this.maybeFinish();
  }

  private cancel(): void {
    const tag = this.consumerTag;
    if (tag === undefined || this.cancelled) return;
    this.consumer.cancel(tag).then(
      () => {
        this.cancelled = true;
        this.maybeFinish();
      },
      (error: unknown) => this.fail(classifyAmqpError(error, this.control.context)),
    );
  }

  private maybeFinish(): void {
    const end = this.stopReason;
    if (
      this.done ||
      this.failure ||
      !end ||
      !this.cancelled ||
      this.window.size > 0 ||
      this.unacked.length > 0
    )
      return;
    this.finish(() => this.resolve(end));
  }

  /** Runs a channel operation; a channel closed under it fails the pass instead of throwing. */
  private guarded(operation: () => void): boolean {
    try {
      operation();
      return true;
    } catch (error) {
      this.fail(classifyAmqpError(error, this.control.context));
      return false;
    }
  }

  private fail(failure: QueueFailure): void {
    if (this.done || this.failure) return;
    // The first failure is the one reported: when the broker closes the channels, acknowledging on
    // the closed one fails too, and that must not turn a resumable broker loss into a channel error.
    this.failure = failure;
    // What the destination confirmed before the failure is safe to acknowledge. On a channel that is
    // gone the ack cannot be sent; the broker requeued those deliveries itself, so they are in both
    // queues (at-least-once) and the resumed pass moves them again.
    this.flushAcks();
    try {
      this.consumer.nackAll(true);
    } catch {
      // The channel is gone: the broker requeued its unacknowledged deliveries itself.
    }
    this.window.clear();
    this.finish(() => this.reject(failure));
  }

  private finish(settle: () => void): void {
    this.done = true;
    clearInterval(this.timer);
    this.control.signal.removeEventListener('abort', this.onAbort);
    settle();
  }
}
