import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/group.ts';
import type { IncidentStatus } from '../../src/api/incident.ts';
import type { Action } from '../../src/api/remediation.ts';
import { REPLAY_OF_ANNOTATION } from '../../src/cli/replay.ts';
import { createPolicy } from '../support/alerting.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, grantRole, kubeConfigFor, serviceAccountKubeconfig } from '../support/kube.ts';
import { kubectlIncident, type PluginResult } from '../support/plugin.ts';
import { tierStateDir } from '../support/tiers.ts';

// `kubectl incident replay` and `update --public`, each run as its own process through the installed
// launcher against the real API server: what they write is read back, and their refusals say why.
const kc = kubeConfigFor('integration');
const objects = kc.makeApiClient(CustomObjectsApi);
let namespace: string;
let incidents: IncidentClient;
let viewerKubeconfig: string;

const plugin = (...args: string[]) => kubectlIncident('integration', [...args, '-n', namespace]);
const asViewer = (...args: string[]) =>
  kubectlIncident('integration', [...args, '-n', namespace], { kubeconfig: viewerKubeconfig });

function ok(result: PluginResult): string {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return result.stdout;
}

const move = (queue: string, parkingQueue: string, timeout = '12m'): Action => ({
  type: 'queueDrain',
  queueDrain: {
    connectionSecretRef: { name: 'rabbitmq' },
    vhost: '/',
    queue,
    mode: 'move',
    parkingQueue,
    threshold: 100,
    allowPurge: false,
    timeout,
  },
});

async function setStatus(name: string, status: IncidentStatus): Promise<void> {
  await objects.patchNamespacedCustomObjectStatus(
    { group: GROUP, version: VERSION, namespace, plural: 'incidents', name, body: { status } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'plugin-queue');
  incidents = new IncidentClient(kc, namespace);
  // May read and create incidents, and nothing else (no policies).
  await incidents.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'viewer' } } });
  await grantRole(kc, {
    namespace,
    name: 'incident-reader',
    rules: [{ apiGroups: [GROUP], resources: ['incidents'], verbs: ['get', 'list', 'create'] }],
    serviceAccount: 'viewer',
  });
  viewerKubeconfig = await serviceAccountKubeconfig(kc, {
    namespace,
    name: 'viewer',
    file: join(tierStateDir('integration'), `viewer-${namespace}.kubeconfig`),
  });
});
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

describe('kubectl incident replay', () => {
  it("declares an incident that replays NAME's parking queue to its source queue, named and titled after NAME", async () => {
    await incidents.create('orders-backlog', {
      title: 'orders pile up',
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [{ type: 'rolloutRestart' }, move('orders', 'orders.parked')],
    });
    await setStatus('orders-backlog', {
      phase: 'Resolved',
      attempts: [
        {
          id: 'attempt-1',
          action: 'queueDrain',
          actionIndex: 1,
          startedAt: '2026-03-02T09:01:00Z',
          finishedAt: '2026-03-02T09:02:00Z',
          result: 'Succeeded',
          message: 'moved 5000 messages from orders to orders.parked',
        },
      ],
    });

    expect(ok(await plugin('replay', 'orders-backlog'))).toBe(
      [
        'incidents.selfheal.dev/orders-backlog-replay declared (P4): replays orders.parked to orders, parked by incident orders-backlog',
        `follow it with: kubectl incident show orders-backlog-replay -n ${namespace}`,
        '',
      ].join('\n'),
    );
    const replay = await incidents.get('orders-backlog-replay');
    expect(replay.metadata.annotations?.[REPLAY_OF_ANNOTATION]).toBe('orders-backlog');
    expect(replay.spec).toMatchObject({
      severity: 'P4',
      title: 'Replay orders.parked to orders (parked by incident orders-backlog)',
      source: { type: 'manual' },
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [
        {
          type: 'queueReplay',
          queueReplay: {
            connectionSecretRef: { name: 'rabbitmq' },
            vhost: '/',
            parkingQueue: 'orders.parked',
            queue: 'orders',
            timeout: '12m',
          },
        },
      ],
    });
    expect(replay.spec.description).toContain('"orders pile up"');
  });

  it('refuses a second replay of the same name, and takes another with --name', async () => {
    expect(await plugin('replay', 'orders-backlog')).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        `error: incident "orders-backlog-replay" already exists in namespace "${namespace}"`,
        `see it with: kubectl incident show orders-backlog-replay -n ${namespace}`,
        'a second replay (of what is still parked) needs another name: --name orders-backlog-replay-2',
        '',
      ].join('\n'),
    });
    ok(
      await plugin(
        'replay',
        'orders-backlog',
        '--name',
        'orders-replay-2',
        '--severity',
        'P3',
        '--timeout',
        '30m',
      ),
    );
    const second = await incidents.get('orders-replay-2');
    expect(second.spec.severity).toBe('P3');
    expect(second.spec.actions?.[0]?.queueReplay?.timeout).toBe('30m');
  });

  it("takes the move from an alert incident's policy", async () => {
    await createPolicy(kc, namespace, 'drain-refunds', {
      match: { alertName: 'RefundsBacklog' },
      target: { kind: 'Deployment', nameFromLabel: 'deployment' },
      actions: [move('refunds', 'refunds.hold', '20m')],
    });
    await incidents.create('refunds-backlog', {
      target: { kind: 'Deployment', name: 'refunds-worker' },
      policyRef: { name: 'drain-refunds' },
    });

    ok(await plugin('replay', 'refunds-backlog'));
    expect((await incidents.get('refunds-backlog-replay')).spec.actions).toEqual([
      {
        type: 'queueReplay',
        queueReplay: {
          connectionSecretRef: { name: 'rabbitmq' },
          vhost: '/',
          parkingQueue: 'refunds.hold',
          queue: 'refunds',
          timeout: '20m',
        },
      },
    ]);
  });

  it('refuses an incident without a queueDrain move, one still moving, and one that does not exist', async () => {
    await incidents.create('api-slow', {
      target: { kind: 'Deployment', name: 'api' },
      actions: [{ type: 'rolloutRestart' }],
    });
    expect(await plugin('replay', 'api-slow')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: incident "api-slow" has no queueDrain action in mode move: it parked nothing to replay\nits actions: rolloutRestart\n',
    });

    await incidents.create('orders-now', {
      target: { kind: 'Deployment', name: 'orders-worker' },
      actions: [move('orders', 'orders.parked')],
    });
    await setStatus('orders-now', {
      phase: 'Remediating',
      attempts: [
        {
          id: 'attempt-1',
          action: 'queueDrain',
          actionIndex: 0,
          startedAt: '2026-03-02T09:01:00Z',
          result: 'Running',
          message: '4000 of 10000 messages moved to orders.parked',
        },
      ],
    });
    expect(await plugin('replay', 'orders-now')).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: incident "orders-now" is still moving messages (attempt-1: 4000 of 10000 messages moved to orders.parked)\nreplay once its attempt has ended: kubectl incident show orders-now\n',
    });

    expect(await plugin('replay', 'no-such-incident')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: incident "no-such-incident" not found in namespace/),
    });
    // Nothing was declared for the refused ones.
    await expect(incidents.get('api-slow-replay')).rejects.toThrow();
    await expect(incidents.get('orders-now-replay')).rejects.toThrow();
  });

  it("names the permission a responder lacks to read the incident's policy", async () => {
    const result = await asViewer('replay', 'refunds-backlog', '--name', 'refunds-by-viewer');
    expect(result.code).toBe(1);
    const [first, ...hints] = result.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^error: forbidden: .*cannot get resource "remediationpolicies"/);
    expect(hints[0]).toBe(
      `ask a cluster admin for "get" on remediationpolicies.selfheal.dev in namespace "${namespace}" (replay reads the queue move from the incident's policy), for example:`,
    );
    // With its own actions, the same responder may replay.
    ok(await asViewer('replay', 'orders-backlog', '--name', 'orders-by-viewer'));
  });
});

describe('kubectl incident update --public', () => {
  it('creates the public side with the first update, then appends with the status given or kept', async () => {
    await incidents.create('checkout-down', { target: { kind: 'Deployment', name: 'checkout' } });

    expect(ok(await plugin('update', 'checkout-down', '--public', 'Some payments fail. We are on it.'))).toBe(
      'incidents.selfheal.dev/checkout-down public update 1 posted (investigating)\n',
    );
    ok(
      await plugin('update', 'checkout-down', '--public', 'A fix is rolling out.', '--status', 'identified'),
    );
    ok(await plugin('update', 'checkout-down', '--public', 'Still rolling out.'));
    const posted = await plugin(
      'update',
      'checkout-down',
      '-m',
      'rolled back v42',
      '--by',
      'alice',
      '--public',
      'Payments work again.',
      '--status',
      'resolved',
    );
    expect(ok(posted)).toBe(
      [
        'incidents.selfheal.dev/checkout-down update 1 posted by alice',
        'incidents.selfheal.dev/checkout-down public update 4 posted (resolved)',
        '',
      ].join('\n'),
    );

    const spec = (await incidents.get('checkout-down')).spec;
    expect(spec.public?.updates.map((u) => [u.status, u.message])).toEqual([
      ['investigating', 'Some payments fail. We are on it.'],
      ['identified', 'A fix is rolling out.'],
      ['identified', 'Still rolling out.'],
      ['resolved', 'Payments work again.'],
    ]);
    expect(spec.updates).toEqual([{ time: expect.any(String), author: 'alice', message: 'rolled back v42' }]);
    const times = spec.public?.updates.map((u) => Date.parse(u.time)) ?? [];
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const shown = ok(await plugin('show', 'checkout-down'));
    expect(shown).toContain('resolved: Payments work again.');
  });

  it('several people posting at once: every update lands, in time order', async () => {
    await incidents.create('search-slow', { target: { kind: 'Deployment', name: 'search' } });
    const messages = ['Search is slow.', 'Search results may be late.', 'We are looking into slow search.'];
    for (const result of await Promise.all(
      messages.map((m) => plugin('update', 'search-slow', '--public', m)),
    ))
      ok(result);
    const updates = (await incidents.get('search-slow')).spec.public?.updates ?? [];
    expect(updates.map((u) => u.message).sort()).toEqual([...messages].sort());
    const times = updates.map((u) => Date.parse(u.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('errors: the API server refuses what it must, the plugin what it can tell', async () => {
    expect(await plugin('update', 'checkout-down', '--public', 'x', '--status', 'fixed')).toMatchObject({
      code: 2,
      stderr: 'error: --status must be one of investigating, identified, monitoring, resolved, got "fixed"\n',
    });
    expect(await plugin('update', 'checkout-down', '--status', 'resolved')).toMatchObject({
      code: 2,
      stderr: 'error: --status goes with --public: it is the status of the public update\n',
    });
    expect(await plugin('update', 'no-such-incident', '--public', 'hello')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: incident "no-such-incident" not found/),
    });
    expect(await asViewer('update', 'checkout-down', '--public', 'hello')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: forbidden: .*cannot patch resource "incidents"/),
    });
  });
});
