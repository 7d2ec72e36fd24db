// The RabbitMQ connection Secret: its keys, the parser that checks them (errors name the Secret and
// the key, never a value), and the adapter that reads it from the API server. Both URLs are the
// tenant's, so both go through the egress policy of the Secret's namespace.
import type { LookupFunction } from 'node:net';
import type { EgressGuard } from '../../base/egress.ts';
import { QueueFailure } from './failure.ts';

/** The keys of a connection Secret (see docs/queue-drain.md). All four are required. */
export const CONNECTION_SECRET_KEYS = {
  amqpUrl: 'amqp-url',
  managementUrl: 'management-url',
  username: 'username',
  password: 'password',
} as const;

/** Where and as whom to reach one broker. The vhost comes from the action, not from here. */
export interface RabbitConnection {
  /** The Secret's namespace: whose egress policy its URLs pass. */
  namespace: string;
  /** `amqp://host:port` or `amqps://host:port`, without credentials or vhost. */
  amqpUrl: string;
  /** `http(s)://host:port[/prefix]`, the management plugin's base URL, without credentials. */
  managementUrl: string;
  username: string;
  password: string;
}

export interface SecretRef {
  namespace: string;
  name: string;
}

export type { SecretReader } from '../../runtime/secrets.ts';

function parseUrl(secret: string, key: string, value: string, protocols: string[]): URL {
  const problem = (what: string) =>
    new QueueFailure('InvalidConnectionSecret', `connection Secret ${secret}: key ${key} ${what}`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw problem('is not a URL');
  }
  if (!protocols.includes(url.protocol))
    throw problem(`must be a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`);
  if (url.username || url.password)
    throw problem(`must not carry credentials: put them under the keys username and password`);
  return url;
}

/**
 * Checks a connection Secret's data. `ref` only names the Secret in errors. Credentials are kept out
 * of the URLs, so a URL can appear in a message or log without revealing them.
 */
export function parseConnectionSecret(
  ref: SecretRef,
  data: Record<string, string> | undefined,
): RabbitConnection {
  const secret = `${ref.namespace}/${ref.name}`;
  if (data === undefined)
    throw new QueueFailure('InvalidConnectionSecret', `connection Secret ${secret} does not exist`);
  const value = (key: string): string => {
    const found = data[key];
    if (found === undefined || found.trim() === '')
      throw new QueueFailure(
        'InvalidConnectionSecret',
        `connection Secret ${secret} has no key ${key} (it needs ${Object.values(CONNECTION_SECRET_KEYS).join(', ')})`,
      );
    return found;
  };
  const keys = CONNECTION_SECRET_KEYS;
  const amqp = parseUrl(secret, keys.amqpUrl, value(keys.amqpUrl), ['amqp:', 'amqps:']);
  if (amqp.pathname !== '' && amqp.pathname !== '/')
    throw new QueueFailure(
      'InvalidConnectionSecret',
      `connection Secret ${secret}: key ${keys.amqpUrl} must not name a vhost (the action's vhost is used)`,
    );
  const management = parseUrl(secret, keys.managementUrl, value(keys.managementUrl), ['http:', 'https:']);
  return {
    namespace: ref.namespace,
    amqpUrl: `${amqp.protocol}//${amqp.host}`,
    managementUrl: management.href.replace(/\/+$/, ''),
    // Secrets written with `echo` often end in a newline: it is never part of a credential.
    username: value(keys.username).replace(/\r?\n$/, ''),
    password: value(keys.password).replace(/\r?\n$/, ''),
  };
}

/**
 * The socket options that put an AMQP connection to `host` under an egress guard: a literal
 * address is checked here (net.connect resolves no literal, so calls no lookup), a name by the
 * guard's lookup when the socket connects, on the addresses it connects to. The host itself stays
 * the one amqplib connects to, so TLS still verifies the broker's name. Throws EgressRefused.
 */
export function guardedSocket(host: string, guard: EgressGuard | undefined): { lookup?: LookupFunction } {
  if (!guard) return {};
  guard.checkHost(host);
  return { lookup: guard.lookup };
}
