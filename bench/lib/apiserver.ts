// What the API server itself says about the requests it served: `apiserver_request_total` from its
// /metrics (every client together, by verb and resource), and its audit log (each request with the
// user agent that sent it, so one client's requests can be told from the rest).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { HttpClient } from './http.ts';

export type RequestCounts = Record<string, number>;

/** "verb resource[/subresource]", e.g. "PATCH incidents/status" or "patch incidents/status". */
const requestKey = (verb: string, resource: string, subresource: string | undefined) =>
  `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;

/** `apiserver_request_total` summed by verb and resource, as the API server counts them now. */
export async function requestTotals(api: HttpClient): Promise<RequestCounts> {
  const reply = await api.request('GET', '/metrics');
  if (reply.status !== 200) throw new Error(`GET /metrics of the API server: HTTP ${reply.status}`);
  const totals: RequestCounts = {};
  for (const line of reply.body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const key = requestKey(labels.verb ?? '', labels.resource ?? '', labels.subresource);
    totals[key] = (totals[key] ?? 0) + value;
  }
  return totals;
}

/** after - before, without the zeros. */
export function countsDiff(before: RequestCounts, after: RequestCounts): RequestCounts {
  const diff: RequestCounts = {};
  for (const [key, value] of Object.entries(after)) {
    const d = value - (before[key] ?? 0);
    if (d !== 0) diff[key] = d;
  }
  return diff;
}

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
}

/** The audit log (JSON lines) from a byte offset on: read the requests logged since a mark. */
export class AuditLog {
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  /** Where the log ends now. */
  mark(): number {
    return statSync(this.file).size;
  }

  /**
   * Requests logged between two marks whose user agent starts with `userAgentPrefix`, by verb and
   * resource (each request once, though a watch logs when it starts and when it ends); those the
   * API server refused are counted apart, under their status code ("patch incidents/status 409").
   */
  requests(
    from: number,
    to: number,
    userAgentPrefix: string,
    /** Only requests received strictly within this span (epoch ms). */
    within?: { after: number; before: number },
  ): RequestCounts {
    const counts: RequestCounts = {};
    const seen = new Set<string>();
    const fd = openSync(this.file, 'r');
    try {
      const buffer = Buffer.alloc(to - from);
      readSync(fd, buffer, 0, buffer.length, from);
      for (const line of buffer.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const event = JSON.parse(line) as AuditEvent;
        if (!event.userAgent?.startsWith(userAgentPrefix) || seen.has(event.auditID)) continue;
        const received = new Date(event.requestReceivedTimestamp ?? 0).getTime();
        if (within && !(received > within.after && received < within.before)) continue;
        seen.add(event.auditID);
        const key = requestKey(
          event.verb,
          event.objectRef?.resource ?? '(none)',
          event.objectRef?.subresource,
        );
        counts[key] = (counts[key] ?? 0) + 1;
      }
    } finally {
      closeSync(fd);
    }
    return counts;
  }
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/**
 * Splits audit counts into object writes (that the API server carried out), refused writes (a
 * conflict, say), reads, Event writes and leader-election (Lease) requests.
 */
export function classify(counts: RequestCounts) {
  const pick = (keep: (verb: string, resource: string, refused: boolean) => boolean) =>
    Object.fromEntries(
      Object.entries(counts).filter(([key]) => {
        const [verb = '', resource = '', code] = key.split(' ');
        return keep(verb, resource, code !== undefined);
      }),
    );
  const sum = (c: RequestCounts) => Object.values(c).reduce((a, b) => a + b, 0);
  const isEvent = (resource: string) => resource === 'events';
  const isLease = (resource: string) => resource === 'leases';
  const writes = pick((v, r, refused) => WRITE_VERBS.has(v) && !refused && !isEvent(r) && !isLease(r));
  const refused = pick((v, r, no) => WRITE_VERBS.has(v) && no && !isEvent(r) && !isLease(r));
  const reads = pick((v, r) => !WRITE_VERBS.has(v) && !isEvent(r) && !isLease(r));
  const events = pick((_v, r) => isEvent(r));
  const leases = pick((_v, r) => isLease(r));
  return {
    writes,
    refused,
    reads,
    events,
    leases,
    totals: {
      writes: sum(writes),
      refused: sum(refused),
      reads: sum(reads),
      events: sum(events),
      leases: sum(leases),
    },
  };
}

/** "patch incidents/status ×3, create incidents ×1" for a table cell. */
export const describeCounts = (counts: RequestCounts) =>
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ×${n}`)
    .join(', ') || '-';
