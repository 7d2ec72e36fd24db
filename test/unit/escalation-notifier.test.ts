import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import type { Receiver } from '../../src/api/remediation.ts';
import type {
  CredentialsOf,
  DeliveryResult,
  Notice,
  ReceiverAdapter,
  ReceiverAdapters,
} from '../../src/escalation/delivery.ts';
import { Notifier } from '../../src/escalation/notifier.ts';
import type { SecretReader } from '../../src/escalation/secrets.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { notice, ROUTING_KEY } from './escalation-fixtures.ts';

/** Secrets that count their reads. */
class CountingSecrets implements SecretReader {
  reads = 0;
  read(): Promise<Record<string, string>> {
    this.reads++;
    return Promise.resolve({ 'routing-key': ROUTING_KEY, url: 'https://hooks.example.com/x' });
  }
}

/** An adapter that records what it was handed and answers `answer` (or throws it). */
class RecordingAdapter<T extends 'pagerduty' | 'webhook'> implements ReceiverAdapter<T> {
  readonly type: T;
  readonly sent: { notice: Notice; credentials: CredentialsOf<T> }[] = [];
  private readonly answer: DeliveryResult | Error;

  constructor(type: T, answer: DeliveryResult | Error) {
    this.type = type;
    this.answer = answer;
  }

  handles(event: Notice['event']): boolean {
    return this.type !== 'pagerduty' || event !== 'update';
  }

  send(n: Notice, _receiver: string, credentials: CredentialsOf<T>): Promise<DeliveryResult> {
    this.sent.push({ notice: n, credentials });
    return this.answer instanceof Error ? Promise.reject(this.answer) : Promise.resolve(this.answer);
  }
}

const pager: Receiver = { name: 'oncall', type: 'pagerduty', secretRef: { name: 'pd', key: 'routing-key' } };
const hook: Receiver = { name: 'team', type: 'webhook', secretRef: { name: 'hook', key: 'url' } };

function setup(pagerAnswer: DeliveryResult | Error) {
  const lines: string[] = [];
  const logger = createLogger(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const secrets = new CountingSecrets();
  const pagerduty = new RecordingAdapter('pagerduty', pagerAnswer);
  const webhook = new RecordingAdapter('webhook', { outcome: 'delivered', receiver: 'team', message: 'ok' });
  const adapters = { pagerduty, webhook, slack: webhook } as unknown as ReceiverAdapters;
  return { notifier: new Notifier(secrets, adapters, logger), secrets, pagerduty, webhook, lines };
}

describe('Notifier', () => {
  it('hands the adapter of the receiver type its credentials and returns its result, logged', async () => {
    const delivered: DeliveryResult = {
      outcome: 'delivered',
      receiver: 'oncall',
      message: 'accepted',
      status: 202,
    };
    const { notifier, pagerduty, lines } = setup(delivered);
    const result = await notifier.deliver({ namespace: 'shop', receiver: pager, notice: notice('trigger') });
    expect(result).toEqual(delivered);
    expect(pagerduty.sent.map((s) => s.credentials)).toEqual([
      { type: 'pagerduty', routingKey: ROUTING_KEY },
    ]);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      level: 'info',
      incident: 'shop/checkout-errors',
      receiver: 'oncall',
      receiverType: 'pagerduty',
      event: 'trigger',
      outcome: 'delivered',
      status: 202,
      msg: 'accepted',
    });
    expect(lines.join('')).not.toContain(ROUTING_KEY);
  });

  it('skips an event the type does not have without reading its Secret', async () => {
    const { notifier, secrets, pagerduty } = setup(new Error('never called'));
    expect(notifier.handles('pagerduty', 'update')).toBe(false);
    expect(notifier.handles('webhook', 'update')).toBe(true);
    const result = await notifier.deliver({ namespace: 'shop', receiver: pager, notice: notice('update') });
    expect(result).toEqual({
      outcome: 'skipped',
      receiver: 'oncall',
      message: 'pagerduty receiver "oncall": not sent: pagerduty receivers get no update events',
    });
    expect(secrets.reads).toBe(0);
    expect(pagerduty.sent).toEqual([]);
  });

  it('turns an adapter that throws into a failure, not an exception', async () => {
    const { notifier } = setup(new Error('boom'));
    expect(await notifier.deliver({ namespace: 'shop', receiver: pager, notice: notice('trigger') })).toEqual(
      {
        outcome: 'failed',
        receiver: 'oncall',
        message: 'pagerduty receiver "oncall": boom',
      },
    );
  });

  it('dispatches by type', async () => {
    const { notifier, webhook, pagerduty } = setup(new Error('not this one'));
    await notifier.deliver({ namespace: 'shop', receiver: hook, notice: notice('resolve') });
    expect(webhook.sent.map((s) => s.credentials)).toEqual([
      { type: 'webhook', url: 'https://hooks.example.com/x' },
    ]);
    expect(pagerduty.sent).toEqual([]);
  });
});
