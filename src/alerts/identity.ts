// Stable identities for alerts: the fingerprint Prometheus and Alertmanager compute for a label set,
// and the Incident name an episode of a signal maps to. Both must be deterministic, as intake may
// see the same alert many times (Alertmanager repeats notifications, replicas send them twice) and
// the name is what makes creating its Incident idempotent.

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
/** model.SeparatorByte: a byte that cannot occur in UTF-8, so that ("a","bc") and ("ab","c") differ. */
const SEPARATOR = 0xff;

const utf8 = new TextEncoder();

function fnv1aAdd(hash: bigint, bytes: Iterable<number>): bigint {
  let h = hash;
  for (const byte of bytes) h = ((h ^ BigInt(byte)) * FNV64_PRIME) & MASK64;
  return h;
}

/**
 * model.LabelSet.Fingerprint() of prometheus/common, as Alertmanager shows it: FNV-1a 64 over the
 * pairs sorted by name, each as name, 0xff, value, 0xff; 16 lowercase hex digits.
 */
export function labelsFingerprint(labels: Record<string, string>): string {
  // Go sorts names bytewise as UTF-8; JavaScript's default sort compares UTF-16 units, which orders
  // characters above U+FFFF differently, so the bytes themselves are compared.
  const pairs = Object.entries(labels)
    .map(([name, value]) => [utf8.encode(name), utf8.encode(value)] as const)
    .sort(([a], [b]) => Buffer.compare(a, b));
  let hash = FNV64_OFFSET;
  for (const [name, value] of pairs) {
    hash = fnv1aAdd(hash, name);
    hash = fnv1aAdd(hash, [SEPARATOR]);
    hash = fnv1aAdd(hash, value);
    hash = fnv1aAdd(hash, [SEPARATOR]);
  }
  return hash.toString(16).padStart(16, '0');
}

export const MAX_NAME_PREFIX = 30;

/** An alert name as a DNS-1123 label fragment: QueueBacklog → queue-backlog, HTTPErrors → http-errors. */
function namePrefix(alertName: string): string {
  const words = alertName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const prefix = words.slice(0, MAX_NAME_PREFIX).replace(/-+$/, '');
  return prefix || 'alert';
}

/** On Incidents raised from alerts: which incident of its signal this is (1, 2, ...). */
export const EPISODE_LABEL = 'selfheal.dev/episode';

/** The episode number of an incident of a signal; incidents from before episodes count as 0. */
export function episodeOf(incident: { metadata: { labels?: Record<string, string> } }): number {
  const value = Number(incident.metadata.labels?.[EPISODE_LABEL]);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/**
 * The Incident name for an episode of a signal: `<alertname>-<fingerprint[:16]>-<episode>`, at most
 * 63 characters, so it is both a DNS-1123 subdomain and a valid label value. Every sender and replica
 * that reports a new firing of the signal computes the same name for its next episode, whatever
 * start time it saw, so the API server lets exactly one of them create it.
 */
export function incidentNameFor(
  alert: { labels: Record<string, string>; fingerprint: string },
  episode: number,
): string {
  // A fingerprint from a source other than Alertmanager may be missing or not hex; the label set's
  // own fingerprint then stands in, as it identifies the alert just as well.
  const given = alert.fingerprint.toLowerCase().replace(/[^0-9a-f]/g, '');
  const fingerprint = (given || labelsFingerprint(alert.labels)).slice(0, 16);
  return `${namePrefix(alert.labels.alertname ?? '')}-${fingerprint}-${episode}`;
}
