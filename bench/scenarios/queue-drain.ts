// Moves the same backlog with selfheal's queue-drain engine and with RabbitMQ's own dynamic shovel
// (ack-mode on-confirm, the shovel's safe mode) on one broker, in alternating rounds, and reports
// messages per second for both. The broker is a local RabbitMQ in .tmp/bench/queue-drain.
import { join } from 'node:path';
import axios from 'axios';
import { rabbitMq } from '../../hack/localenv/services.ts';
import { killMarkedOnSignal, terminateMarked } from '../../hack/localenv/process.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { eventually } from '../../hack/localenv/wait.ts';
import { LocalEnv } from '../../hack/localenv/env.ts';
import { QueueEngine } from '../../src/actions/queue/engine.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import {
  LOCAL_BROKER_EGRESS,
  queueNames,
  RabbitTestClient,
  variedMessages,
  type Outgoing,
} from '../../test/support/rabbit.ts';

export interface BenchContext {
  smoke: boolean;
  resultsDir: string;
  log: (line: string) => void;
}

interface Round {
  method: 'engine' | 'shovel';
  round: number;
  messages: number;
  seconds: number;
  perSecond: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function engineRound(rabbit: RabbitTestClient, backlog: Outgoing[]): Promise<number> {
  const count = backlog.length;
  const q = queueNames('bench', 'src', 'parked');
  await rabbit.publish(q.src, backlog);
  const engine = new QueueEngine({ egress: LOCAL_BROKER_EGRESS, clock: systemClock });
  const spec = {
    vhost: '/',
    queue: q.src,
    parkingQueue: q.parked,
    threshold: 0,
    attempt: 'bench',
    deadline: new Date(Date.now() + 10 * 60_000),
  };
  const started = performance.now();
  const result = await engine.move(rabbit.connection(), spec, new AbortController().signal, () => undefined);
  const seconds = (performance.now() - started) / 1000;
  const [left, parked] = [await rabbit.depth(q.src), await rabbit.depth(q.parked)];
  if (result.moved !== count || left !== 0 || parked !== count)
    throw new Error(
      `engine round moved ${result.moved}, left ${left} in the source, parked ${parked}; expected ${count}`,
    );
  await rabbit.deleteQueues(q.src, q.parked);
  return seconds;
}

async function shovelRound(rabbit: RabbitTestClient, backlog: Outgoing[]): Promise<number> {
  const count = backlog.length;
  const q = queueNames('bench', 'src', 'dest');
  await rabbit.publish(q.src, backlog);
  await rabbit.declare(q.dest);
  const { managementUrl, username, password } = rabbit.info;
  const auth = { username, password };
  const name = `bench-${q.src}`;
  const parameter = `${managementUrl}/api/parameters/shovel/%2F/${encodeURIComponent(name)}`;
  const seconds = await rabbit.withConnection(async (c) => {
    const channel = await c.createChannel();
    const started = performance.now();
    await axios.put(
      parameter,
      {
        value: {
          'src-protocol': 'amqp091',
          'src-uri': 'amqp://',
          'src-queue': q.src,
          'src-delete-after': 'queue-length',
          'dest-protocol': 'amqp091',
          'dest-uri': 'amqp://',
          'dest-queue': q.dest,
          'ack-mode': 'on-confirm',
        },
      },
      { auth },
    );
    // Done when the destination holds the whole backlog (checked every 5 ms, exact counts).
    for (;;) {
      if ((await channel.checkQueue(q.dest)).messageCount >= count) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return (performance.now() - started) / 1000;
  });
  const left = await rabbit.depth(q.src);
  if (left !== 0) throw new Error(`shovel round left ${left} messages in the source`);
  // src-delete-after removes the shovel once it moved the backlog; wait for that before the next round.
  await eventually(
    'the shovel to delete itself',
    async () => (await axios.get(parameter, { auth, validateStatus: () => true })).status === 404,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  await rabbit.deleteQueues(q.src, q.dest);
  return seconds;
}

export default {
  name: 'queue-drain',
  description:
    'A 10,000-message backlog moved to a parking queue by the queue-drain engine and by a RabbitMQ dynamic shovel (ack-mode on-confirm) on the same broker: messages per second for both.',
  async run(ctx: BenchContext): Promise<{ rows: Record<string, string | number>[]; json: unknown }> {
    const count = ctx.smoke ? 500 : 10_000;
    const rounds = ctx.smoke ? 1 : 7;
    const dir = join(REPO_ROOT, '.tmp', 'bench', 'queue-drain');
    await LocalEnv.reset(dir);
    killMarkedOnSignal(dir);
    const broker = await rabbitMq(dir);
    ctx.log(`starting RabbitMQ in ${dir}`);
    await broker.start();
    try {
      const rabbit = new RabbitTestClient(broker.info);
      // An unmeasured round of each first: the broker's and Node's code paths warm, as they are in use.
      if (!ctx.smoke) {
        const warmUp = variedMessages(1000);
        await engineRound(rabbit, warmUp);
        await shovelRound(rabbit, warmUp);
      }
      // One backlog, published afresh before every round, so every round moves the same messages.
      const backlog = variedMessages(count);
      const results: Round[] = [];
      for (let round = 1; round <= rounds; round++) {
        // Alternate which goes first, so neither always runs on a warmer broker.
        const order = round % 2 ? (['engine', 'shovel'] as const) : (['shovel', 'engine'] as const);
        for (const method of order) {
          const seconds = await (method === 'engine' ? engineRound : shovelRound)(rabbit, backlog);
          const perSecond = count / seconds;
          results.push({ method, round, messages: count, seconds, perSecond });
          ctx.log(
            `round ${round} ${method}: ${count} messages in ${seconds.toFixed(3)} s, ${perSecond.toFixed(0)} msg/s`,
          );
        }
      }
      const rates = (method: Round['method']) =>
        results.filter((r) => r.method === method).map((r) => r.perSecond);
      const rows = (['engine', 'shovel'] as const).map((method) => ({
        method:
          method === 'engine' ? 'selfheal queue-drain engine (move)' : 'RabbitMQ dynamic shovel (on-confirm)',
        messages: count,
        rounds,
        'median msg/s': Math.round(median(rates(method))),
        'min msg/s': Math.round(Math.min(...rates(method))),
        'max msg/s': Math.round(Math.max(...rates(method))),
      }));
      const ratio = median(rates('engine')) / median(rates('shovel'));
      ctx.log(`engine / shovel (medians): ${ratio.toFixed(2)}`);
      return { rows, json: { messages: count, rounds, ratio, results } };
    } finally {
      await broker.stop();
      await terminateMarked(dir);
    }
  },
};
