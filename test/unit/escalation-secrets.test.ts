import { describe, expect, it } from '@jest/globals';
import type { Receiver } from '../../src/api/remediation.ts';
import { readCredentials, SecretAccessError, type SecretReader } from '../../src/escalation/secrets.ts';
import { ROUTING_KEY } from './escalation-fixtures.ts';

/** Secrets held in memory, keyed namespace/name; `error` makes every read fail with it. */
class MemorySecrets implements SecretReader {
  readonly reads: string[] = [];
  private readonly secrets: Record<string, Record<string, string>>;
  private readonly error: Error | undefined;

  constructor(secrets: Record<string, Record<string, string>>, error?: Error) {
    this.secrets = secrets;
    this.error = error;
  }

  read(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    this.reads.push(`${namespace}/${name}`);
    if (this.error) return Promise.reject(this.error);
    return Promise.resolve(this.secrets[`${namespace}/${name}`]);
  }
}

const pager: Receiver = {
  name: 'oncall',
  type: 'pagerduty',
  secretRef: { name: 'pagerduty', key: 'routing-key' },
};
const chat: Receiver = { name: 'incidents', type: 'slack', secretRef: { name: 'slack', key: 'webhook-url' } };
const hook: Receiver = {
  name: 'team-hook',
  type: 'webhook',
  secretRef: { name: 'hook', key: 'url' },
  signingSecretKey: 'signing-secret',
};
// A stand-in address on a reserved domain: shaped like a webhook URL, yet nothing a scanner takes for one.
const SLACK_URL = 'https://slack-webhook.example.test/services/test-workspace/test-channel/not-a-credential';
const secrets = new MemorySecrets({
  'shop/pagerduty': {
    'routing-key': `${ROUTING_KEY}\n`,
    short: 'abc',
    spaced: `${ROUTING_KEY.slice(0, 31)} `,
  },
  'shop/slack': { 'webhook-url': SLACK_URL, bad: 'slack-webhook.example.test/x', empty: ' \n' },
  'shop/hook': { url: 'https://hooks.example.com/selfheal', 'signing-secret': 'whsec_1' },
});

describe('receiver credentials from Secrets', () => {
  it.each([
    ['a PagerDuty routing key, trimmed', pager, { type: 'pagerduty', routingKey: ROUTING_KEY }],
    ['a Slack webhook URL', chat, { type: 'slack', webhookUrl: SLACK_URL }],
    [
      'a webhook URL and its signing secret',
      hook,
      { type: 'webhook', url: 'https://hooks.example.com/selfheal', signingSecret: 'whsec_1' },
    ],
    [
      'a webhook URL without signing',
      { ...hook, signingSecretKey: undefined },
      { type: 'webhook', url: 'https://hooks.example.com/selfheal' },
    ],
  ] as const)('reads %s', async (_what, receiver, credentials) => {
    expect(await readCredentials(secrets, 'shop', receiver)).toEqual({ ok: true, credentials });
  });

  it.each<[string, Receiver, string]>([
    [
      'a missing Secret',
      { ...pager, secretRef: { name: 'pd-prod', key: 'routing-key' } },
      `pagerduty receiver "oncall": Secret shop/pd-prod not found (it must be in the incident's namespace, with key routing-key)`,
    ],
    [
      'a missing key',
      { ...pager, secretRef: { name: 'pagerduty', key: 'integration-key' } },
      'pagerduty receiver "oncall": Secret shop/pagerduty has no key integration-key (the routing key)',
    ],
    [
      'a routing key of the wrong length',
      { ...pager, secretRef: { name: 'pagerduty', key: 'short' } },
      'pagerduty receiver "oncall": Secret shop/pagerduty key short holds 3 characters; a PagerDuty routing key has 32',
    ],
    [
      'an empty key',
      { ...chat, secretRef: { name: 'slack', key: 'empty' } },
      'slack receiver "incidents": Secret shop/slack key empty (the incoming-webhook URL) is empty',
    ],
    [
      'a Slack URL without a scheme',
      { ...chat, secretRef: { name: 'slack', key: 'bad' } },
      'slack receiver "incidents": Secret shop/slack key bad does not hold an http(s) incoming-webhook URL',
    ],
    [
      'a missing signing secret',
      { ...hook, signingSecretKey: 'hmac' },
      'webhook receiver "team-hook": Secret shop/hook has no key hmac (the signing secret)',
    ],
  ])(
    'fails for good on %s, naming receiver, Secret and key but no value',
    async (_what, receiver, message) => {
      const result = await readCredentials(secrets, 'shop', receiver);
      expect(result).toEqual({ ok: false, retriable: false, message });
      expect(message).not.toContain(ROUTING_KEY.slice(0, 8));
      expect(message).not.toContain(new URL(SLACK_URL).host);
    },
  );

  it('reads only from the incident namespace', async () => {
    const reader = new MemorySecrets({});
    await readCredentials(reader, 'payments', pager);
    expect(reader.reads).toEqual(['payments/pagerduty']);
  });

  it.each([
    [
      'retries when the API server is unavailable',
      new SecretAccessError('the API server answered 503', true),
      true,
    ],
    [
      'fails for good when the operator may not read Secrets',
      new SecretAccessError('the operator may not read it (403): grant ...', false),
      false,
    ],
    ['retries on an unexpected error', new Error('socket hang up'), true],
  ])('%s', async (_what, error, retriable) => {
    const result = await readCredentials(new MemorySecrets({}, error), 'shop', pager);
    expect(result).toEqual({
      ok: false,
      retriable,
      message: `pagerduty receiver "oncall": cannot read Secret shop/pagerduty: ${error.message}`,
    });
  });
});
