import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { QueueFailure } from '../../src/actions/queue/failure.ts';
import { transfer, type TransferControl, type TransferPlan } from '../../src/actions/queue/transfer.ts';
import { systemClock } from '../../src/runtime/clock.ts';

// One pass over channels that behave as amqplib's do when the broker closes them: every later
// operation throws IllegalOperationError('Channel closed'). The real broker's cuts are in the e2e
// tier; here the order of events that made a resumable loss look like a channel error is fixed.
class IllegalOperationError extends Error {}

class FakeChannel extends EventEmitter {
  closed = false;
  acked: number[] = [];
  private deliver: ((message: ConsumeMessage | null) => void) | undefined;
  readonly confirms: ((error: unknown) => void)[] = [];

  private guard(): void {
    if (this.closed) throw new IllegalOperationError('Channel closed');
  }

  /** The broker closes the channel (a forced connection close), as amqplib reports it. */
  brokerCloses(): void {
    this.closed = true;
    this.emit('close');
  }

  send(tag: number): void {
    this.deliver?.({
      content: Buffer.from(`message ${tag}`),
      fields: { deliveryTag: tag, redelivered: false, exchange: '', routingKey: 'src', consumerTag: 'c1' },
      properties: { headers: {} },
    } as unknown as ConsumeMessage);
  }

  prefetch = () => Promise.resolve();
  consume = (_queue: string, onMessage: (message: ConsumeMessage | null) => void) => {
    this.deliver = onMessage;
    return Promise.resolve({ consumerTag: 'c1' });
  };
  ack = (message: ConsumeMessage) => {
    this.guard();
    this.acked.push(message.fields.deliveryTag);
  };
  nack = () => this.guard();
  nackAll = () => this.guard();
  cancel = () => Promise.resolve();
  checkQueue = () => Promise.resolve({ messageCount: 0 });
  publish = (
    _exchange: string,
    _queue: string,
    _content: Buffer,
    _options: unknown,
    confirm: (error: unknown) => void,
  ) => {
    this.guard();
    this.confirms.push(confirm);
    return true;
  };
  close = () => {
    this.closed = true;
    return Promise.resolve();
  };
}

function pass(consumer: FakeChannel, publisher: FakeChannel) {
  const connections = {
    consume: { createChannel: () => Promise.resolve(consumer) } as unknown as ChannelModel,
    publish: [{ createConfirmChannel: () => Promise.resolve(publisher) } as unknown as ChannelModel],
  };
  const plan: TransferPlan = {
    from: 'src',
    limit: 10,
    prefetch: 10,
    route: () => ({ queue: 'parked', options: {}, kind: 'moved' }),
  };
  const settled: number[] = [];
  const control: TransferControl = {
    signal: new AbortController().signal,
    deadline: new Date(Date.now() + 60_000),
    clock: systemClock,
    tickMs: 1000,
    onSettled: (_kind, count) => settled.push(count),
    context: 'queue src in vhost / (moving to parked)',
  };
  return { run: transfer(connections, plan, control), settled };
}

const started = () => new Promise((resolve) => setImmediate(resolve));

describe('a transfer pass whose channels the broker closes', () => {
  it('fails as the resumable broker loss, although acknowledging on the closed channel fails too', async () => {
    const consumer = new FakeChannel();
    const publisher = new FakeChannel();
    const { run, settled } = pass(consumer, publisher);
    await started();
    for (const tag of [1, 2, 3]) consumer.send(tag);
    // Confirms arrive, and before their acknowledgement goes out the broker closes the channels.
    for (const confirm of publisher.confirms) confirm(undefined);
    consumer.brokerCloses();
    publisher.brokerCloses();

    const failure = await run.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(QueueFailure);
    expect(failure).toMatchObject({
      reason: 'BrokerUnavailable',
      message: 'queue src in vhost / (moving to parked): the broker closed the channel',
    });
    // Nothing was acknowledged, so nothing counts as moved: the broker requeued all three.
    expect(consumer.acked).toEqual([]);
    expect(settled).toEqual([]);
  });

  it('acknowledges what was confirmed before a failure while the channel still works', async () => {
    const consumer = new FakeChannel();
    const publisher = new FakeChannel();
    const { run, settled } = pass(consumer, publisher);
    await started();
    for (const tag of [1, 2]) consumer.send(tag);
    for (const confirm of publisher.confirms) confirm(undefined);
    // Only the publishing channel goes: the confirmed two are acknowledged on the consuming one.
    publisher.brokerCloses();

    await expect(run).rejects.toMatchObject({ reason: 'BrokerUnavailable' });
    expect(consumer.acked).toEqual([2]);
    expect(settled).toEqual([2]);
  });
});
