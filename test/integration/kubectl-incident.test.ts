import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/group.ts';
import type { IncidentStatus } from '../../src/api/incident.ts';
import { IncidentClient } from '../support/incidents.ts';
import { createTestNamespace, grantRole, kubeConfigFor, serviceAccountKubeconfig } from '../support/kube.ts';
import { kubectlIncident, type PluginResult } from '../support/plugin.ts';
import { tierStateDir } from '../support/tiers.ts';

// Every command of the plugin, run as its own process through the installed launcher, against the
// real API server: what it changes is read back from the API server, and its errors say what to do.
const kc = kubeConfigFor('integration');
let namespace: string;
let incidents: IncidentClient;
let me: string;
let viewerKubeconfig: string;

const plugin = (...args: string[]) => kubectlIncident('integration', [...args, '-n', namespace]);
const asViewer = (...args: string[]) =>
  kubectlIncident('integration', [...args, '-n', namespace], { kubeconfig: viewerKubeconfig });

/** Text with runs of spaces made one, so that assertions do not depend on column widths. */
const squash = (text: string) => text.replace(/ +/g, ' ');

/** The command succeeded and printed nothing on stderr; its stdout. */
function ok(result: PluginResult): string {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  return result.stdout;
}

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'plugin');
  incidents = new IncidentClient(kc, namespace);
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  me = review.status?.userInfo?.username ?? '';
  expect(me).not.toBe('');
  // A responder who may only look: get and list on incidents, nothing else.
  await incidents.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'viewer' } } });
  await grantRole(kc, {
    namespace,
    name: 'incident-viewer',
    rules: [{ apiGroups: [GROUP], resources: ['incidents'], verbs: ['get', 'list'] }],
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

describe('kubectl incident, as a responder works an incident', () => {
  it('says so when there is nothing to list', async () => {
    expect(ok(await plugin('list'))).toBe(`No incidents found in namespace ${namespace}.\n`);
  });

  it('declares an incident', async () => {
    const out = ok(
      await plugin(
        'declare',
        '--severity',
        'P2',
        '--target',
        'deployment/api',
        '--title',
        'API latency above 2 s',
        '--name',
        'api-slow',
      ),
    );
    expect(out).toBe(
      `incidents.selfheal.dev/api-slow declared (P2) in namespace ${namespace}\nfollow it with: kubectl incident show api-slow -n ${namespace}\n`,
    );
    expect((await incidents.get('api-slow')).spec).toMatchObject({
      severity: 'P2',
      title: 'API latency above 2 s',
      target: { kind: 'Deployment', name: 'api' },
      source: { type: 'manual' },
    });
  });

  it('declares with a generated name from the target', async () => {
    const out = ok(
      await plugin('declare', '--severity', 'p4', '--target', 'sts/db', '--title', 'replica lag'),
    );
    const name = /incidents\.selfheal\.dev\/(db-[a-z0-9]{5}) declared \(P4\)/.exec(out)?.[1];
    expect(name).toBeDefined();
    expect((await incidents.get(name ?? '')).spec.target).toEqual({ kind: 'StatefulSet', name: 'db' });
  });

  it("lists them, also through kubectl's own plugin discovery", async () => {
    const direct = ok(await plugin('list'));
    const viaKubectl = await kubectlIncident('integration', ['list', '-n', namespace], { viaKubectl: true });
    const names = (table: string) => table.split('\n').map((line) => line.split(' ')[0]);
    expect(names(ok(viaKubectl))).toEqual(names(direct));
    const [header, ...rows] = direct.trimEnd().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'NAME',
      'SEVERITY',
      'PHASE',
      'TARGET',
      'ACKNOWLEDGED-BY',
      'COMMANDER',
      'AGE',
      'TITLE',
    ]);
    expect(rows.find((r) => r.startsWith('api-slow '))?.split(/\s{3,}/)).toEqual([
      'api-slow',
      'P2',
      'Open',
      'deployment/api',
      '-',
      '-',
      expect.stringMatching(/^\d+s$/),
      'API latency above 2 s',
    ]);
  });

  it('acknowledges as the caller, from a SelfSubjectReview', async () => {
    expect(ok(await plugin('ack', 'api-slow'))).toBe(
      `incidents.selfheal.dev/api-slow acknowledged by ${me}\n`,
    );
    expect((await incidents.get('api-slow')).spec.acknowledgedBy).toBe(me);
  });

  it('refuses a second acknowledgement, naming who has it', async () => {
    const again = await plugin('ack', 'api-slow', '--by', 'mallory');
    expect(again).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: incident "api-slow" was already acknowledged by ${me}\nsee it with: kubectl incident show api-slow -n ${namespace}\n`,
    });
    expect((await incidents.get('api-slow')).spec.acknowledgedBy).toBe(me);
  });

  it('assigns and hands over roles', async () => {
    ok(await plugin('assign', 'api-slow', '--commander', 'alice', '--communications', 'bob'));
    const out = ok(await plugin('assign', 'api-slow', '--technical', 'carol', '--commander', 'dave'));
    expect(out).toBe(
      'incidents.selfheal.dev/api-slow roles: commander dave, communications bob, technical carol, scribe -\n',
    );
    expect((await incidents.get('api-slow')).spec.roles).toEqual({
      incidentCommander: 'dave',
      communicationsLead: 'bob',
      technicalLead: 'carol',
    });
  });

  it('appends updates, even when several people post at once', async () => {
    ok(await plugin('update', 'api-slow', '--message', 'investigating: p99 at 2.4 s', '--by', 'alice'));
    const posted = await Promise.all(
      ['bob', 'carol', 'dave'].map((who) =>
        plugin('update', 'api-slow', '-m', `update from ${who}`, '--by', who),
      ),
    );
    for (const result of posted) ok(result);
    const updates = (await incidents.get('api-slow')).spec.updates ?? [];
    expect(updates.map((u) => u.author).sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(updates[0]).toMatchObject({ author: 'alice', message: 'investigating: p99 at 2.4 s' });
    expect(updates.every((u) => !Number.isNaN(Date.parse(u.time)))).toBe(true);
  });

  it('shows status, roles, checklist, context, attempts, notifications, updates and timeline', async () => {
    const status: IncidentStatus = {
      phase: 'Acknowledged',
      openedAt: '2026-03-02T09:00:00Z',
      escalation: { level: 1, reason: 'no actions are given and no policy applies: people must act' },
      sla: { responseDueAt: '2026-03-02T09:30:00Z', resolutionDueAt: '2026-03-02T17:00:00Z' },
      checklist: [
        { name: 'Acknowledged', done: true, detail: `by ${me}` },
        { name: 'RolesAssigned', done: false, detail: 'no scribe' },
      ],
      context: ['deployed revision 7 at 08:48Z, 12 min before the alert'],
      attempts: [
        {
          id: 'attempt-1',
          action: 'rolloutRestart',
          startedAt: '2026-03-02T09:01:00Z',
          result: 'Failed',
          message: 'rollout did not complete',
        },
      ],
      notifications: [
        {
          id: 'oncall/trigger/1',
          receiver: 'oncall',
          event: 'trigger',
          state: 'Delivered',
          attempts: 2,
          recordedAt: '2026-03-02T09:05:00Z',
          deliveredAt: '2026-03-02T09:05:03Z',
        },
      ],
      timeline: [{ time: '2026-03-02T09:05:00Z', type: 'Escalated', message: 'people must act' }],
    };
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'incidents',
        name: 'api-slow',
        body: { status },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const out = squash(ok(await plugin('show', 'api-slow')));
    for (const line of [
      'Name:            api-slow',
      'Severity:        P2',
      'Phase:           Acknowledged (escalation level 1)',
      `Target:          Deployment ${namespace}/api`,
      `Acknowledged:    by ${me}`,
      '  Incident commander:   dave',
      '  Scribe:               -',
      `  [x] Acknowledged: by ${me}`,
      '  [ ] RolesAssigned: no scribe',
      '  - deployed revision 7 at 08:48Z, 12 min before the alert',
      '  attempt-1  rolloutRestart  Failed  2026-03-02T09:01:00Z  rollout did not complete',
      '  oncall  trigger  Delivered  2 attempt(s), delivered 2026-03-02T09:05:03Z',
      'alice: investigating: p99 at 2.4 s',
      '  2026-03-02T09:05:00Z  Escalated  people must act',
    ])
      expect(out).toContain(squash(line));
    const json = JSON.parse(ok(await plugin('show', 'api-slow', '-o', 'json'))) as { status: IncidentStatus };
    expect(json.status.checklist).toEqual(status.checklist);
  });

  it('resolves with a note, once', async () => {
    const out = ok(await plugin('resolve', 'api-slow', '--note', 'rolled back to v41', '--by', 'dave'));
    expect(out).toContain('incidents.selfheal.dev/api-slow resolved by dave\n');
    expect((await incidents.get('api-slow')).spec.resolution).toEqual({
      resolvedBy: 'dave',
      note: 'rolled back to v41',
    });
    expect(await plugin('resolve', 'api-slow', '--note', 'again')).toMatchObject({
      code: 1,
      stderr: 'error: incident "api-slow" was already resolved by dave; nothing to resolve\n',
    });
    expect(await plugin('resolve', 'api-slow')).toMatchObject({
      code: 2,
      stderr: 'error: --note is required: say how it was resolved; the resolution cannot be changed later\n',
    });
  });

  it('records the post-mortem, then its completion', async () => {
    ok(await plugin('postmortem', 'api-slow', '--url', 'https://wiki.example.com/pm/42'));
    expect(ok(await plugin('postmortem', 'api-slow', '--completed'))).toBe(
      'incidents.selfheal.dev/api-slow post-mortem https://wiki.example.com/pm/42, completed\n',
    );
    expect((await incidents.get('api-slow')).spec.postMortem).toEqual({
      url: 'https://wiki.example.com/pm/42',
      completed: true,
    });
  });
});

describe('kubectl incident errors say what to do next', () => {
  it.each([
    ['show', []],
    ['ack', ['--by', 'alice']],
    ['update', ['-m', 'x', '--by', 'alice']],
    ['resolve', ['--note', 'x', '--by', 'alice']],
    ['postmortem', ['--completed']],
    ['assign', ['--commander', 'alice']],
  ])('%s of a missing incident: how to list them', async (command, args) => {
    expect(await plugin(command, 'no-such-incident', ...args)).toEqual({
      code: 1,
      stdout: '',
      stderr: [
        `error: incident "no-such-incident" not found in namespace "${namespace}"`,
        `list the incidents there with: kubectl incident list -n ${namespace}`,
        'or in every namespace: kubectl incident list -A',
        '',
      ].join('\n'),
    });
  });

  it('lets a viewer look', async () => {
    expect(ok(await asViewer('list'))).toContain('api-slow');
    expect(squash(ok(await asViewer('show', 'api-slow')))).toContain('Name: api-slow');
  });

  it.each([
    ['ack', ['ack', 'db-lag'], 'patch'],
    ['update', ['update', 'api-slow', '-m', 'hello'], 'patch'],
    ['declare', ['declare', '--severity', 'P3', '--title', 'x', '--name', 'x'], 'create'],
  ])('refuses a viewer %s, saying which verb and what RBAC to ask for', async (_what, args, verb) => {
    if (args[1] === 'db-lag')
      ok(await plugin('declare', '--severity', 'P3', '--title', 'lag', '--name', 'db-lag'));
    const user = `system:serviceaccount:${namespace}:viewer`;
    const result = await asViewer(...args);
    expect(result.code).toBe(1);
    const [first, ...hints] = result.stderr.trimEnd().split('\n');
    expect(first).toMatch(
      new RegExp(
        `^error: forbidden: .*User "${user}" cannot ${verb} resource "incidents" in API group "selfheal.dev" in the namespace "${namespace}"`,
      ),
    );
    expect(hints).toEqual([
      `ask a cluster admin for "${verb}" on incidents.selfheal.dev in namespace "${namespace}"; responders need get, list, patch and create, for example:`,
      `  kubectl create role incident-responder -n ${namespace} --verb=get,list,patch,create --resource=incidents.selfheal.dev`,
      `  kubectl create rolebinding incident-responder -n ${namespace} --role=incident-responder --serviceaccount=${namespace}:viewer`,
    ]);
  });

  it('says how to use a command given wrong', async () => {
    expect(await plugin('ack')).toMatchObject({
      code: 2,
      stderr:
        'error: ack needs NAME\nusage: kubectl incident ack NAME [options]\nlist the incidents with: kubectl incident list\n',
    });
    expect(await plugin('ack', 'api-slow', '--force')).toMatchObject({
      code: 2,
      stderr: 'error: unknown option --force for ack\nsee: kubectl incident ack --help\n',
    });
    expect(await plugin('declare', '--severity', 'P5', '--title', 'x')).toMatchObject({
      code: 2,
      stderr: 'error: --severity must be one of P1, P2, P3, P4, got "P5"\n',
    });
    expect(await plugin('page', 'x')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('error: unknown command "page"'),
    });
  });

  it('names a kubeconfig context that does not exist, and the ones that do', async () => {
    const result = await plugin('list', '--context', 'prod');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: context "prod" not found in the kubeconfig\ncontexts there: \S+/);
  });
});
