import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import type { IncidentSpec } from '../../src/api/incident.ts';
import type { Action } from '../../src/api/remediation.ts';
import { runCli } from '../../src/cli/cli.ts';
import { CliError, explainApiError, POLICY_RESOURCE, UsageError } from '../../src/cli/errors.ts';
import { queueMoves, REPLAY_OF_ANNOTATION, replayIncident } from '../../src/cli/replay.ts';
import { parsePublicStatus, updateOps } from '../../src/cli/updates.ts';
import { incident, iso, MINUTE, policy } from './fixtures.ts';

// The plugin's replay and public updates as pure functions: which move a replay takes back and what
// it refuses, and the JSON patch an update appends with.

const drain = (
  queue: string,
  parkingQueue: string,
  o: Partial<NonNullable<Action['queueDrain']>> = {},
): Action => ({
  type: 'queueDrain',
  queueDrain: {
    connectionSecretRef: { name: 'rabbitmq' },
    vhost: '/',
    queue,
    mode: 'move',
    parkingQueue,
    threshold: 100,
    allowPurge: false,
    timeout: '10m',
    ...o,
  },
});
const orders = drain('orders', 'orders.parked');
const drained = (spec: Partial<IncidentSpec> = {}, attempts: { action: string; result: string }[] = []) =>
  incident({
    metadata: { name: 'orders-backlog' },
    spec: { actions: [orders], ...spec },
    status: {
      attempts: attempts.map((a, i) => ({
        id: `attempt-${i + 1}`,
        action: a.action as Action['type'],
        startedAt: iso(MINUTE),
        result: a.result as 'Running',
        message: 'moving',
      })),
    },
  });

describe('queueMoves', () => {
  it('takes each queueDrain move once, and nothing else', () => {
    expect(
      queueMoves([
        { type: 'rolloutRestart' },
        orders,
        drain('orders', 'orders.parked', { timeout: '20m', threshold: 5 }),
        drain('orders', 'orders.parked', { mode: 'purge', allowPurge: true }),
        drain('orders', '', { mode: 'waitForConsumers', parkingQueue: undefined }),
        drain('payments', 'payments.parked', {
          vhost: 'billing',
          connectionSecretRef: { name: 'billing-mq' },
        }),
      ]),
    ).toEqual([
      {
        connectionSecret: 'rabbitmq',
        vhost: '/',
        queue: 'orders',
        parkingQueue: 'orders.parked',
        timeout: '10m',
      },
      {
        connectionSecret: 'billing-mq',
        vhost: 'billing',
        queue: 'payments',
        parkingQueue: 'payments.parked',
        timeout: '10m',
      },
    ]);
  });
});

describe('replayIncident', () => {
  it('a new incident on the same target, replaying the parking queue to its source, saying where it came from', () => {
    const replay = replayIncident(drained(), undefined, { severity: 'P4' });

    expect(replay.annotations).toEqual({ [REPLAY_OF_ANNOTATION]: 'orders-backlog' });
    expect(replay.spec).toEqual({
      severity: 'P4',
      title: 'Replay orders.parked to orders (parked by incident orders-backlog)',
      description:
        'Sends the messages incident orders-backlog ("checkout returns 500s") parked in orders.parked back to orders in vhost /, confirmed there before they leave the parking queue.',
      source: { type: 'manual' },
      target: { kind: 'Deployment', name: 'checkout' },
      actions: [
        {
          type: 'queueReplay',
          queueReplay: {
            connectionSecretRef: { name: 'rabbitmq' },
            vhost: '/',
            parkingQueue: 'orders.parked',
            queue: 'orders',
            timeout: '10m',
          },
        },
      ],
      dryRun: false,
    });
  });

  it("takes the move from the incident's policy, with the timeout and severity given", () => {
    const source = drained({ actions: undefined, policyRef: { name: 'drain-orders' } });
    const replay = replayIncident(
      source,
      policy({ actions: [{ type: 'rolloutRestart' }, drain('orders', 'orders.hold')] }),
      {
        severity: 'P3',
        timeout: '45m',
      },
    );
    expect(replay.spec.severity).toBe('P3');
    expect(replay.spec.actions?.[0]?.queueReplay).toMatchObject({
      parkingQueue: 'orders.hold',
      queue: 'orders',
      timeout: '45m',
    });
  });

  it('picks one of several moves with --queue', () => {
    const source = drained({ actions: [orders, drain('refunds', 'refunds.parked')] });
    expect(replayIncident(source, undefined, { severity: 'P4', queue: 'refunds' }).move.parkingQueue).toBe(
      'refunds.parked',
    );
  });

  it('fits a long title into the 200 characters an incident title may have', () => {
    const long = 'q'.repeat(150);
    const title = replayIncident(drained({ actions: [drain(long, `${long}.parked`)] }), undefined, {
      severity: 'P4',
    }).spec.title;
    expect(title).toHaveLength(200);
    expect(title.endsWith('…')).toBe(true);
  });

  const refusal = (f: () => unknown): { kind: string; lines: string[] } => {
    try {
      f();
    } catch (error) {
      if (error instanceof CliError)
        return {
          kind: error instanceof UsageError ? 'usage' : 'refused',
          lines: [error.message, ...error.hints],
        };
      throw error;
    }
    throw new Error('not refused');
  };

  it.each([
    {
      name: 'no queueDrain move',
      run: () =>
        replayIncident(
          drained({
            actions: [
              { type: 'rolloutRestart' },
              drain('orders', '', { mode: 'waitForConsumers', parkingQueue: undefined }),
            ],
          }),
          undefined,
          { severity: 'P4' },
        ),
      kind: 'refused',
      lines: [
        'incident "orders-backlog" has no queueDrain action in mode move: it parked nothing to replay',
        'its actions: rolloutRestart, queueDrain (waitForConsumers)',
      ],
    },
    {
      name: 'no actions at all',
      run: () => replayIncident(drained({ actions: undefined }), undefined, { severity: 'P4' }),
      kind: 'refused',
      lines: [
        'incident "orders-backlog" has no queueDrain action in mode move: it parked nothing to replay',
        'its actions: none',
      ],
    },
    {
      name: "a policy's purge",
      run: () =>
        replayIncident(
          drained({ actions: undefined, policyRef: { name: 'purge-orders' } }),
          policy({
            actions: [drain('orders', '', { mode: 'purge', allowPurge: true, parkingQueue: undefined })],
          }),
          { severity: 'P4' },
        ),
      kind: 'refused',
      lines: [
        'incident "orders-backlog" has no queueDrain action in mode move: it parked nothing to replay',
        'its actions: queueDrain (purge) (from RemediationPolicy purge-orders)',
      ],
    },
    {
      name: 'a policy that is gone',
      run: () =>
        replayIncident(drained({ actions: undefined, policyRef: { name: 'drain-orders' } }), undefined, {
          severity: 'P4',
        }),
      kind: 'refused',
      lines: [
        'incident "orders-backlog" takes its actions from RemediationPolicy "drain-orders", which does not exist any more',
        'replay by hand instead: docs/runbooks/queue-replay.md',
      ],
    },
    {
      name: 'several moves and no --queue',
      run: () =>
        replayIncident(drained({ actions: [orders, drain('refunds', 'refunds.parked')] }), undefined, {
          severity: 'P4',
        }),
      kind: 'usage',
      lines: [
        'incident "orders-backlog" moved 2 queues: say which to replay with --queue',
        'its moves: orders -> orders.parked (vhost /), refunds -> refunds.parked (vhost /)',
      ],
    },
    {
      name: 'a --queue it did not move',
      run: () => replayIncident(drained(), undefined, { severity: 'P4', queue: 'refunds' }),
      kind: 'usage',
      lines: [
        'incident "orders-backlog" moved no queue named "refunds"',
        'its moves: orders -> orders.parked (vhost /)',
      ],
    },
    {
      name: 'a move still running',
      run: () =>
        replayIncident(drained({}, [{ action: 'queueDrain', result: 'Running' }]), undefined, {
          severity: 'P4',
        }),
      kind: 'refused',
      lines: [
        'incident "orders-backlog" is still moving messages (attempt-1: moving)',
        'replay once its attempt has ended: kubectl incident show orders-backlog',
      ],
    },
    {
      name: 'no target',
      run: () => replayIncident(drained({ target: undefined }), undefined, { severity: 'P4' }),
      kind: 'refused',
      lines: [
        'incident "orders-backlog" names no target workload: a replay acts on the same consumers',
        'replay by hand instead: docs/runbooks/queue-replay.md',
      ],
    },
  ])('refuses $name', ({ run, kind, lines }) => {
    expect(refusal(run)).toEqual({ kind, lines });
  });

  it('replays after a failed or finished move', () => {
    const source = drained({}, [
      { action: 'queueDrain', result: 'Failed' },
      { action: 'queueDrain', result: 'Succeeded' },
    ]);
    expect(replayIncident(source, undefined, { severity: 'P4' }).move.queue).toBe('orders');
  });
});

describe('updateOps', () => {
  const at = iso(5 * MINUTE);
  const publicSide = (statuses: string[]): Partial<IncidentSpec> => ({
    public: {
      updates: statuses.map((status, i) => ({
        time: iso(i * MINUTE),
        status: status as 'investigating',
        message: `m${i}`,
      })),
    },
  });

  it.each([
    {
      name: 'a public update creates the public side, conditioned on the version read',
      spec: {},
      request: { public: { message: 'Checkout is slow for some.' } },
      ops: [
        { op: 'replace', path: '/metadata/resourceVersion', value: '100' },
        {
          op: 'add',
          path: '/spec/public',
          value: { updates: [{ time: at, status: 'investigating', message: 'Checkout is slow for some.' }] },
        },
      ],
      counts: { publicCount: 1, publicStatus: 'investigating' },
    },
    {
      name: 'a public update appends, with the last status, conditioned on the version read (time order)',
      spec: publicSide(['investigating', 'identified']),
      request: { public: { message: 'A fix is rolling out.' } },
      ops: [
        { op: 'replace', path: '/metadata/resourceVersion', value: '100' },
        {
          op: 'add',
          path: '/spec/public/updates/-',
          value: { time: at, status: 'identified', message: 'A fix is rolling out.' },
        },
      ],
      counts: { publicCount: 3, publicStatus: 'identified' },
    },
    {
      name: 'a public update with its status',
      spec: publicSide(['identified']),
      request: { public: { message: 'Resolved.', status: 'resolved' as const } },
      ops: [
        { op: 'replace', path: '/metadata/resourceVersion', value: '100' },
        {
          op: 'add',
          path: '/spec/public/updates/-',
          value: { time: at, status: 'resolved', message: 'Resolved.' },
        },
      ],
      counts: { publicCount: 2, publicStatus: 'resolved' },
    },
    {
      name: "a person's update appends to spec.updates",
      spec: { updates: [{ time: iso(MINUTE), author: 'bob', message: 'looking' }] },
      request: { internal: { author: 'alice', message: 'rolled back' } },
      ops: [
        { op: 'add', path: '/spec/updates/-', value: { time: at, author: 'alice', message: 'rolled back' } },
      ],
      counts: { internalCount: 2 },
    },
    {
      name: 'both at once, in one patch, creating what is missing',
      spec: {},
      request: {
        internal: { author: 'alice', message: 'rolled back' },
        public: { message: 'Fixed.', status: 'monitoring' as const },
      },
      ops: [
        { op: 'replace', path: '/metadata/resourceVersion', value: '100' },
        { op: 'add', path: '/spec/updates', value: [{ time: at, author: 'alice', message: 'rolled back' }] },
        {
          op: 'add',
          path: '/spec/public',
          value: { updates: [{ time: at, status: 'monitoring', message: 'Fixed.' }] },
        },
      ],
      counts: { internalCount: 1, publicCount: 1, publicStatus: 'monitoring' },
    },
  ])('$name', ({ spec, request, ops, counts }) => {
    expect(updateOps(incident({ spec }), { time: at, ...request })).toEqual({ ops, ...counts });
  });

  it('refuses a public update beyond the 100 a status page keeps', () => {
    const full = incident({ spec: publicSide(Array.from({ length: 100 }, () => 'investigating')) });
    expect(() => updateOps(full, { time: at, public: { message: 'one more' } })).toThrow(
      'incident "checkout-errors" holds 100 public updates, the most it can',
    );
  });

  it.each([
    ['monitoring', 'monitoring'],
    ['Resolved', 'resolved'],
  ])('--status %s', (text, status) => {
    expect(parsePublicStatus(text)).toBe(status);
  });
});

describe('command line', () => {
  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...argv, '--kubeconfig', '/nonexistent/kubeconfig'], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    return { code, err: err.join('\n') };
  }

  it.each([
    {
      name: '--status without --public',
      argv: ['update', 'a', '-m', 'x', '--status', 'monitoring', '--by', 'me'],
      err: 'error: --status goes with --public: it is the status of the public update',
    },
    {
      name: 'an unknown public status',
      argv: ['update', 'a', '--public', 'Fixed.', '--status', 'fixed'],
      err: 'error: --status must be one of investigating, identified, monitoring, resolved, got "fixed"',
    },
    {
      name: 'a blank public update',
      argv: ['update', 'a', '--public', '  '],
      err: 'error: --public needs a message: what the public should read on the status page',
    },
    {
      name: 'an over-long public update',
      argv: ['update', 'a', `--public=${'x'.repeat(2001)}`],
      err: 'error: --public is 2001 characters; at most 2000 fit',
    },
    {
      name: 'replay without NAME',
      argv: ['replay'],
      err: 'error: replay needs NAME\nusage: kubectl incident replay NAME [options]\nlist the incidents with: kubectl incident list',
    },
    {
      name: 'replay with a timeout that is no duration',
      argv: ['replay', 'a', '--timeout', '10 minutes'],
      err: 'error: --timeout must be a duration such as 90s, 15m or 1h30m, got "10 minutes"',
    },
    {
      name: 'replay with a severity that is none',
      argv: ['replay', 'a', '--severity', 'P7'],
      err: 'error: --severity must be one of P1, P2, P3, P4, got "P7"',
    },
  ])('$name: exit 2', async ({ argv, err }) => {
    expect(await cli(...argv)).toEqual({ code: 2, err });
  });
});

describe('API errors of the new commands', () => {
  it('an incident that already exists', () => {
    const body = JSON.stringify({
      kind: 'Status',
      reason: 'AlreadyExists',
      message: 'incidents.selfheal.dev "orders-backlog-replay" already exists',
      details: { name: 'orders-backlog-replay' },
    });
    const e = explainApiError(new ApiException(409, 'Conflict', body, {}), {
      verb: 'create',
      namespace: 'shop',
      name: 'orders-backlog-replay',
      server: 'https://127.0.0.1:6443',
    });
    expect([e.message, ...e.hints]).toEqual([
      'incident "orders-backlog-replay" already exists in namespace "shop"',
      'see it with: kubectl incident show orders-backlog-replay -n shop',
    ]);
  });

  it("forbidden to read the incident's policy: the RBAC for that", () => {
    const message =
      'remediationpolicies.selfheal.dev "drain-orders" is forbidden: User "bob" cannot get resource "remediationpolicies" in API group "selfheal.dev" in the namespace "shop"';
    const e = explainApiError(new ApiException(403, 'Forbidden', { message }, {}), {
      verb: 'get',
      namespace: 'shop',
      name: 'drain-orders',
      server: 'https://127.0.0.1:6443',
      resource: POLICY_RESOURCE,
    });
    expect([e.message, ...e.hints]).toEqual([
      `forbidden: ${message}`,
      'ask a cluster admin for "get" on remediationpolicies.selfheal.dev in namespace "shop" (replay reads the queue move from the incident\'s policy), for example:',
      '  kubectl create role policy-reader -n shop --verb=get --resource=remediationpolicies.selfheal.dev',
      '  kubectl create rolebinding policy-reader -n shop --role=policy-reader --user=bob',
    ]);
  });
});
