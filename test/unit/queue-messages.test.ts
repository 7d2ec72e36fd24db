import { describe, expect, it } from '@jest/globals';
import type { Message, MessageProperties } from 'amqplib';
import {
  ATTEMPT_HEADER,
  CC_HEADER,
  keepOptions,
  parkedSource,
  parkOptions,
  replayOptions,
  SOURCE_QUEUE_HEADER,
  stableMessageId,
  USER_ID_HEADER,
} from '../../src/actions/queue/messages.ts';

const NONE: MessageProperties = {
  contentType: undefined,
  contentEncoding: undefined,
  headers: {},
  deliveryMode: undefined,
  priority: undefined,
  correlationId: undefined,
  replyTo: undefined,
  expiration: undefined,
  messageId: undefined,
  timestamp: undefined,
  type: undefined,
  userId: undefined,
  appId: undefined,
  clusterId: undefined,
};

const message = (properties: Partial<MessageProperties> = {}, body = '{"order":1}'): Message => ({
  content: Buffer.from(body),
  fields: { deliveryTag: 1, redelivered: false, exchange: '', routingKey: 'orders' },
  properties: { ...NONE, ...properties },
});

const ctx = { sourceQueue: 'orders', attempt: 'inc-1/a1', username: 'selfheal' };

describe('parking a message', () => {
  it('keeps every property and header, adds the source and attempt headers, persistent and mandatory', () => {
    const original = message({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers: { tenant: 'acme', retries: 3, nested: { a: true }, list: [1, 'x'] },
      deliveryMode: 1,
      priority: 5,
      correlationId: 'c-1',
      replyTo: 'replies',
      expiration: '60000',
      messageId: 'm-1',
      timestamp: 1_780_000_000,
      type: 'order.created',
      userId: 'selfheal',
      appId: 'shop',
    });
    expect(parkOptions(original, ctx)).toEqual({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers: {
        tenant: 'acme',
        retries: 3,
        nested: { a: true },
        list: [1, 'x'],
        [SOURCE_QUEUE_HEADER]: 'orders',
        [ATTEMPT_HEADER]: 'inc-1/a1',
      },
      deliveryMode: 2,
      mandatory: true,
      priority: 5,
      correlationId: 'c-1',
      replyTo: 'replies',
      expiration: '60000',
      messageId: 'm-1',
      timestamp: 1_780_000_000,
      type: 'order.created',
      userId: 'selfheal',
      appId: 'shop',
    });
  });

  it('adds a messageId derived from the message when it has none, the same on every delivery', () => {
    const a = parkOptions(message(), ctx);
    const again = parkOptions(message(), ctx);
    expect(a.messageId).toMatch(/^selfheal-[0-9a-f]{32}$/);
    expect(again.messageId).toBe(a.messageId);
    expect(parkOptions(message({}, '{"order":2}'), ctx).messageId).not.toBe(a.messageId);
    expect(parkOptions(message({ headers: { x: 1 } }), ctx).messageId).not.toBe(a.messageId);
    expect(stableMessageId(message())).toBe(a.messageId);
  });

  it('keeps a user_id the operator may not publish in a header instead of losing the message', () => {
    const options = parkOptions(message({ userId: 'billing' }), ctx);
    expect(options.userId).toBeUndefined();
    expect(options.headers).toMatchObject({ [USER_ID_HEADER]: 'billing' });
  });

  it('moves CC and BCC out of the routing headers, so the broker copies the message nowhere else', () => {
    const options = parkOptions(message({ headers: { CC: ['audit'], BCC: ['spy'], kept: 'yes' } }), ctx);
    expect(options.headers).toEqual({
      kept: 'yes',
      [CC_HEADER]: { CC: ['audit'], BCC: ['spy'] },
      [SOURCE_QUEUE_HEADER]: 'orders',
      [ATTEMPT_HEADER]: 'inc-1/a1',
    });
  });

  it('does not change the delivered message', () => {
    const original = message({ headers: { CC: ['audit'] }, userId: 'billing' });
    parkOptions(original, ctx);
    expect(original.properties.headers).toEqual({ CC: ['audit'] });
    expect(original.properties.userId).toBe('billing');
  });
});

describe('replaying a parked message', () => {
  const parked = (properties: Partial<MessageProperties>) => {
    const options = parkOptions(message(properties), ctx);
    return message({
      ...properties,
      headers: options.headers as Record<string, unknown>,
      messageId: options.messageId,
      deliveryMode: 2,
    });
  };

  it('names its source queue', () => {
    expect(parkedSource(parked({}))).toBe('orders');
    expect(parkedSource(message())).toBeUndefined();
    expect(parkedSource(message({ headers: { [SOURCE_QUEUE_HEADER]: 42 } }))).toBeUndefined();
    expect(parkedSource(message({ headers: { [SOURCE_QUEUE_HEADER]: '' } }))).toBeUndefined();
  });

  it('publishes it as it was, without the source and attempt headers, keeping the stable messageId', () => {
    const p = parked({ headers: { tenant: 'acme' }, contentType: 'text/plain' });
    const options = replayOptions(p, 'selfheal');
    expect(options.headers).toEqual({ tenant: 'acme' });
    expect(options.messageId).toBe(p.properties.messageId);
    expect(options).toMatchObject({ contentType: 'text/plain', deliveryMode: 2, mandatory: true });
  });

  it("restores a user_id when the operator's user may publish it, and keeps it in its header otherwise", () => {
    expect(replayOptions(parked({ userId: 'billing' }), 'billing').userId).toBe('billing');
    const other = replayOptions(parked({ userId: 'billing' }), 'selfheal');
    expect(other.userId).toBeUndefined();
    expect(other.headers).toEqual({ [USER_ID_HEADER]: 'billing' });
  });

  it('republishes a message it keeps exactly as it is', () => {
    const p = parked({ headers: { tenant: 'acme' } });
    expect(keepOptions(p, 'selfheal').headers).toEqual(p.properties.headers);
  });
});
