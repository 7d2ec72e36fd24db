import { describe, expect, it } from '@jest/globals';
import { EPISODE_LABEL, episodeOf, incidentNameFor, labelsFingerprint } from '../../src/alerts/identity.ts';
import {
  isZeroTime,
  MAX_ERRORS,
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

/** The alerts of a payload whose every alert is valid. */
function parsedAlerts(input: unknown): ReceivedAlert[] {
  const result = parseAlertmanagerPayload(input);
  if (!result.ok) throw new Error(`expected a valid payload, got ${result.errors.join('; ')}`);
  return result.entries.map((e) => {
    if (!e.ok) throw new Error(`expected alerts[${e.index}] to be valid, got ${e.errors.join('; ')}`);
    return e.alert;
  });
}

/** Why the envelope of a notification is refused (a 400 for the whole request). */
function errorsOf(input: unknown): string[] {
  const result = parseAlertmanagerPayload(input);
  if (result.ok) throw new Error('expected the payload to be rejected');
  return result.errors;
}

/** Why alert `index` of an otherwise valid notification is refused; the other alerts must be fine. */
function alertErrorsOf(input: unknown, index = 0): string[] {
  const result = parseAlertmanagerPayload(input);
  if (!result.ok) throw new Error(`expected the envelope to be valid, got ${result.errors.join('; ')}`);
  const refused = result.entries.filter((e) => !e.ok).map((e) => e.index);
  expect(refused).toEqual([index]);
  const entry = result.entries[index];
  if (!entry || entry.ok) throw new Error(`expected alerts[${index}] to be refused`);
  return entry.errors;
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
      entries: [
        {
          index: 0,
          ok: true,
          alert: {
            status: 'firing',
            labels: { alertname: 'QueueBacklog', namespace: 'shop', queue: 'orders', severity: 'warning' },
            annotations: { summary: 'orders backlog above 1000' },
            startsAt: '2026-08-01T10:00:00.000Z',
            generatorURL: 'http://prometheus:9090/graph?g0.expr=rabbitmq_queue_messages%3E1000',
            fingerprint: 'c1a2b3d4e5f60718',
          },
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
    expect(result.ok && result.entries[0]).toEqual({ index: 0, ok: true, alert: parsedAlerts(body())[0] });
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
      'a dotted UTF-8 label name (OpenTelemetry style)',
      { labels: { alertname: 'A', 'service.name': 'checkout', 'http.route': '/api/v1/cart' } },
      (a: ReceivedAlert) =>
        a.labels['service.name'] === 'checkout' && a.labels['http.route'] === '/api/v1/cart',
    ],
    [
      'a Kubernetes-style label name',
      { labels: { alertname: 'A', 'app.kubernetes.io/name': 'shop' } },
      (a: ReceivedAlert) => a.labels['app.kubernetes.io/name'] === 'shop',
    ],
    [
      'a label name starting with a digit',
      { labels: { alertname: 'A', '1st': 'x' } },
      (a: ReceivedAlert) => a.labels['1st'] === 'x',
    ],
    [
      'a label name outside ASCII',
      { labels: { alertname: 'A', café: 'x', 服务: 'y' } },
      (a: ReceivedAlert) => a.labels['café'] === 'x' && a.labels['服务'] === 'y',
    ],
    [
      'a label name of exactly 128 characters',
      { labels: { alertname: 'A', ['l'.repeat(128)]: 'x' } },
      (a: ReceivedAlert) => a.labels['l'.repeat(128)] === 'x',
    ],
    [
      'a label name of 128 characters outside the BMP (256 UTF-16 units)',
      { labels: { alertname: 'A', ['🔥'.repeat(128)]: 'x' } },
      (a: ReceivedAlert) => a.labels['🔥'.repeat(128)] === 'x',
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

describe('parseAlertmanagerPayload rejects the envelope', () => {
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
  ])('%s', (_, input, expected) => {
    const errors = errorsOf(input);
    expect(errors).toEqual([expect.stringContaining(expected)]);
  });

  it('with only its own problems: a bad envelope is refused whole, whatever its alerts', () => {
    const errors = errorsOf(
      body({ version: '3', truncatedAlerts: 'some' }, [rawAlert({ status: 'pending' }), rawAlert()]),
    );
    expect(errors).toEqual([
      'version: must be "4", got "3"',
      'truncatedAlerts: must be a non-negative integer, got "some"',
    ]);
  });
});

describe('parseAlertmanagerPayload refuses one alert, keeping the others', () => {
  const alertWith = (overrides: Json): Json => body({}, [rawAlert(overrides)]);
  const withoutField = (field: string): Json => {
    const a = Object.fromEntries(Object.entries(rawAlert()).filter(([key]) => key !== field));
    return body({}, [a]);
  };

  it.each<[string, unknown, string, number?]>([
    [
      'an alert that is a string',
      body({}, [rawAlert(), 'alert']),
      'alerts[1]: not a JSON object, got "alert"',
      1,
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
      2,
    ],
    [
      'an empty label name',
      alertWith({ labels: { alertname: 'A', '': 'x' } }),
      'alerts[0].labels[""]: empty label name',
    ],
    [
      'a label name of 129 characters',
      alertWith({ labels: { alertname: 'A', ['l'.repeat(129)]: 'x' } }),
      'label name is 129 characters, more than 128',
    ],
    [
      // The limit counts code points, as the CRDs do; so must the message.
      'a label name of 129 characters outside the BMP',
      alertWith({ labels: { alertname: 'A', ['🔥'.repeat(129)]: 'x' } }),
      'label name is 129 characters, more than 128',
    ],
    [
      'a label name that is not well-formed UTF-8 (a lone surrogate)',
      alertWith({ labels: { alertname: 'A', 'bad\uD800': 'x' } }),
      'alerts[0].labels["bad\\ud800"]: label name is not valid UTF-8',
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
  ])('%s', (_, input, expected, index = 0) => {
    expect(alertErrorsOf(input, index)).toEqual([expect.stringContaining(expected)]);
  });

  it('with every problem of each alert, not only the first, each on its own entry', () => {
    const result = parseAlertmanagerPayload(
      body({}, [
        rawAlert({ status: 'pending' }),
        rawAlert(),
        rawAlert({ startsAt: 'yesterday', fingerprint: 'nope' }),
      ]),
    );
    expect(result).toEqual({
      ok: true,
      truncatedAlerts: 0,
      entries: [
        { index: 0, ok: false, errors: ['alerts[0].status: must be "firing" or "resolved", got "pending"'] },
        { index: 1, ok: true, alert: parsedAlerts(body())[0] },
        {
          index: 2,
          ok: false,
          errors: [
            'alerts[2].startsAt: "yesterday" is not an RFC 3339 time',
            'alerts[2].fingerprint: "nope" is not hexadecimal',
          ],
        },
      ],
    });
  });

  it(`with at most ${MAX_ERRORS} problems per alert`, () => {
    const labels: Record<string, unknown> = Object.fromEntries<unknown>([
      ['alertname', 'A'],
      ...Array.from({ length: 30 }, (_, i): [string, number] => [`l${i}`, i]),
    ]);
    const errors = alertErrorsOf(body({}, [rawAlert({ labels })]));
    expect(errors).toHaveLength(MAX_ERRORS);
    expect(errors[MAX_ERRORS - 1]).toBe(
      `alerts[0].labels.l${MAX_ERRORS - 1}: must be a string, got ${MAX_ERRORS - 1}`,
    );
  });

  it('every bad alert of many, each with its own problem, none capped by the others', () => {
    const result = parseAlertmanagerPayload(
      body(
        {},
        Array.from({ length: 50 }, () => rawAlert({ status: 'pending' })),
      ),
    );
    if (!result.ok) throw new Error('expected a valid envelope');
    expect(result.entries).toHaveLength(50);
    expect(result.entries.every((e) => !e.ok && e.errors.length === 1)).toBe(true);
    expect(result.entries[49]).toMatchObject({
      index: 49,
      ok: false,
      errors: [expect.stringMatching(/^alerts\[49\]\.status: /)],
    });
  });

  it('one bad alert never costs the good ones of its group', () => {
    const result = parseAlertmanagerPayload(
      body({}, [rawAlert(), rawAlert({ fingerprint: 'zz' }), rawAlert()]),
    );
    expect(result.ok && result.entries.map((e) => e.ok)).toEqual([true, false, true]);
  });

  it('with huge values shortened in the message', () => {
    const [error] = alertErrorsOf(alertWith({ startsAt: 'y'.repeat(100_000) }));
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
  };
  const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

  it.each([
    [1, 'queue-backlog-c1a2b3d4e5f60718-1'],
    [2, 'queue-backlog-c1a2b3d4e5f60718-2'],
    [17, 'queue-backlog-c1a2b3d4e5f60718-17'],
  ])('is <alertname>-<fingerprint>-<episode> for episode %i', (episode, name) => {
    expect(incidentNameFor(base, episode)).toBe(name);
  });

  it('is the same whatever start time a sender saw: every sender names the next episode alike', () => {
    const at = (startsAt: string) => {
      const received = { ...base, startsAt };
      return incidentNameFor(received, 3);
    };
    expect(at('2026-08-01T10:00:00Z')).toBe(incidentNameFor(base, 3));
    expect(at('2026-08-01T10:00:07.5Z')).toBe(incidentNameFor(base, 3));
  });

  it.each([
    ['another episode', base, 2],
    ['another fingerprint', { ...base, fingerprint: 'c1a2b3d4e5f60719' }, 1],
  ])('differs for %s', (_, alert, episode) => {
    expect(incidentNameFor(alert, episode)).not.toBe(incidentNameFor(base, 1));
  });

  it('takes an uppercase fingerprint as the lowercase one', () => {
    expect(incidentNameFor({ ...base, fingerprint: 'C1A2B3D4E5F60718' }, 1)).toBe(incidentNameFor(base, 1));
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
    const name = incidentNameFor({ ...base, labels: { alertname } }, 1);
    expect(name).toBe(`${prefix}-${base.fingerprint}-1`);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS1123_LABEL);
  });

  it('stays a valid name of at most 63 characters with the longest prefix and a large episode', () => {
    const name = incidentNameFor({ ...base, labels: { alertname: 'A'.repeat(300) } }, 999_999_999);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS1123_LABEL);
  });

  it('cuts a long fingerprint to 16 digits', () => {
    expect(incidentNameFor({ ...base, fingerprint: 'f'.repeat(64) }, 1)).toMatch(/-f{16}-1$/);
  });

  it('uses the label fingerprint when the given one has no hex digits', () => {
    const name = incidentNameFor({ ...base, fingerprint: '' }, 1);
    expect(name).toContain(`-${labelsFingerprint(base.labels)}-`);
  });

  it('names every received alert validly', () => {
    for (const alert of parsedAlerts(body())) expect(incidentNameFor(alert, 1)).toMatch(DNS1123_LABEL);
  });
});

describe('episodeOf', () => {
  it.each<[string, Record<string, string> | undefined, number]>([
    ['episode 1', { [EPISODE_LABEL]: '1' }, 1],
    ['episode 12', { [EPISODE_LABEL]: '12' }, 12],
    ['no labels (an incident from before episodes)', undefined, 0],
    ['no episode label', { other: '3' }, 0],
    ['an empty label', { [EPISODE_LABEL]: '' }, 0],
    ['zero', { [EPISODE_LABEL]: '0' }, 0],
    ['a negative number', { [EPISODE_LABEL]: '-2' }, 0],
    ['a fraction', { [EPISODE_LABEL]: '1.5' }, 0],
    ['a word', { [EPISODE_LABEL]: 'two' }, 0],
  ])('of %s is %i', (_, labels, episode) => {
    expect(episodeOf({ metadata: labels ? { labels } : {} })).toBe(episode);
  });
});
