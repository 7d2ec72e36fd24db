// PromQL over the Prometheus HTTP API (GET /api/v1/query), through axios.
import axios, { type AxiosInstance } from 'axios';
import { errorMessage } from '../telemetry/logger.ts';

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

export class PrometheusClient implements PromQL {
  private readonly http: AxiosInstance;
  private readonly baseUrl: string;

  constructor(baseUrl: string, timeoutMs = 5_000) {
    this.baseUrl = baseUrl;
    this.http = axios.create({ baseURL: baseUrl, timeout: timeoutMs, validateStatus: () => true });
  }

  async query(expression: string): Promise<PromQLResult> {
    let response;
    try {
      response = await this.http.get<QueryResponse>('/api/v1/query', { params: { query: expression } });
    } catch (error) {
      throw new Error(`Prometheus at ${this.baseUrl} unreachable: ${errorMessage(error)}`, { cause: error });
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
