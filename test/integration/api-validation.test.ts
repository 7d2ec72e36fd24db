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
type Kind = 'incidents' | 'remediationpolicies';
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

async function create(plural: Kind, spec: Json): Promise<string> {
  const name = `obj-${++counter}`;
  const kind = plural === 'incidents' ? 'Incident' : 'RemediationPolicy';
  await objects.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind, metadata: { name }, spec },
  });
  return name;
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
const receiver = (type: string) => ({
  levels: [{ after: '0s', receivers: [{ name: 'pager', type, secretRef: { name: 'pd', key: 'key' } }] }],
});

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
    'matcher label name with a dash',
    'remediationpolicies',
    policy({ match: { alertName: 'A', labels: [{ name: 'x-y', value: 'y' }] } }),
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
];

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
  ];
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
    const stored = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'incidents',
      name,
    })) as {
      spec: Json;
    };
    expect(stored.spec).toMatchObject({
      severity: 'P1',
      acknowledgedBy: 'alice',
      resolution: { resolvedBy: 'alice', note: 'restarted by hand' },
      postMortem: { url: 'https://wiki.example.com/pm/1', completed: true },
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
    const inc = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'incidents',
      name: incidentName,
    })) as {
      spec: Json;
    };
    expect(inc.spec).toMatchObject({
      source: { type: 'manual' },
      dryRun: false,
      verification: { holdFor: '15m', alertResolved: false, timeout: '30m' },
      actions: [{ type: 'rolloutRestart' }],
    });
    const policyName = await create('remediationpolicies', policy());
    const pol = (await objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'remediationpolicies',
      name: policyName,
    })) as {
      spec: Json;
    };
    expect(pol.spec).toMatchObject({
      severity: { fromLabel: 'severity', default: 'P3' },
      guards: { maxAttempts: 3, cooldown: '30m', maxPerHour: 3 },
      dryRun: false,
      match: { labels: [{ operator: '=' }] },
    });
  });
});
