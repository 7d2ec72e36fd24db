// Why a queue job failed, as a CamelCase reason a condition or attempt can carry, and whether trying
// again could help. Every failure names the target (vhost and queue) and the step; none carries a
// credential.
import { egressRefusal } from '../../base/egress.ts';

export const QUEUE_FAILURE_REASONS = [
  /** The connection Secret is missing, or a key is missing or malformed. */
  'InvalidConnectionSecret',
  /** The connection Secret could not be read (the API server did not answer). */
  'SecretUnavailable',
  /** The broker refused the username and password (management API or AMQP). */
  'AuthenticationFailed',
  /** The user logged in but may not do this (no management tag, no permission on the vhost). */
  'AccessRefused',
  'VhostNotFound',
  'QueueNotFound',
  /** The broker could not be reached, or the connection was lost and could not be re-established. */
  'BrokerUnavailable',
  /** The broker returned a message as unroutable (the destination queue vanished mid-move). */
  'DestinationUnroutable',
  /** The broker nacked a publish (a full destination with overflow reject-publish, for example). */
  'PublishRejected',
  /** The broker closed a channel for another reason (a precondition, a resource limit). */
  'ChannelClosed',
  /**
   * The parking queue's arguments or policy let it drop or move out messages it confirmed (a length
   * limit with overflow drop-head, a TTL, an expiry, a dead-letter exchange): refused before a move.
   */
  'ParkingQueueDiscards',
  /**
   * The management API answered 200 with something that is not a RabbitMQ queue (a count that is
   * not a number, say): the management URL points at something else.
   */
  'UnexpectedAnswer',
  /** The install's egress policy refuses the broker's address (see docs/configuration.md, Egress). */
  'EgressRefused',
  'Timeout',
  /**
   * The caller aborted the job (the pause, a person's resolution, the Incident deleted, a lost leader
   * lease). Unsettled messages are back in their queue.
   */
  'Aborted',
] as const;
export type QueueFailureReason = (typeof QUEUE_FAILURE_REASONS)[number];

/** Reasons a later try may overcome on its own; the others need a person to change something. */
const RETRYABLE: ReadonlySet<QueueFailureReason> = new Set([
  'SecretUnavailable',
  'BrokerUnavailable',
  'Aborted',
]);

export class QueueFailure extends Error {
  readonly reason: QueueFailureReason;

  constructor(reason: QueueFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueFailure';
    this.reason = reason;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.reason);
  }
}

/** Where a failure happened: `queue orders in vhost / (moving to orders.parked)`. */
export function where(vhost: string, queue: string, step?: string): string {
  return `queue ${queue} in vhost ${vhost}${step ? ` (${step})` : ''}`;
}

const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/**
 * An amqplib error as a QueueFailure: socket errors and forced closes (a broker restart) are
 * BrokerUnavailable; a 404 channel close is the missing queue; 403 on the handshake is a login
 * refused. `context` says what was being done, for the message.
 */
export function classifyAmqpError(error: unknown, context: string): QueueFailure {
  if (error instanceof QueueFailure) return error;
  const refused = egressRefusal(error);
  if (refused) return new QueueFailure('EgressRefused', `${context}: ${refused.message}`, { cause: error });
  // The broker is the tenant's to choose: its words (the close text, the server's message) are read
  // to classify the failure, never repeated; the message says it in ours, with the AMQP reply code.
  const text = error instanceof Error ? error.message : String(error);
  const code = errorCode(error);
  const fail = (reason: QueueFailureReason, what: string) =>
    new QueueFailure(reason, `${context}: ${what}`, { cause: error });
  if (typeof code === 'string' && SOCKET_ERRORS.has(code))
    return fail('BrokerUnavailable', `no connection to the broker (${code})`);
  const reply = amqpReply(code, text);
  if (/ACCESS.REFUSED/.test(text) && /Login was refused/i.test(text))
    return fail('AuthenticationFailed', 'the broker refused the username and password');
  if (/ACCESS.REFUSED/.test(text))
    return fail(
      'AccessRefused',
      `the broker refused access (${reply}): check the user's permissions on the vhost`,
    );
  if (code === 404 || /NOT.FOUND/.test(text))
    return fail('QueueNotFound', `the broker answered ${reply}: the queue or the vhost does not exist`);
  if (/CONNECTION.FORCED|Connection closed|Socket closed|Unexpected close|heartbeat/i.test(text))
    return fail('BrokerUnavailable', `the broker closed the connection (${reply})`);
  return fail('ChannelClosed', `the broker closed the channel (${reply})`);
}

/** AMQP 0-9-1's reply codes (the spec's constants), by number: the only part of a close that is shown. */
const AMQP_REPLIES: Readonly<Record<number, string>> = {
  311: 'CONTENT_TOO_LARGE',
  312: 'NO_ROUTE',
  313: 'NO_CONSUMERS',
  320: 'CONNECTION_FORCED',
  402: 'INVALID_PATH',
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  504: 'CHANNEL_ERROR',
  505: 'UNEXPECTED_FRAME',
  506: 'RESOURCE_ERROR',
  530: 'NOT_ALLOWED',
  540: 'NOT_IMPLEMENTED',
  541: 'INTERNAL_ERROR',
};

/** `404 NOT_FOUND`: the reply code of the error, or of amqplib's "NNN (NAME)" text, in the spec's words. */
function amqpReply(code: unknown, text: string): string {
  const number = typeof code === 'number' ? code : Number(/\b([0-9]{3}) \(/.exec(text)?.[1]);
  const name = AMQP_REPLIES[number];
  return name ? `${number} ${name}` : 'no AMQP reply code';
}
