// Receivers' credentials, read from the Secret their secretRef names in the incident's namespace.
// What each receiver type expects:
//   pagerduty  secretRef.key: the integration's routing key (32 characters)
//   slack      secretRef.key: the incoming-webhook URL
//   webhook    secretRef.key: the URL to POST to; signingSecretKey (optional): the HMAC signing secret
// Surrounding whitespace is trimmed (a Secret written with `echo` ends in a newline). A missing
// Secret, key or malformed value is a permanent failure that names the receiver, the Secret and the
// key, never the value.
import type { Receiver } from '../api/remediation.ts';
import { SecretAccessError, type SecretReader } from '../runtime/secrets.ts';
import { errorMessage } from '../telemetry/logger.ts';
import type { ReceiverCredentials } from './delivery.ts';

export { KubeSecretReader, SecretAccessError, type SecretReader } from '../runtime/secrets.ts';

export type CredentialsResult =
  { ok: true; credentials: ReceiverCredentials } | { ok: false; retriable: boolean; message: string };

const isHttpUrl = (value: string) => /^https?:\/\/[^/\s]+\S*$/.test(value);

/** The credentials of one receiver, checked for shape; never throws. */
export async function readCredentials(
  secrets: SecretReader,
  namespace: string,
  receiver: Receiver,
): Promise<CredentialsResult> {
  const who = `${receiver.type} receiver "${receiver.name}"`;
  const secretName = `${namespace}/${receiver.secretRef.name}`;
  const fail = (message: string, retriable = false): CredentialsResult => ({
    ok: false,
    retriable,
    message: `${who}: ${message}`,
  });
  let data: Record<string, string> | undefined;
  try {
    data = await secrets.read(namespace, receiver.secretRef.name);
  } catch (error) {
    const retriable = error instanceof SecretAccessError ? error.retriable : true;
    return fail(`cannot read Secret ${secretName}: ${errorMessage(error)}`, retriable);
  }
  if (!data)
    return fail(
      `Secret ${secretName} not found (it must be in the incident's namespace, with key ${receiver.secretRef.key})`,
    );
  const found = data;
  const read = (key: string, what: string): string | { problem: string } => {
    const raw = found[key];
    if (raw === undefined) return { problem: `Secret ${secretName} has no key ${key} (${what})` };
    const value = raw.trim();
    return value ? value : { problem: `Secret ${secretName} key ${key} (${what}) is empty` };
  };
  const key = receiver.secretRef.key;
  const where = `Secret ${secretName} key ${key}`;
  const ok = (credentials: ReceiverCredentials): CredentialsResult => ({ ok: true, credentials });
  switch (receiver.type) {
    case 'pagerduty': {
      const routingKey = read(key, 'the routing key');
      if (typeof routingKey !== 'string') return fail(routingKey.problem);
      if (routingKey.length !== 32 || /\s/.test(routingKey))
        return fail(`${where} holds ${routingKey.length} characters; a PagerDuty routing key has 32`);
      return ok({ type: 'pagerduty', routingKey });
    }
    case 'slack': {
      const webhookUrl = read(key, 'the incoming-webhook URL');
      if (typeof webhookUrl !== 'string') return fail(webhookUrl.problem);
      if (!isHttpUrl(webhookUrl)) return fail(`${where} does not hold an http(s) incoming-webhook URL`);
      return ok({ type: 'slack', webhookUrl });
    }
    case 'webhook': {
      const url = read(key, 'the webhook URL');
      if (typeof url !== 'string') return fail(url.problem);
      if (!isHttpUrl(url)) return fail(`${where} does not hold an http(s) URL`);
      if (!receiver.signingSecretKey) return ok({ type: 'webhook', url });
      const signingSecret = read(receiver.signingSecretKey, 'the signing secret');
      if (typeof signingSecret !== 'string') return fail(signingSecret.problem);
      return ok({ type: 'webhook', url, signingSecret });
    }
  }
}
