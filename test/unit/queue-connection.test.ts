import { describe, expect, it } from '@jest/globals';
import { parseConnectionSecret } from '../../src/actions/queue/connection.ts';
import { QueueFailure } from '../../src/actions/queue/failure.ts';

const ref = { namespace: 'shop', name: 'rabbitmq' };
const good = {
  'amqp-url': 'amqp://rabbitmq.shop.svc:5672',
  'management-url': 'http://rabbitmq.shop.svc:15672/',
  username: 'selfheal',
  password: 's3cr3t-value\n',
};

function failure(data: Record<string, string> | undefined): QueueFailure {
  try {
    parseConnectionSecret(ref, data);
  } catch (error) {
    if (error instanceof QueueFailure) return error;
    throw error;
  }
  throw new Error('the Secret was accepted');
}

describe('the connection Secret', () => {
  it('gives the URLs without trailing slash and the credentials without a trailing newline', () => {
    expect(parseConnectionSecret(ref, good)).toEqual({
      namespace: 'shop',
      amqpUrl: 'amqp://rabbitmq.shop.svc:5672',
      managementUrl: 'http://rabbitmq.shop.svc:15672',
      username: 'selfheal',
      password: 's3cr3t-value',
    });
    expect(
      parseConnectionSecret(ref, {
        ...good,
        'amqp-url': 'amqps://mq:5671/',
        'management-url': 'https://mq/rmq',
      }),
    ).toMatchObject({ amqpUrl: 'amqps://mq:5671', managementUrl: 'https://mq/rmq' });
  });

  it.each<[string, Record<string, string> | undefined, string]>([
    ['missing Secret', undefined, 'connection Secret shop/rabbitmq does not exist'],
    ['missing key', { ...good, password: '' }, 'connection Secret shop/rabbitmq has no key password'],
    ['absent key', { 'amqp-url': good['amqp-url'] }, 'has no key management-url'],
    ['not a URL', { ...good, 'amqp-url': 'rabbitmq:5672' }, 'key amqp-url must be a amqp:// or amqps:// URL'],
    [
      'wrong scheme',
      { ...good, 'management-url': 'amqp://mq' },
      'key management-url must be a http:// or https:// URL',
    ],
    ['garbage', { ...good, 'management-url': 'http://' }, 'key management-url is not a URL'],
    [
      'credentials in a URL',
      { ...good, 'amqp-url': 'amqp://admin:s3cr3t-value@mq:5672' },
      'key amqp-url must not carry credentials: put them under the keys username and password',
    ],
    ['vhost in the AMQP URL', { ...good, 'amqp-url': 'amqp://mq:5672/orders' }, 'must not name a vhost'],
  ])('%s: a clear InvalidConnectionSecret that never shows a value', (_what, data, message) => {
    const error = failure(data);
    expect(error.reason).toBe('InvalidConnectionSecret');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('s3cr3t');
  });
});
