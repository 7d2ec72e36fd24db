// What a parking queue must never do: drop, or move elsewhere, a message it has confirmed. A move
// acknowledges the source once the parking queue confirmed the copy, so a parking queue that later
// discards it loses the message for good. RabbitMQ settles a queue's behaviour from the arguments it
// was declared with (`x-max-length`, ...) and from the policy in effect on it (`max-length`, ...,
// operator policies included); both are read from the management API before the first message moves.

/** A queue's settings as the management API reports them. */
export interface QueueSettings {
  /** The arguments the queue was declared with (`x-max-length`, `x-message-ttl`, ...). */
  arguments: Record<string, unknown>;
  /** The definition of the policies in effect on it (`max-length`, `message-ttl`, ...). */
  policy: Record<string, unknown>;
}

/**
 * Overflow behaviours that keep what the queue confirmed: the publish of a message that does not
 * fit is nacked (and with `-dlx` dead-lettered, a copy, while the original stays in the source), so
 * the move stops with PublishRejected and nothing is lost.
 */
const REFUSING_OVERFLOW: ReadonlySet<unknown> = new Set(['reject-publish', 'reject-publish-dlx']);

/** Settings (policy keys; the argument is the same key with `x-`) that discard or move messages out. */
const DISCARDING: readonly { key: string; why: string }[] = [
  { key: 'message-ttl', why: 'which discards a confirmed message once it is older than that' },
  { key: 'expires', why: 'which deletes the queue, with every message in it, once it is unused that long' },
  {
    key: 'dead-letter-exchange',
    why: 'which sends expired, overflowing and rejected messages out of the queue',
  },
  { key: 'max-age', why: 'which discards confirmed messages once they are older than that' },
  {
    key: 'delivery-limit',
    why: 'which drops a message redelivered that often (every aborted replay redelivers)',
  },
];
const LENGTH_LIMITS = ['max-length', 'max-length-bytes'] as const;

const present = (value: unknown) => value !== undefined && value !== null;

/**
 * Why `settings` can lose a confirmed message, naming every argument or policy key responsible
 * (only names and values this code knows are written: nothing the broker answered is echoed), or
 * undefined when the queue keeps everything it confirmed.
 */
export function discardingSettings(settings: QueueSettings): string | undefined {
  const found: string[] = [];
  const named = (key: string) => {
    const names = [
      ...(present(settings.arguments[`x-${key}`]) ? [`x-${key}`] : []),
      ...(present(settings.policy[key]) ? [`${key} (from a policy)`] : []),
    ];
    return names.length ? names.join(' and ') : undefined;
  };
  const overflows = [settings.arguments['x-overflow'], settings.policy.overflow].filter(present);
  // Without an overflow setting RabbitMQ drops from the head: the oldest message, confirmed long ago.
  if (overflows.length === 0 || !overflows.every((o) => REFUSING_OVERFLOW.has(o))) {
    const overflow = overflows.find((o) => !REFUSING_OVERFLOW.has(o));
    const behaviour =
      overflow === undefined || overflow === 'drop-head'
        ? 'overflow drop-head'
        : 'an overflow other than reject-publish';
    for (const key of LENGTH_LIMITS) {
      const name = named(key);
      if (name) found.push(`${name} with ${behaviour}, which discards confirmed messages`);
    }
  }
  for (const { key, why } of DISCARDING) {
    const name = named(key);
    if (name) found.push(`${name}, ${why}`);
  }
  return found.length ? found.join('; ') : undefined;
}
