/** The parts of a Grafana dashboard the tests read. */
export interface Dashboard {
  panels: {
    id: number;
    type: string;
    title: string;
    datasource?: unknown;
    targets?: { refId: string; expr: string; instant?: boolean; legendFormat?: string }[];
  }[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
  /** Grafana runs it once, at the end of the range (a stat or bar gauge); else over the range. */
  instant: boolean;
}

/** Every query of every panel, named "<panel title> <refId>" when a panel has several. */
export function dashboardQueries(dashboard: Dashboard): PanelQuery[] {
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: (p.targets?.length ?? 0) > 1 ? `${p.title} ${t.refId}` : p.title,
      refId: t.refId,
      expr: t.expr,
      instant: t.instant === true,
    })),
  );
}

export interface PromSeries {
  metric: Record<string, string>;
  /** [unix seconds, value] pairs; one pair for an instant query. */
  values: [number, string][];
}

/** The Prometheus HTTP API, as Grafana and people use it: instant and range queries, label values. */
export class PrometheusApi {
  private readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  private async get<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params))
      for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
    const res = await fetch(`${this.url}${path}?${search.toString()}`);
    const body = (await res.json()) as { status: string; data?: T; error?: string };
    if (body.status !== 'success' || body.data === undefined)
      throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.error ?? res.status}`);
    return body.data;
  }

  async query(expr: string, time: Date): Promise<PromSeries[]> {
    const data = await this.get<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
      '/api/v1/query',
      { query: expr, time: String(time.getTime() / 1000) },
    );
    return data.result.map((r) => ({ metric: r.metric, values: [r.value] }));
  }

  async queryRange(expr: string, start: Date, end: Date, stepSeconds: number): Promise<PromSeries[]> {
    const data = await this.get<{ result: PromSeries[] }>('/api/v1/query_range', {
      query: expr,
      start: String(start.getTime() / 1000),
      end: String(end.getTime() / 1000),
      step: String(stepSeconds),
    });
    return data.result;
  }

  labelValues(label: string, match: string, start: Date, end: Date): Promise<string[]> {
    return this.get<string[]>(`/api/v1/label/${label}/values`, {
      'match[]': match,
      start: String(start.getTime() / 1000),
      end: String(end.getTime() / 1000),
    });
  }

  rules(): Promise<{
    groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[];
  }> {
    return this.get('/api/v1/rules', {});
  }
}

/** Samples that are numbers (histogram_quantile over no observations gives NaN: an empty panel). */
export const finiteSamples = (series: PromSeries[]) =>
  series.flatMap((s) => s.values.map(([, v]) => Number(v))).filter((v) => Number.isFinite(v));
