// How a message is republished when it is moved to a parking queue and when it is replayed back:
// pure functions of the delivered message, unit-tested without a broker.
import { createHash } from 'node:crypto';
import type { Message, MessageProperties, Options } from 'amqplib';

/** Names the queue a parked message came from; replay sends it back there. */
export const SOURCE_QUEUE_HEADER = 'x-selfheal-source-queue';
/** The attempt that parked the message (incident and attempt id), for people reading the parking queue. */
export const ATTEMPT_HEADER = 'x-selfheal-attempt';
/**
 * A `user_id` property the broker would refuse from the operator's user (it must equal the publishing
 * user), kept here instead; replay restores it when it can.
 */
export const USER_ID_HEADER = 'x-selfheal-user-id';
/**
 * Sender-selected distribution headers (CC, BCC) would make the broker copy the message to other
 * queues again on every republish; their values are kept here instead and not used for routing.
 */
export const CC_HEADER = 'x-selfheal-cc';

type Headers = Record<string, unknown>;

/**
 * A messageId that is the same every time the same message is delivered, so the duplicate a crash
 * between confirm and ack can produce carries the id of the original and consumers can drop it.
 * Derived from the body and the properties as published (the broker keeps both unchanged).
 */
export function stableMessageId(message: Message): string {
  const hash = createHash('sha256');
  hash.update(message.content);
  hash.update(JSON.stringify(message.properties));
  return `selfheal-${hash.digest('hex').slice(0, 32)}`;
}

const COPIED_PROPERTIES = [
  'contentType',
  'contentEncoding',
  'priority',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'timestamp',
  'type',
  'userId',
  'appId',
] as const satisfies readonly (keyof Options.Publish & keyof MessageProperties)[];

/**
 * Publish options that reproduce a message's properties, persistent and `mandatory`, with the two
 * things the broker would act on again moved into headers of their own: a user_id other than the
 * publishing user's (refused), and CC/BCC (which would copy the message to other queues).
 */
function republishOptions(
  properties: MessageProperties,
  headers: Headers,
  username: string,
): Options.Publish {
  const options: Record<string, unknown> = { headers, deliveryMode: 2, mandatory: true };
  for (const key of COPIED_PROPERTIES) {
    const value: unknown = properties[key];
    if (value !== undefined && value !== null) options[key] = value;
  }
  if (options.userId !== undefined && options.userId !== username) {
    headers[USER_ID_HEADER] = options.userId;
    delete options.userId;
  }
  const cc = Object.entries({ CC: headers.CC, BCC: headers.BCC }).filter(([, v]) => v !== undefined);
  if (cc.length > 0) {
    headers[CC_HEADER] = Object.fromEntries(cc);
    delete headers.CC;
    delete headers.BCC;
  }
  return options;
}

const headersOf = (message: Message): Headers => ({ ...((message.properties.headers ?? {}) as Headers) });

export interface ParkContext {
  sourceQueue: string;
  /** Written into ATTEMPT_HEADER. */
  attempt: string;
  /** The user the operator publishes as. */
  username: string;
}

/**
 * How a message from the source is published to the parking queue: its body, properties and
 * headers as they were, persistent, `mandatory`, with a stable messageId when it had none, and
 * headers naming its source queue and the attempt.
 */
export function parkOptions(message: Message, ctx: ParkContext): Options.Publish {
  const headers = {
    ...headersOf(message),
    [SOURCE_QUEUE_HEADER]: ctx.sourceQueue,
    [ATTEMPT_HEADER]: ctx.attempt,
  };
  const options = republishOptions(message.properties, headers, ctx.username);
  options.messageId ??= stableMessageId(message);
  return options;
}

/** The queue a parked message came from, or undefined when it carries no (usable) source header. */
export function parkedSource(message: Message): string | undefined {
  const source: unknown = message.properties.headers?.[SOURCE_QUEUE_HEADER];
  return typeof source === 'string' && source !== '' ? source : undefined;
}

/**
 * How a parked message is published back to its source queue: as it was parked, without the source
 * and attempt headers (the stable messageId stays, for deduplication), its user_id restored when the
 * operator's user may publish it.
 */
export function replayOptions(message: Message, username: string): Options.Publish {
  const {
    [SOURCE_QUEUE_HEADER]: _source,
    [ATTEMPT_HEADER]: _attempt,
    [USER_ID_HEADER]: parkedUserId,
    ...headers
  } = headersOf(message);
  const properties =
    typeof parkedUserId === 'string' ? { ...message.properties, userId: parkedUserId } : message.properties;
  return republishOptions(properties, headers, username);
}

/** A message a replay leaves in the parking queue (from another source): republished as it is. */
export function keepOptions(message: Message, username: string): Options.Publish {
  return republishOptions(message.properties, headersOf(message), username);
}
