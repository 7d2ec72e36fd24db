import { describe, expect, it } from '@jest/globals';
import { classifyAmqpError, QueueFailure } from '../../src/actions/queue/failure.ts';

const coded = (message: string, code: unknown) => Object.assign(new Error(message), { code });

describe('amqplib errors as queue failures', () => {
  it.each<[string, Error, string, boolean]>([
    [
      'connection refused',
      coded('connect ECONNREFUSED 127.0.0.1:5672', 'ECONNREFUSED'),
      'BrokerUnavailable',
      true,
    ],
    ['connection reset', coded('read ECONNRESET', 'ECONNRESET'), 'BrokerUnavailable', true],
    [
      'broker shut down',
      new Error(
        'Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - broker forced connection closure with reason \'shutdown\'"',
      ),
      'BrokerUnavailable',
      true,
    ],
    [
      'login refused',
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."',
      ),
      'AuthenticationFailed',
      false,
    ],
    [
      'no permission',
      coded(
        'Channel closed by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - access to queue \'x\' refused"',
        403,
      ),
      'AccessRefused',
      false,
    ],
    [
      'missing queue',
      coded(
        "Operation failed: QueueDeclare; 404 (NOT-FOUND) with message \"NOT_FOUND - no queue 'x' in vhost '/'\"",
        404,
      ),
      'QueueNotFound',
      false,
    ],
    [
      'precondition',
      coded(
        'Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg"',
        406,
      ),
      'ChannelClosed',
      false,
    ],
  ])('%s', (_what, error, reason, retryable) => {
    const failure = classifyAmqpError(error, 'queue x in vhost /');
    expect(failure.reason).toBe(reason);
    expect(failure.retryable).toBe(retryable);
    expect(failure.message).toMatch(/^queue x in vhost \/: /);
    // The broker's own words are never repeated: the message is ours.
    const brokerText = /with message "(.*)"/.exec(error.message)?.[1];
    if (brokerText) expect(failure.message).not.toContain(brokerText.slice(brokerText.indexOf(' - ') + 3));
    expect(failure.cause).toBe(error);
  });

  it('keeps a QueueFailure as it is', () => {
    const failure = new QueueFailure('Timeout', 'late');
    expect(classifyAmqpError(failure, 'ctx')).toBe(failure);
  });
});
