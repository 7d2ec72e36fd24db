import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../src/api/group.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';

// The API server itself enforces the schema and CEL rules generated from src/api: each invalid
// object is refused with a message that names the offending field.
const kc = kubeConfigFor('integration');
const objects = kc.makeApiClient(CustomObjectsApi);
let namespace: string;

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'api');
});
afterAll(async () => {
  await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
});

type Json = Record<string, unknown>;
type Kind = 'incidents' | 'remediationpolicies' | 'statuscomponents';
const KINDS: Record<Kind, string> = {
  incidents: 'Incident',
  remediationpolicies: 'RemediationPolicy',
  statuscomponents: 'StatusComponent',
};
let counter = 0;

const incident = (spec: Json = {}): Json => ({
  severity: 'P2',
  title: 'API is slow',
  target: { kind: 'Deployment', name: 'api' },
  actions: [{ type: 'rolloutRestart' }],
  ...spec,
});
const policy = (spec: Json = {}): Json => ({
  match: { alertName: 'ApiDown', labels: [{ name: 'tier', operator: '=', value: 'api' }] },
  target: { kind: 'Deployment', nameFromLabel: 'deployment' },
  actions: [{ type: 'rolloutRestart' }],
  ...spec,
});
const withAction = (action: Json): Json => incident({ actions: [action] });
const publicUpdate = (message: string, time = '2026-08-01T10:00:00Z', status = 'investigating'): Json => ({
  time,
  status,
  message,
});
const withPublic = (pub: Json): Json =>
  incident({ public: { updates: [publicUpdate('We are looking into it.')], ...pub } });
const withUpdates = (...updates: Json[]): Json => withPublic({ updates });
const component = (spec: Json = {}): Json => ({ displayName: 'Content generation API', ...spec });
const policyPublic = (pub: Json): Json => policy({ public: { message: 'We are looking into it.', ...pub } });

async function create(plural: Kind, spec: Json): Promise<string> {
  const name = `obj-${++counter}`;
  const kind = KINDS[plural];
  await objects.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name }, spec },
  });
  return name;
}

/** The object as the API server stored it. */
async function read(plural: Kind, name: string): Promise<{ spec: Json; status?: Json }> {
  return (await objects.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    name,
  })) as {
    spec: Json;
    status?: Json;
  };
}

async function patchSpec(plural: Kind, name: string, spec: Json): Promise<void> {
  await objects.patchNamespacedCustomObject(
    { group: GROUP, version: VERSION, namespace, plural, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** The API server's refusal: HTTP status and the Status message. */
async function refusal(operation: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await operation;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = (typeof error.body === 'string' ? JSON.parse(error.body) : error.body) as {
      message?: string;
    };
    return { code: error.code, message: body.message ?? '' };
  }
  throw new Error('the API server accepted the object');
}

const long = (n: number) => 'x'.repeat(n);
const scale = (params: Json) => withAction({ type: 'scale', scale: params });
const drain = (params: Json) =>
  withAction({
    type: 'queueDrain',
    queueDrain: { connectionSecretRef: { name: 'mq' }, queue: 'orders', ...params },
  });
const replay = (params: Json) =>
  withAction({
    type: 'queueReplay',
    queueReplay: { connectionSecretRef: { name: 'mq' }, parkingQueue: 'orders.parked', ...params },
  });
const http = (check: Json) => incident({ verification: { http: check } });
const healthUrl = 'http://api.shop.svc:8080/api/v1/health';
const alertSource = {
  type: 'alertmanager',
  alertName: 'ApiDown',
  fingerprint: 'c1a2b3d4e5f60718',
  startsAt: '2026-08-01T10:00:00Z',
};
/** An escalation with one level, notifying one receiver at once. */
const escalationTo = (receiver: Json) => ({ levels: [{ after: '0s', receivers: [receiver] }] });
const receiver = (type: string, extra: Json = {}) =>
  escalationTo({ name: 'pager', type, secretRef: { name: 'pd', key: 'key' }, ...extra });

// [what, kind, invalid spec, the field the message must name]
const invalidOnCreate: [string, Kind, Json, string][] = [
  ['unknown severity', 'incidents', incident({ severity: 'P5' }), 'spec.severity'],
  ['missing severity', 'incidents', { title: 't' }, 'spec.severity'],
  ['empty title', 'incidents', incident({ title: '' }), 'spec.title'],
  ['over-long title', 'incidents', incident({ title: long(201) }), 'spec.title'],
  ['over-long description', 'incidents', incident({ description: long(4097) }), 'spec.description'],
  ['unknown action', 'incidents', withAction({ type: 'reboot' }), 'spec.actions[0].type'],
  [
    'too many actions',
    'incidents',
    incident({ actions: Array.from({ length: 11 }, () => ({ type: 'rolloutRestart' })) }),
    'spec.actions',
  ],
  [
    'bad duration',
    'incidents',
    withAction({ type: 'rolloutRestart', rolloutRestart: { timeout: '5 minutes' } }),
    'spec.actions[0].rolloutRestart.timeout',
  ],
  ['scale without its parameters', 'incidents', withAction({ type: 'scale' }), 'spec.actions[0].scale'],
  [
    'parameters of another action',
    'incidents',
    withAction({ type: 'rolloutRestart', scale: { replicas: 2 } }),
    'spec.actions[0].scale',
  ],
  ['scale with replicas and delta', 'incidents', scale({ replicas: 3, delta: 1 }), 'spec.actions[0].scale'],
  ['scale min above max', 'incidents', scale({ delta: 1, min: 5, max: 2 }), 'spec.actions[0].scale.min'],
  ['negative replicas', 'incidents', scale({ replicas: -1 }), 'spec.actions[0].scale.replicas'],
  [
    'queue move without a parking queue',
    'incidents',
    drain({ mode: 'move' }),
    'spec.actions[0].queueDrain.parkingQueue',
  ],
  [
    'unknown queue drain mode',
    'incidents',
    drain({ mode: 'delete', parkingQueue: 'p' }),
    'spec.actions[0].queueDrain.mode',
  ],
  [
    'purge without the explicit opt-in',
    'incidents',
    drain({ mode: 'purge' }),
    'spec.actions[0].queueDrain.allowPurge',
  ],
  [
    'purge with allowPurge false',
    'incidents',
    drain({ mode: 'purge', allowPurge: false }),
    'spec.actions[0].queueDrain.allowPurge',
  ],
  [
    'consumer scaling outside waitForConsumers',
    'incidents',
    drain({ mode: 'move', parkingQueue: 'p', scaleConsumers: { delta: 1 } }),
    'spec.actions[0].queueDrain.scaleConsumers',
  ],
  [
    'consumer scaling with replicas and delta',
    'incidents',
    drain({ mode: 'waitForConsumers', scaleConsumers: { replicas: 3, delta: 1 } }),
    'spec.actions[0].queueDrain.scaleConsumers',
  ],
  [
    'connection Secret name not a DNS name',
    'incidents',
    withAction({
      type: 'queueDrain',
      queueDrain: { connectionSecretRef: { name: 'Rabbit_MQ' }, queue: 'q', mode: 'waitForConsumers' },
    }),
    'spec.actions[0].queueDrain.connectionSecretRef.name',
  ],
  [
    'queueReplay without its parameters',
    'incidents',
    withAction({ type: 'queueReplay' }),
    'spec.actions[0].queueReplay',
  ],
  [
    'queueReplay parameters on another action',
    'incidents',
    withAction({
      type: 'rolloutRestart',
      queueReplay: { connectionSecretRef: { name: 'mq' }, parkingQueue: 'p' },
    }),
    'spec.actions[0].queueReplay',
  ],
  [
    'replay without a parking queue',
    'incidents',
    withAction({ type: 'queueReplay', queueReplay: { connectionSecretRef: { name: 'mq' } } }),
    'spec.actions[0].queueReplay.parkingQueue',
  ],
  [
    'replay onto the parking queue itself',
    'incidents',
    replay({ queue: 'orders.parked' }),
    'spec.actions[0].queueReplay.queue',
  ],
  [
    'health check with url and service',
    'incidents',
    http({ url: healthUrl, service: { name: 'api', port: 80 } }),
    'spec.verification.http',
  ],
  ['health check without an endpoint', 'incidents', http({}), 'spec.verification.http'],
  [
    'health check URL with credentials',
    'incidents',
    http({ url: 'http://admin:pw@api:8080/health' }),
    'spec.verification.http.url',
  ],
  ['health check URL not http', 'incidents', http({ url: 'ftp://api/health' }), 'spec.verification.http.url'],
  [
    'health check Service port 0',
    'incidents',
    http({ service: { name: 'api', port: 0 } }),
    'spec.verification.http.service.port',
  ],
  [
    'health check Service name not a DNS label',
    'incidents',
    http({ service: { name: 'api.v1', port: 80 } }),
    'spec.verification.http.service.name',
  ],
  [
    'health check path without a leading slash',
    'incidents',
    http({ service: { name: 'api', port: 80, path: 'health' } }),
    'spec.verification.http.service.path',
  ],
  [
    'health check value without a field',
    'incidents',
    http({ url: healthUrl, expectedValue: 'ok' }),
    'spec.verification.http.expectedValue',
  ],
  [
    'health check field without a value',
    'incidents',
    http({ url: healthUrl, jsonPath: 'status' }),
    'spec.verification.http.expectedValue',
  ],
  [
    'health check field path with spaces',
    'incidents',
    http({ url: healthUrl, jsonPath: 'checks db', expectedValue: 'up' }),
    'spec.verification.http.jsonPath',
  ],
  [
    'health check status out of range',
    'incidents',
    http({ url: healthUrl, expectedStatus: 700 }),
    'spec.verification.http.expectedStatus',
  ],
  [
    'health check interval not a duration',
    'incidents',
    http({ url: healthUrl, interval: 'often' }),
    'spec.verification.http.interval',
  ],
  [
    'purge without opt-in in a policy',
    'remediationpolicies',
    policy({
      actions: [
        {
          type: 'queueDrain',
          queueDrain: { connectionSecretRef: { name: 'mq' }, queue: 'q', mode: 'purge' },
        },
      ],
    }),
    'spec.actions[0].queueDrain.allowPurge',
  ],
  ['actions and policyRef together', 'incidents', incident({ policyRef: { name: 'p' } }), 'spec.policyRef'],
  [
    'unsupported target kind',
    'incidents',
    incident({ target: { kind: 'CronJob', name: 'api' } }),
    'spec.target.kind',
  ],
  [
    'target name not a DNS name',
    'incidents',
    incident({ target: { kind: 'Deployment', name: 'API_v2' } }),
    'spec.target.name',
  ],
  ['unknown source type', 'incidents', incident({ source: { type: 'pagerduty' } }), 'spec.source.type'],
  [
    'alert source without alert name',
    'incidents',
    incident({ source: { type: 'alertmanager' } }),
    'spec.source.alertName',
  ],
  [
    'fingerprint not hex',
    'incidents',
    incident({ source: { ...alertSource, fingerprint: 'not-hex!' } }),
    'spec.source.fingerprint',
  ],
  [
    'startsAt not a timestamp',
    'incidents',
    incident({ source: { ...alertSource, startsAt: 'yesterday' } }),
    'spec.source.startsAt',
  ],
  [
    'post-mortem URL not http(s)',
    'incidents',
    incident({ postMortem: { url: 'ftp://docs/pm' } }),
    'spec.postMortem.url',
  ],
  [
    'bad holdFor duration',
    'incidents',
    incident({ verification: { holdFor: '15 min' } }),
    'spec.verification.holdFor',
  ],
  [
    'unknown receiver type',
    'incidents',
    incident({ escalation: receiver('email') }),
    'spec.escalation.levels[0].receivers[0].type',
  ],
  [
    'escalation without levels',
    'incidents',
    incident({ escalation: { levels: [] } }),
    'spec.escalation.levels',
  ],
  [
    'bad matcher operator',
    'remediationpolicies',
    policy({ match: { alertName: 'A', labels: [{ name: 'x', operator: '==', value: 'y' }] } }),
    'spec.match.labels[0].operator',
  ],
  [
    'matcher label name empty',
    'remediationpolicies',
    policy({ match: { alertName: 'A', labels: [{ name: '', value: 'y' }] } }),
    'spec.match.labels[0].name',
  ],
  ['missing alert name', 'remediationpolicies', policy({ match: {} }), 'spec.match.alertName'],
  [
    'target name given two ways',
    'remediationpolicies',
    policy({ target: { name: 'api', nameFromLabel: 'deployment' } }),
    'spec.target',
  ],
  [
    'target name given no way',
    'remediationpolicies',
    policy({ target: { kind: 'Deployment' } }),
    'spec.target',
  ],
  [
    'severity mapping outside P1-P4',
    'remediationpolicies',
    policy({ severity: { mapping: { critical: 'P0' } } }),
    'spec.severity.mapping',
  ],
  [
    'fixed severity and mapping together',
    'remediationpolicies',
    policy({ severity: { value: 'P1', mapping: { critical: 'P1' } } }),
    'spec.severity.mapping',
  ],
  [
    'zero max attempts',
    'remediationpolicies',
    policy({ guards: { maxAttempts: 0 } }),
    'spec.guards.maxAttempts',
  ],
  ['bad cooldown', 'remediationpolicies', policy({ guards: { cooldown: 'soon' } }), 'spec.guards.cooldown'],
  ['no actions', 'remediationpolicies', policy({ actions: [] }), 'spec.actions'],
  [
    'an update without a message',
    'incidents',
    incident({ updates: [{ time: '2026-08-01T10:00:00Z', author: 'alice', message: '' }] }),
    'spec.updates[0].message',
  ],
  [
    'an update without an author',
    'incidents',
    incident({ updates: [{ time: '2026-08-01T10:00:00Z', message: 'investigating' }] }),
    'spec.updates[0].author',
  ],
  [
    'an update whose time is not a timestamp',
    'incidents',
    incident({ updates: [{ time: "10 o'clock", author: 'alice', message: 'investigating' }] }),
    'spec.updates[0].time',
  ],
  [
    'an over-long update',
    'incidents',
    incident({ updates: [{ time: '2026-08-01T10:00:00Z', author: 'alice', message: long(2049) }] }),
    'spec.updates[0].message',
  ],
  [
    'more than 100 updates',
    'incidents',
    incident({
      updates: Array.from({ length: 101 }, () => ({
        time: '2026-08-01T10:00:00Z',
        author: 'a',
        message: 'm',
      })),
    }),
    'spec.updates',
  ],
  [
    'an empty role',
    'incidents',
    incident({ roles: { incidentCommander: '' } }),
    'spec.roles.incidentCommander',
  ],
  ['an over-long role', 'incidents', incident({ roles: { scribe: long(254) } }), 'spec.roles.scribe'],
  [
    'a signing secret for a PagerDuty receiver',
    'incidents',
    incident({
      escalation: receiver('pagerduty', { signingSecretKey: 'hmac' }),
    }),
    'spec.escalation.levels[0].receivers[0].signingSecretKey',
  ],
  [
    'a status channel that is a pager',
    'incidents',
    incident({ escalation: receiver('pagerduty', { purpose: 'status' }) }),
    'spec.escalation.levels[0].receivers[0].purpose',
  ],
  [
    'a signing secret key that is no Secret key',
    'remediationpolicies',
    policy({
      escalation: escalationTo({
        name: 'hook',
        type: 'webhook',
        secretRef: { name: 'h', key: 'url' },
        signingSecretKey: 'a key',
      }),
    }),
    'spec.escalation.levels[0].receivers[0].signingSecretKey',
  ],
  // The public side: bounded, never empty or blank, in time order.
  ['empty public message', 'incidents', withUpdates(publicUpdate('')), 'spec.public.updates[0].message'],
  [
    'blank public message',
    'incidents',
    withUpdates(publicUpdate(' \n\t ')),
    'spec.public.updates[0].message',
  ],
  [
    'over-long public message',
    'incidents',
    withUpdates(publicUpdate(long(2001))),
    'spec.public.updates[0].message',
  ],
  ['over-long public title', 'incidents', withPublic({ title: long(201) }), 'spec.public.title'],
  ['blank public title', 'incidents', withPublic({ title: '   ' }), 'spec.public.title'],
  ['unknown impact', 'incidents', withPublic({ impact: 'meltdown' }), 'spec.public.impact'],
  [
    'unknown public update status',
    'incidents',
    withUpdates(publicUpdate('x', '2026-08-01T10:00:00Z', 'fixed')),
    'spec.public.updates[0].status',
  ],
  [
    'public update time not a timestamp',
    'incidents',
    withUpdates(publicUpdate('x', 'now')),
    'spec.public.updates[0].time',
  ],
  [
    'public side without updates',
    'incidents',
    incident({ public: { title: 'Slow API' } }),
    'spec.public.updates',
  ],
  ['public side with an empty update list', 'incidents', withUpdates(), 'spec.public.updates'],
  [
    'public updates out of time order',
    'incidents',
    withUpdates(
      publicUpdate('later', '2026-08-01T11:00:00Z'),
      publicUpdate('earlier', '2026-08-01T10:00:00Z'),
    ),
    'spec.public.updates',
  ],
  [
    'too many public updates',
    'incidents',
    withUpdates(...Array.from({ length: 101 }, () => publicUpdate('x'))),
    'spec.public.updates',
  ],
  [
    'affected component not an object name',
    'incidents',
    withPublic({ components: ['Content API'] }),
    'spec.public.components[0]',
  ],
  [
    'the same component twice',
    'incidents',
    withPublic({ components: ['api', 'api'] }),
    'spec.public.components[1]',
  ],
  [
    'policy template without a message',
    'remediationpolicies',
    policy({ public: { title: 'Slow API' } }),
    'spec.public.message',
  ],
  [
    'policy template with a blank message',
    'remediationpolicies',
    policyPublic({ message: '  ' }),
    'spec.public.message',
  ],
  [
    'policy template over-long message',
    'remediationpolicies',
    policyPublic({ message: long(2001) }),
    'spec.public.message',
  ],
  [
    'policy template unknown impact',
    'remediationpolicies',
    policyPublic({ impact: 'bad' }),
    'spec.public.impact',
  ],
  ['component without a display name', 'statuscomponents', {}, 'spec.displayName'],
  [
    'component with an empty display name',
    'statuscomponents',
    component({ displayName: '' }),
    'spec.displayName',
  ],
  [
    'component with a blank display name',
    'statuscomponents',
    component({ displayName: '  ' }),
    'spec.displayName',
  ],
  [
    'component with an over-long display name',
    'statuscomponents',
    component({ displayName: long(101) }),
    'spec.displayName',
  ],
  [
    'component with an over-long description',
    'statuscomponents',
    component({ description: long(501) }),
    'spec.description',
  ],
  // Every tenant duration is bounded: each becomes a timer, a deadline or a request the operator holds.
  [
    'an HTTP check timeout over 30s',
    'incidents',
    http({ url: healthUrl, timeout: '500h' }),
    'spec.verification.http.timeout: Invalid value: "500h": must be at most 30s',
  ],
  [
    'an HTTP check interval under 1s',
    'incidents',
    http({ url: healthUrl, interval: '10ms' }),
    'spec.verification.http.interval',
  ],
  [
    'a verification timeout over 24h',
    'incidents',
    incident({ verification: { alertResolved: true, timeout: '25h' } }),
    'spec.verification.timeout',
  ],
  [
    'a queue drain timeout over 24h',
    'incidents',
    drain({ mode: 'purge', allowPurge: true, timeout: '1000h' }),
    'spec.actions[0].queueDrain.timeout',
  ],
  [
    'a policy cooldown over 168h',
    'remediationpolicies',
    policy({ guards: { cooldown: '169h' } }),
    'spec.guards.cooldown',
  ],
  ['component with a negative order', 'statuscomponents', component({ order: -1 }), 'spec.order'],
  [
    'component covering an unsupported workload kind',
    'statuscomponents',
    component({ workloads: [{ kind: 'CronJob', name: 'nightly' }] }),
    'spec.workloads[0].kind',
  ],
  [
    'component covering too many alerts',
    'statuscomponents',
    component({ alertNames: Array.from({ length: 33 }, (_, i) => `Alert${i}`) }),
    'spec.alertNames',
  ],
];

const first = publicUpdate('We are looking into slow responses.', '2026-08-01T10:00:00Z');
const second = publicUpdate('We found the cause.', '2026-08-01T10:20:00Z', 'identified');

describe('the API server refuses invalid objects, naming the field', () => {
  it.each(invalidOnCreate)('create: %s', async (_what, plural, spec, field) => {
    const { code, message } = await refusal(create(plural, spec));
    expect(code).toBe(422);
    expect(message).toContain(field);
  });

  // [what, valid spec at creation, the invalid change, the field the message must name]
  const invalidChanges: [string, Json, Json, string][] = [
    [
      'changed fingerprint',
      incident({ source: alertSource }),
      { source: { ...alertSource, fingerprint: 'ffff' } },
      'spec.source',
    ],
    ['changed source type', incident({ source: alertSource }), { source: { type: 'manual' } }, 'spec.source'],
    [
      'removed acknowledgedBy',
      incident({ acknowledgedBy: 'alice' }),
      { acknowledgedBy: null },
      'spec.acknowledgedBy',
    ],
    [
      'changed acknowledgedBy',
      incident({ acknowledgedBy: 'alice' }),
      { acknowledgedBy: 'mallory' },
      'spec.acknowledgedBy',
    ],
    [
      'removed resolution',
      incident({ resolution: { resolvedBy: 'alice' } }),
      { resolution: null },
      'spec.resolution',
    ],
    [
      'changed resolution',
      incident({ resolution: { resolvedBy: 'alice' } }),
      { resolution: { resolvedBy: 'bob' } },
      'spec.resolution',
    ],
    ['changed target', incident(), { target: { kind: 'Deployment', name: 'web' } }, 'spec.target'],
    ['removed target', incident(), { target: null }, 'spec.target'],
    [
      'reopened post-mortem',
      incident({ postMortem: { completed: true } }),
      { postMortem: { completed: false } },
      'spec.postMortem.completed',
    ],
    [
      'removed post-mortem',
      incident({ postMortem: { url: 'https://docs/pm' } }),
      { postMortem: null },
      'spec.postMortem',
    ],
    [
      'changed an earlier public update',
      withUpdates(first, second),
      { public: { updates: [{ ...first, message: 'Nothing happened.' }, second] } },
      'spec.public.updates',
    ],
    [
      'removed a public update',
      withUpdates(first, second),
      { public: { updates: [first] } },
      'spec.public.updates',
    ],
    [
      'inserted a public update before the last',
      withUpdates(first, second),
      { public: { updates: [first, publicUpdate('in between', '2026-08-01T10:10:00Z'), second] } },
      'spec.public.updates',
    ],
    ['removed the public side', withUpdates(first), { public: null }, 'spec.public'],
  ];
  const update = (author: string, message: string) => ({ time: '2026-08-01T10:00:00Z', author, message });
  const twoUpdates = incident({ updates: [update('alice', 'investigating'), update('bob', 'rolling back')] });
  invalidChanges.push(
    [
      'an edited update',
      twoUpdates,
      { updates: [update('alice', 'investigating'), update('bob', 'all fine, nothing happened')] },
      'spec.updates',
    ],
    ['a removed update', twoUpdates, { updates: [update('bob', 'rolling back')] }, 'spec.updates'],
    [
      'reordered updates',
      twoUpdates,
      { updates: [update('bob', 'rolling back'), update('alice', 'investigating')] },
      'spec.updates',
    ],
    ['all updates removed', twoUpdates, { updates: null }, 'spec.updates'],
  );
  it.each(invalidChanges)('update: %s', async (_what, valid, change, field) => {
    const name = await create('incidents', valid);
    const { code, message } = await refusal(patchSpec('incidents', name, change));
    expect(code).toBe(422);
    expect(message).toContain(field);
  });
});

describe('valid changes a person makes are accepted', () => {
  it('acknowledges, resolves and records the post-mortem of an incident, one step at a time', async () => {
    const name = await create('incidents', incident());
    await patchSpec('incidents', name, { acknowledgedBy: 'alice' });
    await patchSpec('incidents', name, { resolution: { resolvedBy: 'alice', note: 'restarted by hand' } });
    await patchSpec('incidents', name, { postMortem: { url: 'https://wiki.example.com/pm/1' } });
    await patchSpec('incidents', name, {
      postMortem: { url: 'https://wiki.example.com/pm/1', completed: true },
    });
    await patchSpec('incidents', name, { severity: 'P1' });
    const stored = await read('incidents', name);
    expect(stored.spec).toMatchObject({
      severity: 'P1',
      acknowledgedBy: 'alice',
      resolution: { resolvedBy: 'alice', note: 'restarted by hand' },
      postMortem: { url: 'https://wiki.example.com/pm/1', completed: true },
    });
  });

  it('appends public updates one at a time, and changes the impact and the components as things develop', async () => {
    const name = await create('incidents', incident());
    await patchSpec('incidents', name, { public: { updates: [first] } });
    await patchSpec('incidents', name, {
      public: {
        title: 'Slow responses',
        impact: 'partial_outage',
        components: ['contentgen'],
        updates: [first, second],
      },
    });
    await patchSpec('incidents', name, {
      public: { impact: 'degraded_performance', components: ['contentgen', 'web'], updates: [first, second] },
    });
    // As docs/status-page.md shows: a JSON patch appends to the list the API server holds.
    const resolved = publicUpdate('Resolved.', '2026-08-01T11:00:00Z', 'resolved');
    await objects.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: 'incidents',
        name,
        body: [{ op: 'add', path: '/spec/public/updates/-', value: resolved }],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const late = publicUpdate('Posted with an old time.', '2026-08-01T10:30:00Z', 'monitoring');
    const { message } = await refusal(
      objects.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: 'incidents',
          name,
          body: [{ op: 'add', path: '/spec/public/updates/-', value: late }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    expect(message).toContain('spec.public.updates: Invalid value: public updates must be in time order');
    const stored = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'incidents',
      name,
    })) as { spec: Json };
    expect(stored.spec.public).toEqual({
      title: 'Slow responses',
      impact: 'degraded_performance',
      components: ['contentgen', 'web'],
      updates: [first, second, resolved],
    });
  });

  it('accepts a public message of exactly the largest size, and any text in it', async () => {
    await create('incidents', withUpdates(publicUpdate(`<script>alert(1)</script> ${long(1974)}`)));
    await create(
      'remediationpolicies',
      policyPublic({ title: long(200), impact: 'major_outage', components: ['api'] }),
    );
  });

  it('stores a StatusComponent with its default order', async () => {
    const name = await create(
      'statuscomponents',
      component({
        description: 'Generates articles.',
        workloads: [{ name: 'contentgen-api' }],
        alertNames: ['ContentGenLatencyHigh'],
      }),
    );
    const stored = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'statuscomponents',
      name,
    })) as { spec: Json };
    expect(stored.spec).toEqual({
      displayName: 'Content generation API',
      description: 'Generates articles.',
      order: 100,
      workloads: [{ kind: 'Deployment', name: 'contentgen-api' }],
      alertNames: ['ContentGenLatencyHigh'],
    });
  });

  it('appends updates, assigns and hands over roles, and takes a signed webhook receiver', async () => {
    const first = { time: '2026-08-01T10:00:00Z', author: 'alice', message: 'investigating' };
    const second = { time: '2026-08-01T10:30:00.123Z', author: 'bob', message: 'rolled back; watching' };
    const name = await create(
      'incidents',
      incident({
        updates: [first],
        roles: { incidentCommander: 'alice' },
        escalation: escalationTo({
          name: 'hook',
          type: 'webhook',
          secretRef: { name: 'h', key: 'url' },
          signingSecretKey: 'signing-secret',
        }),
      }),
    );
    await patchSpec('incidents', name, { updates: [first, second] });
    await patchSpec('incidents', name, {
      roles: { incidentCommander: 'carol', communicationsLead: 'bob', technicalLead: 'dave', scribe: 'erin' },
    });
    const stored = await read('incidents', name);
    expect(stored.spec).toMatchObject({
      updates: [first, second],
      roles: { incidentCommander: 'carol', communicationsLead: 'bob', technicalLead: 'dave', scribe: 'erin' },
    });
  });

  it('accepts the queue actions and the HTTP health check, and fills their defaults', async () => {
    const name = await create(
      'incidents',
      incident({
        actions: [
          {
            type: 'queueDrain',
            queueDrain: {
              connectionSecretRef: { name: 'mq' },
              queue: 'orders',
              parkingQueue: 'orders.parked',
            },
          },
          {
            type: 'queueDrain',
            queueDrain: {
              connectionSecretRef: { name: 'mq' },
              queue: 'orders',
              mode: 'purge',
              allowPurge: true,
            },
          },
          {
            type: 'queueDrain',
            queueDrain: {
              connectionSecretRef: { name: 'mq' },
              queue: 'orders',
              mode: 'waitForConsumers',
              threshold: 100,
              scaleConsumers: { delta: 2, max: 10 },
            },
          },
          {
            type: 'queueReplay',
            queueReplay: {
              connectionSecretRef: { name: 'mq' },
              parkingQueue: 'orders.parked',
              queue: 'orders',
            },
          },
        ],
        verification: {
          http: {
            service: { name: 'api', port: 8080, path: '/api/v1/health' },
            jsonPath: 'checks[0].status',
            expectedValue: 'ok',
          },
        },
      }),
    );
    const stored = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'incidents',
      name,
    })) as { spec: Json };
    expect(stored.spec).toMatchObject({
      actions: [
        { queueDrain: { vhost: '/', mode: 'move', threshold: 0, allowPurge: false, timeout: '10m' } },
        { queueDrain: { mode: 'purge', allowPurge: true } },
        { queueDrain: { mode: 'waitForConsumers', scaleConsumers: { delta: 2, max: 10 } } },
        { queueReplay: { vhost: '/', parkingQueue: 'orders.parked', queue: 'orders', timeout: '10m' } },
      ],
      verification: {
        http: {
          service: { name: 'api', port: 8080, path: '/api/v1/health', scheme: 'http' },
          expectedStatus: 200,
          interval: '10s',
          timeout: '5s',
          holdFor: '1m',
        },
      },
    });
    await create('incidents', http({ url: healthUrl }));
  });

  it('fills the defaults a user would expect', async () => {
    const incidentName = await create('incidents', incident({ verification: {} }));
    const inc = await read('incidents', incidentName);
    expect(inc.spec).toMatchObject({
      source: { type: 'manual' },
      dryRun: false,
      verification: { holdFor: '15m', alertResolved: false, timeout: '30m' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const policyName = await create('remediationpolicies', policy());
    const pol = await read('remediationpolicies', policyName);
    expect(pol.spec).toMatchObject({
      severity: { fromLabel: 'severity', default: 'P3' },
      guards: { maxAttempts: 3, cooldown: '30m', maxPerHour: 3 },
      dryRun: false,
      match: { labels: [{ operator: '=' }] },
    });
  });
});

describe('the status people read: checklist and context', () => {
  const patchStatus = (name: string, status: Json) =>
    objects.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural: 'incidents', name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

  it('holds a checklist of the playbook steps and a short context', async () => {
    const name = await create('incidents', incident());
    const status = {
      checklist: [
        { name: 'Acknowledged', done: true, detail: 'by alice at 10:04Z' },
        { name: 'SeveritySet', done: true },
        { name: 'RolesAssigned', done: false, detail: 'no communications lead' },
        { name: 'StakeholdersNotified', done: false },
        { name: 'ServiceRestored', done: false },
        { name: 'PostMortemScheduled', done: false },
      ],
      context: ['deployed revision 7 at 09:48Z, 12 min before the alert', '1/3 replicas ready'],
    };
    await patchStatus(name, status);
    const stored = await read('incidents', name);
    expect(stored.status).toMatchObject(status);
  });

  it.each<[string, Json, string]>([
    [
      'an unknown checklist item',
      { checklist: [{ name: 'CoffeeMade', done: true }] },
      'status.checklist[0].name',
    ],
    [
      'a checklist item twice',
      {
        checklist: [
          { name: 'Acknowledged', done: true },
          { name: 'Acknowledged', done: false },
        ],
      },
      'status.checklist[1]',
    ],
    ['a checklist item without done', { checklist: [{ name: 'Acknowledged' }] }, 'status.checklist[0].done'],
    ['an over-long fact', { context: [long(257)] }, 'status.context[0]'],
    ['more than 10 facts', { context: Array.from({ length: 11 }, () => 'fact') }, 'status.context'],
    [
      'an acknowledge event of the ledger with an unknown state',
      {
        notifications: [
          {
            id: 'pager/acknowledge/1',
            receiver: 'pager',
            event: 'acknowledge',
            state: 'Sent',
            attempts: 1,
            recordedAt: '2026-08-01T10:00:00Z',
          },
        ],
      },
      'status.notifications[0].state',
    ],
  ])('refuses %s', async (_what, status, field) => {
    const name = await create('incidents', incident());
    const { code, message } = await refusal(patchStatus(name, status));
    expect(code).toBe(422);
    expect(message).toContain(field);
  });
});
