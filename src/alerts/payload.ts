// The Alertmanager webhook (version 4) payload, checked and reduced to what incident intake uses.
// Alertmanager versions differ in the fields they send, so unknown fields are ignored and only the
// fields intake reads are required; every rejection names the field and the reason, because the
// only reader of a 400 response is a person looking at Alertmanager's logs.

export interface ReceivedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Normalized ISO 8601 (UTC, millisecond precision). */
  startsAt: string;
  /** Normalized like startsAt; undefined for the zero time Alertmanager sends while the alert fires. */
  endsAt?: string;
  /** Undefined when Alertmanager sent none or an empty string. */
  generatorURL?: string;
  /** Lowercase hex. */
  fingerprint: string;
}

/** One alert of a notification: taken, or refused with what is wrong, each on its own. */
export type AlertEntry =
  { index: number; ok: true; alert: ReceivedAlert } | { index: number; ok: false; errors: string[] };

/** The notification: its alerts one by one, or why the envelope itself is unusable. */
export type ParsedPayload =
  { ok: true; entries: AlertEntry[]; truncatedAlerts: number } | { ok: false; errors: string[] };

/** Go's zero time.Time, which Alertmanager writes as endsAt while an alert is firing. */
export const zeroTime = '0001-01-01T00:00:00Z';
const ZERO_TIME_MS = -62_135_596_800_000;

export const MAX_ALERTS = 1000;
export const MAX_ERRORS = 20;
export const MAX_LABELS = 64;
export const MAX_LABEL_NAME_LENGTH = 128;
/** The Incident CRD's limit on source.labels values, so that a received label always fits there. */
export const MAX_LABEL_VALUE_LENGTH = 1024;
export const MAX_ANNOTATION_VALUE_LENGTH = 16384;
export const MAX_FINGERPRINT_LENGTH = 64;
export const MAX_GENERATOR_URL_LENGTH = 2048;
/** Classic label names; only decides how a name is written in an error path. */
export const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const HEX = /^[0-9a-fA-F]+$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The instant an RFC 3339 timestamp names, or undefined when the text is not one (a date without
 * time or zone, an impossible date such as February 30, free text). Digits below the millisecond
 * are truncated, as a Date cannot hold them; truncating rather than rounding keeps 10:00:00.9999Z
 * within the second it was written in.
 */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Go's time.Parse, which wrote these, rejects leap seconds (60) too.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (!zulu) {
    const offsetHours = Number(oh);
    const offsetMins = Number(om);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const ms = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  // Date.UTC maps years 0-99 onto 1900-1999; setUTCFullYear takes the year as written, which
  // matters for Go's zero time (year 1).
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

/** Whether an RFC 3339 timestamp is Go's zero time, however it is written. */
export function isZeroTime(text: string): boolean {
  return parseRfc3339(text)?.getTime() === ZERO_TIME_MS;
}

/** The value as it goes into an error message: JSON, shortened so that a huge input stays out of logs. */
function show(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (Array.isArray(value)) text = 'an array';
  else if (value !== null && typeof value === 'object') text = 'an object';
  else text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The length of a text longer than limit, or undefined when it fits. Characters are counted as the
 * API server counts them (code points), so that the limits agree with the CRDs'.
 */
function excess(text: string, limit: number): number | undefined {
  // Code points never outnumber UTF-16 units, so a short text needs no counting.
  if (text.length <= limit) return undefined;
  const n = text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
  return n > limit ? n : undefined;
}

/** A path segment for a map key: dotted when it is an identifier, quoted otherwise. */
function keyPath(parent: string, key: string): string {
  return LABEL_NAME_PATTERN.test(key) && key.length <= MAX_LABEL_NAME_LENGTH
    ? `${parent}.${key}`
    : `${parent}[${show(key)}]`;
}

class Problems {
  readonly errors: string[] = [];
  get full(): boolean {
    return this.errors.length >= MAX_ERRORS;
  }
  add(path: string, message: string): void {
    if (!this.full) this.errors.push(`${path}: ${message}`);
  }
}

function stringMapAt(
  value: unknown,
  path: string,
  problems: Problems,
  limits: { maxEntries?: number; maxValueLength: number; labelNames: boolean; noun: string },
): Record<string, string> | undefined {
  if (!isObject(value)) {
    problems.add(path, `must be an object of strings, got ${show(value)}`);
    return undefined;
  }
  const entries = Object.entries(value);
  if (limits.maxEntries !== undefined && entries.length > limits.maxEntries) {
    problems.add(path, `${entries.length} ${limits.noun}, more than ${limits.maxEntries}`);
    return undefined;
  }
  const before = problems.errors.length;
  const out: [string, string][] = [];
  for (const [key, v] of entries) {
    if (problems.full) break;
    const at = keyPath(path, key);
    // Prometheus 3 allows any UTF-8 label name (service.name, http.route): only empty, over-long
    // and malformed (lone surrogate) names are refused.
    if (limits.labelNames && key === '') problems.add(at, 'empty label name');
    else if (limits.labelNames && excess(key, MAX_LABEL_NAME_LENGTH) !== undefined)
      problems.add(
        at,
        `label name is ${excess(key, MAX_LABEL_NAME_LENGTH) ?? key.length} characters, more than ${MAX_LABEL_NAME_LENGTH}`,
      );
    else if (limits.labelNames && !key.isWellFormed()) problems.add(at, 'label name is not valid UTF-8');
    if (typeof v !== 'string') {
      problems.add(at, `must be a string, got ${show(v)}`);
      continue;
    }
    const tooLong = excess(v, limits.maxValueLength);
    if (tooLong !== undefined)
      problems.add(at, `value is ${tooLong} characters, more than ${limits.maxValueLength}`);
    else out.push([key, v]);
  }
  // fromEntries defines own properties, so a label named __proto__ stays a label.
  return problems.errors.length === before ? Object.fromEntries(out) : undefined;
}

function timeAt(value: unknown, path: string, problems: Problems): Date | undefined {
  if (typeof value !== 'string') {
    problems.add(path, value === undefined ? 'missing' : `must be a string, got ${show(value)}`);
    return undefined;
  }
  const date = parseRfc3339(value);
  if (!date) problems.add(path, `${show(value)} is not an RFC 3339 time`);
  return date;
}

function alertAt(value: unknown, path: string, problems: Problems): ReceivedAlert | undefined {
  if (!isObject(value)) {
    problems.add(path, `not a JSON object, got ${show(value)}`);
    return undefined;
  }
  const before = problems.errors.length;

  const status = value.status === 'firing' || value.status === 'resolved' ? value.status : undefined;
  if (!status)
    problems.add(
      `${path}.status`,
      value.status === undefined ? 'missing' : `must be "firing" or "resolved", got ${show(value.status)}`,
    );

  let labels: Record<string, string> | undefined;
  if (value.labels === undefined) problems.add(`${path}.labels`, 'missing');
  else {
    labels = stringMapAt(value.labels, `${path}.labels`, problems, {
      maxEntries: MAX_LABELS,
      maxValueLength: MAX_LABEL_VALUE_LENGTH,
      labelNames: true,
      noun: 'labels',
    });
    if (labels && !labels.alertname)
      problems.add(`${path}.labels.alertname`, labels.alertname === undefined ? 'missing' : 'empty');
  }

  // Optional fields: Go writes an unset map as null, so null is taken as "not sent".
  let annotations: Record<string, string> | undefined = {};
  if (value.annotations !== undefined && value.annotations !== null)
    annotations = stringMapAt(value.annotations, `${path}.annotations`, problems, {
      maxValueLength: MAX_ANNOTATION_VALUE_LENGTH,
      labelNames: false,
      noun: 'annotations',
    });

  const startsAt = timeAt(value.startsAt, `${path}.startsAt`, problems);
  // Alertmanager always sets startsAt; the zero time there means the sender lost it.
  if (startsAt?.getTime() === ZERO_TIME_MS)
    problems.add(`${path}.startsAt`, 'is the zero time, so the alert has no start');

  let endsAt: Date | undefined;
  if (value.endsAt !== undefined && value.endsAt !== null && value.endsAt !== '') {
    endsAt = timeAt(value.endsAt, `${path}.endsAt`, problems);
    if (endsAt?.getTime() === ZERO_TIME_MS) endsAt = undefined;
  }

  let fingerprint: string | undefined;
  const fp = value.fingerprint;
  if (typeof fp !== 'string')
    problems.add(`${path}.fingerprint`, fp === undefined ? 'missing' : `must be a string, got ${show(fp)}`);
  else if (fp === '') problems.add(`${path}.fingerprint`, 'empty');
  else if (fp.length > MAX_FINGERPRINT_LENGTH)
    problems.add(`${path}.fingerprint`, `is ${fp.length} characters, more than ${MAX_FINGERPRINT_LENGTH}`);
  else if (!HEX.test(fp)) problems.add(`${path}.fingerprint`, `${show(fp)} is not hexadecimal`);
  else fingerprint = fp.toLowerCase();

  let generatorURL: string | undefined;
  const url = value.generatorURL;
  if (url !== undefined && url !== null) {
    const tooLong = typeof url === 'string' ? excess(url, MAX_GENERATOR_URL_LENGTH) : undefined;
    if (typeof url !== 'string') problems.add(`${path}.generatorURL`, `must be a string, got ${show(url)}`);
    else if (tooLong !== undefined)
      problems.add(`${path}.generatorURL`, `is ${tooLong} characters, more than ${MAX_GENERATOR_URL_LENGTH}`);
    else if (url !== '') generatorURL = url;
  }

  if (problems.errors.length !== before || !status || !labels || !annotations || !startsAt || !fingerprint)
    return undefined;
  return {
    status,
    labels,
    annotations,
    startsAt: startsAt.toISOString(),
    ...(endsAt ? { endsAt: endsAt.toISOString() } : {}),
    ...(generatorURL !== undefined ? { generatorURL } : {}),
    fingerprint,
  };
}

/**
 * Checks a webhook body (already JSON-decoded). The envelope (version, alerts) must be right, or the
 * whole notification is refused with up to MAX_ERRORS messages `<path>: <what is wrong>`; then each
 * alert is checked on its own, so one bad alert never costs the good ones of its group.
 */
export function parseAlertmanagerPayload(body: unknown): ParsedPayload {
  const problems = new Problems();
  if (!isObject(body)) {
    problems.add('body', `not a JSON object, got ${show(body)}`);
    return { ok: false, errors: problems.errors };
  }

  if (body.version === undefined) problems.add('version', 'missing');
  else if (body.version !== '4') problems.add('version', `must be "4", got ${show(body.version)}`);

  // Alertmanager before 0.22 does not send truncatedAlerts.
  let truncatedAlerts = 0;
  const truncated = body.truncatedAlerts;
  if (truncated !== undefined && truncated !== null) {
    if (typeof truncated !== 'number' || !Number.isSafeInteger(truncated) || truncated < 0)
      problems.add('truncatedAlerts', `must be a non-negative integer, got ${show(truncated)}`);
    else truncatedAlerts = truncated;
  }

  const entries: AlertEntry[] = [];
  const list = body.alerts;
  if (list === undefined) problems.add('alerts', 'missing');
  else if (!Array.isArray(list)) problems.add('alerts', `must be an array, got ${show(list)}`);
  else if (list.length === 0) problems.add('alerts', 'empty, expected at least one alert');
  else if (list.length > MAX_ALERTS) problems.add('alerts', `${list.length} alerts, more than ${MAX_ALERTS}`);
  else
    for (const [index, item] of (list as unknown[]).entries()) {
      const own = new Problems();
      const alert = alertAt(item, `alerts[${index}]`, own);
      entries.push(alert ? { index, ok: true, alert } : { index, ok: false, errors: own.errors });
    }

  if (problems.errors.length > 0) return { ok: false, errors: problems.errors };
  return { ok: true, entries, truncatedAlerts };
}
