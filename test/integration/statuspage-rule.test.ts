import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { condition, IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';
import { OperatorProcess } from '../support/operator.ts';
import { WebhookSink } from '../support/webhook-sink.ts';

// The playbook's external-communication rule, with its 15 minutes shortened to 3 seconds: a P1 with
// no public status page update by then says so (StatusPageUpdateDue, on its checklist), and the
// receivers that were told get one reminder; a public update posted by a person clears it.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const sink = new WebhookSink();
let namespace: string;
let incidents: IncidentClient;
let operator: OperatorProcess;

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'statuspage-rule');
  incidents = new IncidentClient(kc, namespace);
  await sink.start();
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'comms' }, stringData: { url: sink.endpoint('comms') } },
  });
  operator = await OperatorProcess.start('integration', {
    name: 'statuspage-rule',
    args: [`--namespace=${namespace}`, '--status-page-update-within=3s', '--storm-max-incidents=1000'],
  });
});
afterAll(async () => {
  await operator.stop();
  await sink.close();
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
