// The one factory of outbound HTTP clients, so every client has the same bounds: no redirect is
// followed, an answer larger than its cap is cut off while it streams in (never buffered whole) and
// reported as too large, and a request to a tenant-chosen URL goes through the egress guard of its
// namespace. Transport failures are described here too, in our own words: an error's text can carry
// what the far end sent (a certificate's names, a parser's view of the answer), so none is repeated.
import axios, { type AxiosInstance, type AxiosRequestConfig, type CreateAxiosDefaults } from 'axios';
import { egressRefusal, type EgressGuard } from './egress.ts';

export interface OutboundOptions extends Omit<
  CreateAxiosDefaults,
  'maxRedirects' | 'maxContentLength' | 'maxBodyLength' | 'httpAgent' | 'httpsAgent' | 'proxy'
> {
  /** The largest answer read, in bytes (after decompression). */
  maxAnswerBytes: number;
  /** The largest request body sent, in bytes; default: the answer cap. */
  maxRequestBytes?: number;
  /** For a client that only ever talks to one tenant's endpoints: every request is guarded. */
  egress?: EgressGuard;
}

/**
 * The request options that put a request under a namespace's egress guard: its agents (whose
 * lookup checks the connected address), and no proxy from the environment, which would make the
 * proxy the address connected to.
 */
export function guardedRequest(
  guard: EgressGuard,
): Pick<AxiosRequestConfig, 'httpAgent' | 'httpsAgent' | 'proxy'> {
  return { httpAgent: guard.httpAgent, httpsAgent: guard.httpsAgent, proxy: false };
}

export function outboundClient(options: OutboundOptions): AxiosInstance {
  const { maxAnswerBytes, maxRequestBytes, egress, ...defaults } = options;
  return axios.create({
    ...defaults,
    ...(egress ? guardedRequest(egress) : {}),
    // A redirect is an answer like any other: following it would reach a place nobody checked.
    maxRedirects: 0,
    maxContentLength: maxAnswerBytes,
    maxBodyLength: maxRequestBytes ?? maxAnswerBytes,
  });
}

export type TransportProblemKind =
  'timeout' | 'refused' | 'reset' | 'not-found' | 'too-large' | 'egress-refused' | 'tls' | 'other';

const duration = (ms: number) => (ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms} ms`);

/** Why a request got no (usable) answer, in words that contain nothing the far end sent. */
export function transportProblem(
  error: unknown,
  timeoutMs: number,
): { kind: TransportProblemKind; text: string } {
  const refused = egressRefusal(error);
  if (refused) return { kind: 'egress-refused', text: refused.message };
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : '';
  if (code === 'ERR_CANCELED' || code === 'ECONNABORTED' || code === 'ETIMEDOUT')
    return { kind: 'timeout', text: `no answer within ${duration(timeoutMs)}` };
  if (code === 'ECONNREFUSED') return { kind: 'refused', text: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { kind: 'reset', text: 'connection reset' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'not-found', text: 'host not found' };
  // axios' only signal for a cut-off answer; its message holds nothing but our own cap.
  const cap = /^maxContentLength size of ([0-9]+) exceeded/.exec(message)?.[1];
  if (cap) return { kind: 'too-large', text: `the answer was larger than ${cap} bytes and was cut off` };
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL'))
    return { kind: 'tls', text: `TLS failure (${code})` };
  return { kind: 'other', text: `network error${code ? ` (${code})` : ''}` };
}
