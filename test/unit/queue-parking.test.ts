import { describe, expect, it } from '@jest/globals';
import { discardingSettings, type QueueSettings } from '../../src/actions/queue/parking.ts';

const settings = (
  args: Record<string, unknown> = {},
  policy: Record<string, unknown> = {},
): QueueSettings => ({
  arguments: args,
  policy,
});

describe('discardingSettings: a parking queue must keep every message it confirmed', () => {
  it.each<{ name: string; settings: QueueSettings }>([
    { name: 'no arguments, no policy', settings: settings() },
    {
      name: 'a classic queue declared durable with a type',
      settings: settings({ 'x-queue-type': 'classic' }),
    },
    {
      name: 'x-max-length with overflow reject-publish (the publish is nacked: the move stops, nothing lost)',
      settings: settings({ 'x-max-length': 1000, 'x-overflow': 'reject-publish' }),
    },
    {
      name: 'x-max-length-bytes with overflow reject-publish-dlx (nacked as well)',
      settings: settings({ 'x-max-length-bytes': 1_000_000, 'x-overflow': 'reject-publish-dlx' }),
    },
    {
      name: 'a policy max-length with a policy overflow reject-publish',
      settings: settings({}, { 'max-length': 10, overflow: 'reject-publish' }),
    },
    { name: 'an overflow alone, without a limit', settings: settings({ 'x-overflow': 'drop-head' }) },
    {
      name: 'null values, as some clients declare absent arguments',
      settings: settings({ 'x-message-ttl': null }),
    },
  ])('keeps everything: $name', ({ settings: s }) => {
    expect(discardingSettings(s)).toBeUndefined();
  });

  it.each<{ name: string; settings: QueueSettings; why: string }>([
    {
      name: 'x-max-length without an overflow (RabbitMQ drops from the head by default)',
      settings: settings({ 'x-max-length': 1000 }),
      why: 'x-max-length with overflow drop-head, which discards confirmed messages',
    },
    {
      name: 'x-max-length-bytes with overflow drop-head',
      settings: settings({ 'x-max-length-bytes': 1_000_000, 'x-overflow': 'drop-head' }),
      why: 'x-max-length-bytes with overflow drop-head, which discards confirmed messages',
    },
    {
      name: 'an overflow this code does not know (never echoed)',
      settings: settings({ 'x-max-length': 5, 'x-overflow': 'drop-\u001b[31mtail' }),
      why: 'x-max-length with an overflow other than reject-publish, which discards confirmed messages',
    },
    {
      name: 'reject-publish as the argument, drop-head from a policy',
      settings: settings({ 'x-max-length': 5, 'x-overflow': 'reject-publish' }, { overflow: 'drop-head' }),
      why: 'x-max-length with overflow drop-head, which discards confirmed messages',
    },
    {
      name: 'x-message-ttl',
      settings: settings({ 'x-message-ttl': 86_400_000 }),
      why: 'x-message-ttl, which discards a confirmed message once it is older than that',
    },
    {
      name: 'x-expires',
      settings: settings({ 'x-expires': 3_600_000 }),
      why: 'x-expires, which deletes the queue, with every message in it, once it is unused that long',
    },
    {
      name: 'x-dead-letter-exchange',
      settings: settings({ 'x-dead-letter-exchange': 'dlx' }),
      why: 'x-dead-letter-exchange, which sends expired, overflowing and rejected messages out of the queue',
    },
    {
      name: 'x-max-age (a stream)',
      settings: settings({ 'x-queue-type': 'stream', 'x-max-age': '7D' }),
      why: 'x-max-age, which discards confirmed messages once they are older than that',
    },
    {
      name: 'x-delivery-limit (a quorum queue)',
      settings: settings({ 'x-queue-type': 'quorum', 'x-delivery-limit': 5 }),
      why: 'x-delivery-limit, which drops a message redelivered that often (every aborted replay redelivers)',
    },
    {
      name: 'a policy (or operator policy) in effect on the queue, named without its name',
      settings: settings({}, { 'max-length': 100, 'message-ttl': 60_000 }),
      why:
        'max-length (from a policy) with overflow drop-head, which discards confirmed messages; ' +
        'message-ttl (from a policy), which discards a confirmed message once it is older than that',
    },
    {
      name: 'the same setting as an argument and from a policy',
      settings: settings({ 'x-expires': 1000 }, { expires: 2000 }),
      why: 'x-expires and expires (from a policy), which deletes the queue, with every message in it, once it is unused that long',
    },
  ])('refuses $name, naming it', ({ settings: s, why }) => {
    expect(discardingSettings(s)).toBe(why);
  });
});
