import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { kubectlIncident } from '../support/plugin.ts';
import { SlackStandIn } from '../support/slack.ts';
import { WebhookSink } from '../support/webhook-sink.ts';

// The playbook's external-communication rule, with its 15 minutes shortened to 3 seconds: a P1 with
// no public status page update by then says so (StatusPageUpdateDue, on its checklist), and the
// receivers that were told get one reminder; a public update posted by a person clears it.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const sink = new WebhookSink();
const slack = new SlackStandIn();
let namespace: string;
let incidents: IncidentClient;
let operator: OperatorProcess;

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'statuspage-rule');
  incidents = new IncidentClient(kc, namespace);
  await Promise.all([sink.start(), slack.start()]);
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'comms' }, stringData: { url: sink.endpoint('comms') } },
  });
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'slack' },
      stringData: { 'war-room': slack.webhook('#search-war-room'), status: slack.webhook('#service-status') },
    },
  });
  operator = await OperatorProcess.start('integration', {
    name: 'statuspage-rule',
    args: [`--namespace=${namespace}`, '--status-page-update-within=3s', '--storm-max-incidents=1000'],
  });
});
afterAll(async () => {
  await operator.stop();
  await Promise.all([sink.close(), slack.close()]);
  await core.deleteNamespace({ name: namespace });
});

describe('the status page rule', () => {
  it('raises StatusPageUpdateDue on a P1 left without a public update, reminds the comms lead once, and clears', async () => {
    await incidents.create('no-public-word', {
      severity: 'P1',
      escalation: {
        levels: [
          {
            after: '0s',
            receivers: [{ name: 'comms', type: 'webhook', secretRef: { name: 'comms', key: 'url' } }],
          },
        ],
      },
    });
    const due = await incidents.waitFor(
      'no-public-word',
      'StatusPageUpdateDue',
      (i) => condition(i, 'StatusPageUpdateDue')?.status === 'True',
      20_000,
    );
    const openedAt = new Date(due.status?.openedAt ?? '').getTime();
    const raisedAt = new Date(condition(due, 'StatusPageUpdateDue')?.lastTransitionTime ?? '').getTime();
    // Never before the deadline the test set (3 s after opening).
    expect(raisedAt - openedAt).toBeGreaterThanOrEqual(3_000);
    expect(condition(due, 'StatusPageUpdateDue')?.message).toContain(
      'kubectl incident update no-public-word --public',
    );
    expect(due.status?.checklist?.find((c) => c.name === 'StakeholdersNotified')).toEqual(
      expect.objectContaining({
        done: false,
        detail: expect.stringContaining('status page update due') as unknown,
      }),
    );
    await incidents.waitForEvent('no-public-word', 'StatusPageUpdateDue');
    const reminders = await sink.waitFor('the reminder at the comms receiver', () => {
      const updates = sink.deliveries('comms').filter((d) => d.event === 'update');
      return updates.length > 0 && updates;
    });
    expect(reminders).toHaveLength(1);
    expect(JSON.stringify(reminders[0]?.body)).toContain(
      'The playbook asks P1 incidents for a public status page update within 3s of opening.',
    );

    // A person posts the first public update, as docs/status-page.md shows.
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'incidents',
        name: 'no-public-word',
        body: [
          {
            op: 'add',
            path: '/spec/public',
            value: {
              updates: [
                { time: new Date().toISOString(), status: 'investigating', message: 'Checkout is slow.' },
              ],
            },
          },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const cleared = await incidents.waitFor(
      'no-public-word',
      'StatusPageUpdateDue cleared',
      (i) => condition(i, 'StatusPageUpdateDue')?.status === 'False',
    );
    expect(condition(cleared, 'StatusPageUpdateDue')?.reason).toBe('PublicUpdatePosted');
    expect(sink.deliveries('comms').filter((d) => d.event === 'update')).toHaveLength(1);
  });
});

describe('a status channel (purpose: status)', () => {
  it('hears each public update once, in its public words, and nothing of the incident itself', async () => {
    await incidents.create('search-slow', {
      severity: 'P2',
      title: 'search-api p99 above 2 s on es-cluster-7',
      target: { kind: 'Deployment', name: 'search-api' },
      escalation: {
        levels: [
          {
            after: '0s',
            receivers: [
              { name: 'war-room', type: 'slack', secretRef: { name: 'slack', key: 'war-room' } },
              {
                name: 'service-status',
                type: 'slack',
                purpose: 'status',
                secretRef: { name: 'slack', key: 'status' },
              },
            ],
          },
        ],
      },
    });
    await incidents.waitFor(
      'search-slow',
      'the war room paged',
      (i) => i.status?.notifications?.some((e) => e.id === 'L1:war-room' && e.state === 'Delivered') ?? false,
    );
    const plugin = (...args: string[]) => kubectlIncident('integration', [...args, '-n', namespace]);
    expect((await plugin('ack', 'search-slow', '--by', 'dana')).code).toBe(0);
    const posted = [
      ['Search results may load slowly. We are looking into it.', 'investigating'],
      ['A fix is rolling out; search is getting faster.', 'monitoring'],
    ];
    for (const [message = '', status = ''] of posted)
      expect((await plugin('update', 'search-slow', '--public', message, '--status', status)).code).toBe(0);
    const heard = await incidents.waitFor(
      'search-slow',
      'both public updates delivered to the status channel',
      (i) =>
        ['pub0:service-status', 'pub1:service-status'].every((id) =>
          i.status?.notifications?.some((e) => e.id === id && e.state === 'Delivered'),
        ),
    );
    const said = slack.messages('#service-status');
    expect(said.map((m) => m.text)).toEqual([
      'Service status: Investigating. Search results may load slowly. We are looking into it.',
      'Service status: Monitoring. A fix is rolling out; search is getting faster.',
    ]);
    const everything = JSON.stringify(said);
    for (const internal of ['search-api', 'search-slow', 'es-cluster-7', namespace, 'dana', 'kubectl'])
      expect(everything).not.toContain(internal);
    // The page, the acknowledgement: to the war room only.
    expect(
      heard.status?.notifications?.filter((e) => e.receiver === 'service-status').map((e) => e.id),
    ).toEqual(['pub0:service-status', 'pub1:service-status']);
    expect(slack.messages('#search-war-room').length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(slack.messages('#search-war-room'))).not.toContain('A fix is rolling out');
  });
});
