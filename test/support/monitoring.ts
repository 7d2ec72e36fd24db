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
