// PromQL over the Prometheus HTTP API (GET /api/v1/query), through the outbound client factory. The
// URL is the install's (--prometheus-url); the query may be a tenant's, so the answer is capped.
import type { AxiosInstance } from 'axios';
import { outboundClient, transportProblem } from '../base/outbound.ts';

export interface PromQLResult {
  /** A comparison holds when it returns at least one sample (a scalar: when it is not 0). */
  holds: boolean;
  samples: number;
}

export interface PromQL {
  query(expression: string): Promise<PromQLResult>;
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: 'vector' | 'matrix' | 'scalar' | 'string'; result: unknown };
}

/**
 * The largest query answer read: a verification asks whether a comparison holds, a few series at
 * most; a query that selects far more is cut off while it arrives and reported, never buffered whole.
 */
export const MAX_QUERY_ANSWER_BYTES = 4 * 1024 * 1024;

export class PrometheusClient implements PromQL {
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, timeoutMs = 5_000) {
    this.baseUrl = baseUrl;
    this.timeoutMs = timeoutMs;
    this.http = outboundClient({
      baseURL: baseUrl,
      timeout: timeoutMs,
      maxAnswerBytes: MAX_QUERY_ANSWER_BYTES,
      validateStatus: () => true,
    });
  }

  async query(expression: string): Promise<PromQLResult> {
    let response;
    try {
      response = await this.http.get<QueryResponse>('/api/v1/query', { params: { query: expression } });
    } catch (error) {
      const problem = transportProblem(error, this.timeoutMs);
      throw new Error(
        problem.kind === 'too-large'
          ? `Prometheus at ${this.baseUrl}: ${problem.text}; the query selects too many series (compare, or aggregate, so that it returns a few)`
          : `Prometheus at ${this.baseUrl} unreachable: ${problem.text}`,
        { cause: error },
      );
    }
    const body = response.data;
    if (response.status !== 200 || body.status !== 'success' || !body.data) {
      throw new Error(
        `Prometheus answered ${response.status} to the query: ${body.error ?? JSON.stringify(body).slice(0, 200)}`,
      );
    }
    const { resultType, result } = body.data;
    if (resultType === 'scalar') {
      const [, value] = result as [number, string];
      return { holds: Number(value) !== 0, samples: 1 };
    }
    const samples = Array.isArray(result) ? result.length : 0;
    return { holds: samples > 0, samples };
  }
}
