import { describe, expect, it } from '@jest/globals';
import { incidentNameFor, labelsFingerprint } from '../../src/alerts/identity.ts';
import {
  isZeroTime,
  parseAlertmanagerPayload,
  parseRfc3339,
  zeroTime,
  type ReceivedAlert,
} from '../../src/alerts/payload.ts';

type Json = Record<string, unknown>;

/** One firing alert as Alertmanager 0.25 sends it. */
function rawAlert(overrides: Json = {}): Json {
  return {
    status: 'firing',
    labels: { alertname: 'QueueBacklog', namespace: 'shop', queue: 'orders', severity: 'warning' },
    annotations: { summary: 'orders backlog above 1000' },
    startsAt: '2026-08-01T10:00:00Z',
    endsAt: zeroTime,
    generatorURL: 'http://prometheus:9090/graph?g0.expr=rabbitmq_queue_messages%3E1000',
    fingerprint: 'c1a2b3d4e5f60718',
    ...overrides,
  };
}

/** A webhook body as Alertmanager 0.25 sends it: no notification_reason, no routeLabels. */
function body(overrides: Json = {}, alerts: unknown = [rawAlert()]): Json {
  return {
    version: '4',
    groupKey: '{}/{alertname="QueueBacklog"}:{alertname="QueueBacklog"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'selfheal',
    groupLabels: { alertname: 'QueueBacklog' },
    commonLabels: { alertname: 'QueueBacklog', namespace: 'shop' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts,
    ...overrides,
  };
}

function parsedAlerts(input: unknown): ReceivedAlert[] {
  const result = parseAlertmanagerPayload(input);
  if (!result.ok) throw new Error(`expected a valid payload, got ${result.errors.join('; ')}`);
  return result.alerts;
}

function errorsOf(input: unknown): string[] {
  const result = parseAlertmanagerPayload(input);
  if (result.ok) throw new Error('expected the payload to be rejected');
  return result.errors;
}

describe('parseRfc3339', () => {
  it.each([
    ['2026-08-01T10:00:00Z', '2026-08-01T10:00:00.000Z'],
    ['2026-08-01T10:00:00.5Z', '2026-08-01T10:00:00.500Z'],
    ['2026-08-01T10:00:00.123456789Z', '2026-08-01T10:00:00.123Z'],
    // Truncated, not rounded: the instant stays within the second it was written in.
    ['2026-08-01T10:00:59.999999999Z', '2026-08-01T10:00:59.999Z'],
    ['2026-08-01T10:00:00+02:00', '2026-08-01T08:00:00.000Z'],
    ['2026-08-01T00:30:00.25-01:30', '2026-08-01T02:00:00.250Z'],
    ['2026-08-01t10:00:00z', '2026-08-01T10:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    [zeroTime, '0001-01-01T00:00:00.000Z'],
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseRfc3339(text)?.toISOString()).toBe(iso);
  });

  it.each([
    'yesterday',
    '',
    '2026-08-01',
    '2026-08-01T10:00:00',
    '2026-08-01T10:00Z',
    '2026-08-01 10:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-01T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-08-01T24:00:00Z',
    '2026-08-01T10:60:00Z',
    '2026-08-01T10:00:60Z',
    '2026-08-01T10:00:00.Z',
    '2026-08-01T10:00:00+0200',
    '2026-08-01T10:00:00+24:00',
    '2026-08-01T10:00:00Z ',
    '1785578400',
  ])('%j is not an RFC 3339 time', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it.each([
    [zeroTime, true],
    ['0001-01-01T00:00:00.000000000Z', true],
    ['0001-01-01T02:00:00+02:00', true],
    ['0001-01-01T00:00:00.001Z', false],
    ['2026-08-01T10:00:00Z', false],
    ['not a time', false],
  ])('isZeroTime(%s) is %s', (text, zero) => {
    expect(isZeroTime(text)).toBe(zero);
  });
});

describe('parseAlertmanagerPayload accepts', () => {
  it('a firing alert from Alertmanager 0.25', () => {
    expect(parseAlertmanagerPayload(body())).toEqual({
      ok: true,
      truncatedAlerts: 0,
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'QueueBacklog', namespace: 'shop', queue: 'orders', severity: 'warning' },
          annotations: { summary: 'orders backlog above 1000' },
          startsAt: '2026-08-01T10:00:00.000Z',
          generatorURL: 'http://prometheus:9090/graph?g0.expr=rabbitmq_queue_messages%3E1000',
          fingerprint: 'c1a2b3d4e5f60718',
        },
      ],
    });
  });

  it('the zero endsAt of a firing alert as no endsAt at all', () => {
    const [alert] = parsedAlerts(body());
    expect(alert).not.toHaveProperty('endsAt');
  });

  it('a newer Alertmanager with fields it does not know, at the top and in alerts', () => {
    const newer = body(
      {
        notification_reason: 'new_alerts',
        routeLabels: { receiver: 'selfheal' },
        truncatedAlerts: 3,
        somethingFromTheFuture: { nested: [1, 2, 3] },
      },
      [rawAlert({ silencedBy: [], inhibitedBy: [], mutedBy: null, labelsHash: 42 })],
    );
    const result = parseAlertmanagerPayload(newer);
    expect(result).toMatchObject({ ok: true, truncatedAlerts: 3 });
    expect(result.ok && result.alerts[0]).toEqual(parsedAlerts(body())[0]);
  });

  it('an older Alertmanager without truncatedAlerts, as none truncated', () => {
    const older = body();
    delete older.truncatedAlerts;
    expect(parseAlertmanagerPayload(older)).toMatchObject({ ok: true, truncatedAlerts: 0 });
  });

  it('nanosecond and offset timestamps, normalized to UTC milliseconds', () => {
    const [alert] = parsedAlerts(
      body({}, [
        rawAlert({
          status: 'resolved',
          startsAt: '2026-08-01T12:00:00.123456789+02:00',
          endsAt: '2026-08-01T10:15:30.987654321Z',
        }),
      ]),
    );
    expect(alert).toMatchObject({ startsAt: '2026-08-01T10:00:00.123Z', endsAt: '2026-08-01T10:15:30.987Z' });
  });

  it('a resolved alert with its real endsAt', () => {
    const [alert] = parsedAlerts(
      body({ status: 'resolved' }, [rawAlert({ status: 'resolved', endsAt: '2026-08-01T10:20:00Z' })]),
    );
    expect(alert).toMatchObject({ status: 'resolved', endsAt: '2026-08-01T10:20:00.000Z' });
  });

  it.each([
    ['an empty generatorURL', { generatorURL: '' }, (a: ReceivedAlert) => !('generatorURL' in a)],
    ['no generatorURL', { generatorURL: undefined }, (a: ReceivedAlert) => !('generatorURL' in a)],
    ['empty annotations', { annotations: {} }, (a: ReceivedAlert) => Object.keys(a.annotations).length === 0],
    [
      'null annotations',
      { annotations: null },
      (a: ReceivedAlert) => Object.keys(a.annotations).length === 0,
    ],
    [
      'no annotations',
      { annotations: undefined },
      (a: ReceivedAlert) => Object.keys(a.annotations).length === 0,
    ],
    ['no endsAt', { endsAt: undefined }, (a: ReceivedAlert) => !('endsAt' in a)],
    ['an empty endsAt', { endsAt: '' }, (a: ReceivedAlert) => !('endsAt' in a)],
    [
      'an uppercase fingerprint',
      { fingerprint: 'C1A2B3D4E5F60718' },
      (a: ReceivedAlert) => a.fingerprint === 'c1a2b3d4e5f60718',
    ],
    [
      'a 64-digit fingerprint',
      { fingerprint: 'ab'.repeat(32) },
      (a: ReceivedAlert) => a.fingerprint === 'ab'.repeat(32),
    ],
    [
      'a label value of exactly 1024 characters',
      { labels: { alertname: 'A', big: 'x'.repeat(1024) } },
      (a: ReceivedAlert) => a.labels.big?.length === 1024,
    ],
    [
      '1024 characters outside the BMP (2048 UTF-16 units)',
      { labels: { alertname: 'A', emoji: '🔥'.repeat(1024) } },
      (a: ReceivedAlert) => a.labels.emoji === '🔥'.repeat(1024),
    ],
    [
      '64 labels',
      {
        labels: Object.fromEntries([
          ['alertname', 'A'],
          ...Array.from({ length: 63 }, (_, i): [string, string] => [`l${i}`, 'v']),
        ]),
      },
      (a: ReceivedAlert) => Object.keys(a.labels).length === 64,
    ],
    [
      'a label named __proto__, kept as a label',
      { labels: JSON.parse('{"alertname":"A","__proto__":"x"}') as unknown },
      (a: ReceivedAlert) =>
        Object.getPrototypeOf(a.labels) === Object.prototype && Object.keys(a.labels).includes('__proto__'),
    ],
  ])('%s', (_, overrides: Json, check) => {
    const [alert] = parsedAlerts(body({}, [rawAlert(overrides)]));
    expect(alert && check(alert)).toBe(true);
  });

  it('many alerts, in order', () => {
    const alerts = Array.from({ length: 1000 }, (_, i) =>
      rawAlert({ fingerprint: i.toString(16), labels: { alertname: 'A', i: String(i) } }),
    );
    const parsed = parsedAlerts(body({}, alerts));
    expect(parsed).toHaveLength(1000);
    expect(parsed[999]).toMatchObject({ fingerprint: '3e7', labels: { i: '999' } });
  });
});

describe('parseAlertmanagerPayload rejects', () => {
  const alertWith = (overrides: Json): Json => body({}, [rawAlert(overrides)]);
  const withoutField = (field: string): Json => {
    const a = Object.fromEntries(Object.entries(rawAlert()).filter(([key]) => key !== field));
    return body({}, [a]);
  };

  it.each<[string, unknown, string]>([
    ['a JSON array', [], 'body: not a JSON object'],
    ['null', null, 'body: not a JSON object'],
    ['a string', '{"version":"4"}', 'body: not a JSON object'],
    ['version 3', body({ version: '3' }), 'version: must be "4", got "3"'],
    ['version as a number', body({ version: 4 }), 'version: must be "4", got 4'],
    ['no version', body({ version: undefined }), 'version: missing'],
    ['no alerts', body({ alerts: undefined }), 'alerts: missing'],
    ['alerts not a list', body({ alerts: { 0: rawAlert() } }), 'alerts: must be an array, got an object'],
    ['an empty alert list', body({}, []), 'alerts: empty'],
    [
      '1001 alerts',
      body(
        {},
        Array.from({ length: 1001 }, () => rawAlert()),
      ),
      'alerts: 1001 alerts, more than 1000',
    ],
    [
      'a negative truncatedAlerts',
      body({ truncatedAlerts: -1 }),
      'truncatedAlerts: must be a non-negative integer, got -1',
    ],
    [
      'an alert that is a string',
      body({}, [rawAlert(), 'alert']),
      'alerts[1]: not a JSON object, got "alert"',
    ],
    [
      'an unknown status',
      alertWith({ status: 'pending' }),
      'alerts[0].status: must be "firing" or "resolved", got "pending"',
    ],
    ['no status', withoutField('status'), 'alerts[0].status: missing'],
    ['no labels', withoutField('labels'), 'alerts[0].labels: missing'],
    [
      'labels as a list',
      alertWith({ labels: ['alertname=A'] }),
      'alerts[0].labels: must be an object of strings, got an array',
    ],
    ['no alertname', alertWith({ labels: { namespace: 'shop' } }), 'alerts[0].labels.alertname: missing'],
    ['an empty alertname', alertWith({ labels: { alertname: '' } }), 'alerts[0].labels.alertname: empty'],
    [
      'a numeric label value',
      alertWith({ labels: { alertname: 'A', replicas: 3 } }),
      'alerts[0].labels.replicas: must be a string, got 3',
    ],
    [
      'a label value of 2048 characters',
      body({}, [
        rawAlert(),
        rawAlert(),
        rawAlert({ labels: { alertname: 'A', namespace: 'n'.repeat(2048) } }),
      ]),
      'alerts[2].labels.namespace: value is 2048 characters, more than 1024',
    ],
    [
      'an invalid label name',
      alertWith({ labels: { alertname: 'A', 'app.kubernetes.io/name': 'shop' } }),
      'alerts[0].labels["app.kubernetes.io/name"]: invalid label name, must match ^[a-zA-Z_][a-zA-Z0-9_]*$',
    ],
    [
      'a label name starting with a digit',
      alertWith({ labels: { alertname: 'A', '1st': 'x' } }),
      'alerts[0].labels["1st"]: invalid label name',
    ],
    [
      'a label name of 129 characters',
      alertWith({ labels: { alertname: 'A', ['l'.repeat(129)]: 'x' } }),
      'label name is 129 characters, more than 128',
    ],
    [
      '65 labels',
      alertWith({
        labels: Object.fromEntries([
          ['alertname', 'A'],
          ...Array.from({ length: 64 }, (_, i): [string, string] => [`l${i}`, 'v']),
        ]),
      }),
      'alerts[0].labels: 65 labels, more than 64',
    ],
    [
      'annotations as a string',
      alertWith({ annotations: 'summary' }),
      'alerts[0].annotations: must be an object of strings, got "summary"',
    ],
    [
      'a numeric annotation',
      alertWith({ annotations: { value: 1.5 } }),
      'alerts[0].annotations.value: must be a string, got 1.5',
    ],
    [
      'an annotation of 16385 characters',
      alertWith({ annotations: { description: 'd'.repeat(16385) } }),
      'alerts[0].annotations.description: value is 16385 characters, more than 16384',
    ],
    ['no startsAt', withoutField('startsAt'), 'alerts[0].startsAt: missing'],
    [
      'startsAt "yesterday"',
      alertWith({ startsAt: 'yesterday' }),
      'alerts[0].startsAt: "yesterday" is not an RFC 3339 time',
    ],
    [
      'startsAt in month 13',
      alertWith({ startsAt: '2026-13-01T00:00:00Z' }),
      'alerts[0].startsAt: "2026-13-01T00:00:00Z" is not an RFC 3339 time',
    ],
    [
      'startsAt without time',
      alertWith({ startsAt: '2026-08-01' }),
      'alerts[0].startsAt: "2026-08-01" is not an RFC 3339 time',
    ],
    [
      'startsAt without zone',
      alertWith({ startsAt: '2026-08-01T10:00:00' }),
      'alerts[0].startsAt: "2026-08-01T10:00:00" is not an RFC 3339 time',
    ],
    [
      'startsAt as epoch seconds',
      alertWith({ startsAt: 1785578400 }),
      'alerts[0].startsAt: must be a string, got 1785578400',
    ],
    ['startsAt the zero time', alertWith({ startsAt: zeroTime }), 'alerts[0].startsAt: is the zero time'],
    [
      'a malformed endsAt',
      alertWith({ endsAt: 'never' }),
      'alerts[0].endsAt: "never" is not an RFC 3339 time',
    ],
    ['no fingerprint', withoutField('fingerprint'), 'alerts[0].fingerprint: missing'],
    ['an empty fingerprint', alertWith({ fingerprint: '' }), 'alerts[0].fingerprint: empty'],
    [
      'a fingerprint that is not hex',
      alertWith({ fingerprint: 'xyz123' }),
      'alerts[0].fingerprint: "xyz123" is not hexadecimal',
    ],
    [
      'a fingerprint of 65 digits',
      alertWith({ fingerprint: 'a'.repeat(65) }),
      'alerts[0].fingerprint: is 65 characters, more than 64',
    ],
    [
      'a numeric fingerprint',
      alertWith({ fingerprint: 1234 }),
      'alerts[0].fingerprint: must be a string, got 1234',
    ],
    [
      'a generatorURL of 2049 characters',
      alertWith({ generatorURL: `http://p/${'g'.repeat(2040)}` }),
      'alerts[0].generatorURL: is 2049 characters, more than 2048',
    ],
    [
      'a generatorURL that is an object',
      alertWith({ generatorURL: {} }),
      'alerts[0].generatorURL: must be a string, got an object',
    ],
  ])('%s', (_, input, expected) => {
    const errors = errorsOf(input);
    expect(errors).toEqual([expect.stringContaining(expected)]);
  });

  it('with every problem, not only the first', () => {
    const errors = errorsOf(
      body({ version: '3' }, [
        rawAlert({ status: 'pending' }),
        rawAlert(),
        rawAlert({ startsAt: 'yesterday', fingerprint: 'nope' }),
      ]),
    );
    expect(errors).toEqual([
      'version: must be "4", got "3"',
      'alerts[0].status: must be "firing" or "resolved", got "pending"',
      'alerts[2].startsAt: "yesterday" is not an RFC 3339 time',
      'alerts[2].fingerprint: "nope" is not hexadecimal',
    ]);
  });

  it('with at most 20 problems', () => {
    const errors = errorsOf(
      body(
        {},
        Array.from({ length: 50 }, () => rawAlert({ status: 'pending' })),
      ),
    );
    expect(errors).toHaveLength(20);
    expect(errors[19]).toMatch(/^alerts\[19\]\.status: /);
  });

  it('a whole payload when one of its alerts is bad', () => {
    expect(parseAlertmanagerPayload(body({}, [rawAlert(), rawAlert({ fingerprint: 'zz' })])).ok).toBe(false);
  });

  it('with huge values shortened in the message', () => {
    const [error] = errorsOf(alertWith({ startsAt: 'y'.repeat(100_000) }));
    expect(error?.length).toBeLessThan(200);
  });
});

describe('labelsFingerprint', () => {
  /** FNV-1a 64 written out over the serialized bytes, independent of the module's pair loop. */
  function referenceFingerprint(sortedPairs: [string, string][]): string {
    const bytes: number[] = [];
    for (const [name, value] of sortedPairs)
      bytes.push(...Buffer.from(name), 0xff, ...Buffer.from(value), 0xff);
    let hash = 14695981039346656037n;
    for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 1099511628211n);
    return hash.toString(16).padStart(16, '0');
  }

  it.each<[string, Record<string, string>, string]>([
    ['the empty set (the FNV-1a offset basis)', {}, 'cbf29ce484222325'],
    // Computed with model.LabelSet.Fingerprint() of github.com/prometheus/common v0.67.5.
    ['one label', { alertname: 'QueueBacklog' }, '8a3ea7f662b00792'],
    ['three labels', { alertname: 'QueueBacklog', namespace: 'shop', queue: 'orders' }, 'd48055a3bc260ba3'],
    ['an empty value', { b: 'x', a: '' }, 'c5a5302263c79c50'],
    [
      'non-ASCII values',
      { severity: 'critical', service: 'café ☕', alertname: 'HighLatency' },
      '02acd0984d4a5af2',
    ],
  ])('of %s matches Prometheus', (_, labels, expected) => {
    expect(labelsFingerprint(labels)).toBe(expected);
  });

  it('agrees with a straightforward byte-loop implementation', () => {
    const labels = { namespace: 'shop', alertname: 'QueueBacklog' };
    expect(labelsFingerprint(labels)).toBe(
      referenceFingerprint([
        ['alertname', 'QueueBacklog'],
        ['namespace', 'shop'],
      ]),
    );
  });

  it('does not depend on the order of the labels in the object', () => {
    const a = labelsFingerprint({ alertname: 'A', namespace: 'shop', queue: 'orders' });
    expect(labelsFingerprint({ queue: 'orders', alertname: 'A', namespace: 'shop' })).toBe(a);
    expect(labelsFingerprint({ namespace: 'shop', queue: 'orders', alertname: 'A' })).toBe(a);
  });

  it('sorts names by UTF-8 bytes, as Go does', () => {
    // U+FF01 sorts before U+1F600 in UTF-16 units but after it in UTF-8 bytes.
    const labels = { '\u{1F600}': '1', '\uFF01': '2' };
    expect(labelsFingerprint(labels)).toBe(
      referenceFingerprint([
        ['\uFF01', '2'],
        ['\u{1F600}', '1'],
      ]),
    );
  });

  it('tells names and values apart by the separator', () => {
    expect(labelsFingerprint({ a: 'bc' })).not.toBe(labelsFingerprint({ ab: 'c' }));
    expect(labelsFingerprint({ a: 'b' })).not.toBe(labelsFingerprint({ a: 'c' }));
  });

  it('always gives 16 hex digits', () => {
    for (let i = 0; i < 200; i++) expect(labelsFingerprint({ i: String(i) })).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('incidentNameFor', () => {
  const base = {
    labels: { alertname: 'QueueBacklog', namespace: 'shop' },
    fingerprint: 'c1a2b3d4e5f60718',
    startsAt: '2026-08-01T10:00:00Z',
  };
  const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

  it('is <alertname>-<fingerprint>-<start hash>', () => {
    expect(incidentNameFor(base)).toMatch(/^queue-backlog-c1a2b3d4e5f60718-[0-9a-f]{8}$/);
  });

  it.each([
    ['nanoseconds', '2026-08-01T10:00:00.000000000Z'],
    ['milliseconds', '2026-08-01T10:00:00.000Z'],
    ['an offset', '2026-08-01T12:00:00+02:00'],
    ['sub-millisecond digits', '2026-08-01T10:00:00.000999Z'],
  ])('is the same for the same start written with %s', (_, startsAt) => {
    expect(incidentNameFor({ ...base, startsAt })).toBe(incidentNameFor(base));
  });

  it.each([
    ['another start', { startsAt: '2026-08-01T10:00:01Z' }],
    ['another millisecond', { startsAt: '2026-08-01T10:00:00.001Z' }],
    ['another fingerprint', { fingerprint: 'c1a2b3d4e5f60719' }],
  ])('differs for %s', (_, change) => {
    expect(incidentNameFor({ ...base, ...change })).not.toBe(incidentNameFor(base));
  });

  it('takes an uppercase fingerprint as the lowercase one', () => {
    expect(incidentNameFor({ ...base, fingerprint: 'C1A2B3D4E5F60718' })).toBe(incidentNameFor(base));
  });

  it.each([
    ['QueueBacklog', 'QueueBacklog', 'queue-backlog'],
    ['HTTPErrorsHigh', 'HTTPErrorsHigh', 'http-errors-high'],
    ['KubePodCrashLooping', 'KubePodCrashLooping', 'kube-pod-crash-looping'],
    ['node_filesystem_full', 'node_filesystem_full', 'node-filesystem-full'],
    ['symbols around and inside', '  --Disk  Full!!  ', 'disk-full'],
    ['accents', 'Café', 'cafe'],
    ['over 30 characters', 'etcdHighNumberOfFailedGRPCRequests', 'etcd-high-number-of-failed-grp'],
    ['only symbols', '!!!', 'alert'],
    ['no Latin letters', '日本語', 'alert'],
    ['empty', '', 'alert'],
    ['300 characters', 'A'.repeat(300), 'a'.repeat(30)],
    ['a dash at the cut', `${'x'.repeat(29)}-y`, 'x'.repeat(29)],
  ])('starts with the alertname (%s)', (_, alertname, prefix) => {
    const name = incidentNameFor({ ...base, labels: { alertname } });
    expect(name.slice(0, -26)).toBe(prefix);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS1123_LABEL);
  });

  it('cuts a long fingerprint to 16 digits', () => {
    expect(incidentNameFor({ ...base, fingerprint: 'f'.repeat(64) })).toMatch(/-f{16}-[0-9a-f]{8}$/);
  });

  it('uses the label fingerprint when the given one has no hex digits', () => {
    const name = incidentNameFor({ ...base, fingerprint: '' });
    expect(name).toContain(`-${labelsFingerprint(base.labels)}-`);
  });

  it('names every received alert validly', () => {
    for (const alert of parsedAlerts(body())) expect(incidentNameFor(alert)).toMatch(DNS1123_LABEL);
  });
});
