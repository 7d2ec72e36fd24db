// How the benchmarks send load: open loop at a fixed rate (each request leaves on its schedule,
// whether or not earlier ones were answered, as alerts arrive in production), or closed loop from a
// number of senders that each send the next request once the last is answered (as fast as they can).
import { setTimeout as sleep } from 'node:timers/promises';

export interface Sent<T> {
  index: number;
  /** When the request left (performance.now() ms). */
  sentAt: number;
  result?: T;
  error?: string;
}

export interface LoadRun<T> {
  sent: Sent<T>[];
  /** From the first request leaving to the last answer, ms. */
  durationMs: number;
  /** Requests per second over the sending period (first to last request sent). */
  sendRate: number;
  /** Answered requests per second over the whole run (first sent to last answered). */
  completionRate: number;
  /** Open loop: how far behind its schedule the latest request left, ms (the sender's own lag). */
  maxLagMs: number;
}

const rates = <T>(sent: Sent<T>[], started: number, ended: number, lastSent: number) => ({
  durationMs: ended - started,
  sendRate: sent.length > 1 ? ((sent.length - 1) * 1000) / Math.max(1, lastSent - started) : Number.NaN,
  completionRate: (sent.length * 1000) / Math.max(1, ended - started),
});

/**
 * Sends `count` requests at `ratePerSecond`, open loop; at most `maxInFlight` unanswered at once (a
 * bound that keeps a stalled target from piling up unbounded requests; the lag shows when it bit).
 */
export async function openLoop<T>(
  count: number,
  ratePerSecond: number,
  send: (index: number) => Promise<T>,
  { maxInFlight = 2_000 } = {},
): Promise<LoadRun<T>> {
  const sent: Sent<T>[] = [];
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  let maxLagMs = 0;
  let lastSent = started;
  for (let index = 0; index < count; index++) {
    const due = started + (index * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait >= 1) await sleep(wait);
    while (pending.size >= maxInFlight) await Promise.race(pending);
    const sentAt = performance.now();
    lastSent = sentAt;
    maxLagMs = Math.max(maxLagMs, sentAt - due);
    const record: Sent<T> = { index, sentAt };
    sent.push(record);
    const request = send(index).then(
      (result) => void (record.result = result),
      (error: unknown) => void (record.error = error instanceof Error ? error.message : String(error)),
    );
    const tracked = request.finally(() => pending.delete(tracked));
    pending.add(tracked);
  }
  await Promise.all(pending);
  return { sent, maxLagMs, ...rates(sent, started, performance.now(), lastSent) };
}

/** Sends `count` requests from `senders` concurrent senders, each as fast as it is answered. */
export async function closedLoop<T>(
  count: number,
  senders: number,
  send: (index: number, sender: number) => Promise<T>,
): Promise<LoadRun<T>> {
  const sent: Sent<T>[] = [];
  const started = performance.now();
  let next = 0;
  let lastSent = started;
  const sender = async (id: number) => {
    for (let index = next++; index < count; index = next++) {
      const sentAt = performance.now();
      lastSent = sentAt;
      const record: Sent<T> = { index, sentAt };
      sent.push(record);
      try {
        record.result = await send(index, id);
      } catch (error) {
        record.error = error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(senders, count) }, (_, id) => sender(id)));
  return { sent, maxLagMs: 0, ...rates(sent, started, performance.now(), lastSent) };
}

/** The values of those promises that settle within `timeoutMs` (undefined for the rest). */
export async function settledWithin<T>(
  promises: readonly Promise<T>[],
  timeoutMs: number,
): Promise<(T | undefined)[]> {
  const values: (T | undefined)[] = promises.map(() => undefined);
  const all = Promise.all(promises.map((p, i) => p.then((v) => void (values[i] = v))));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  return values;
}
