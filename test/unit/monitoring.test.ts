import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { CHART_DIR, chartAlerts } from '../../hack/chart.ts';
import { locatePromtool, REPO_ROOT } from '../../hack/localenv/tools.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';
import { dashboardQueries, type Dashboard } from '../support/monitoring.ts';
import { only, renderChart, type KubeObject } from '../support/chart.ts';

const run = promisify(execFile);
const TEST_FILE = join(CHART_DIR, 'monitoring', 'alerts.test.yaml');
const dashboard = JSON.parse(
  readFileSync(join(CHART_DIR, 'monitoring', 'dashboard.json'), 'utf8'),
) as Dashboard;

interface RenderedRule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

/** The PrometheusRule's groups as the chart renders them for the release promtool's tests assume. */
async function renderedRules(): Promise<{ groups: { name: string; rules: RenderedRule[] }[] }> {
  const objects = await renderChart({ prometheusRule: { enabled: true, renderMode: 'alwaysRender' } });
  return (
    only(objects, 'PrometheusRule') as KubeObject & {
      spec: { groups: { name: string; rules: RenderedRule[] }[] };
    }
  ).spec;
}

/** promtool's output, whatever its exit code, so a failure shows what it said. */
async function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(locatePromtool(), args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('the PrometheusRule', () => {
  // helm and promtool run as programs of their own: on two busy cores that takes more than jest's 5 s.
  it('passes promtool check rules and every case of promtool test rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'selfheal-rules-'));
    writeFileSync(join(dir, 'rules.yaml'), stringify(await renderedRules()));
    copyFileSync(TEST_FILE, join(dir, 'alerts.test.yaml'));
    const checked = await promtool(['check', 'rules', 'rules.yaml'], dir);
    expect(checked).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${chartAlerts().length} rules found`),
    });
    const tested = await promtool(['test', 'rules', 'alerts.test.yaml'], dir);
    expect(tested).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  }, 30_000);

  it('has a promtool test case for every alert, and a firing one', () => {
    const tests = (
      parse(readFileSync(TEST_FILE, 'utf8')) as {
        tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test);
    const alerts = chartAlerts().map((a) => a.alert);
    expect([...new Set(tests.map((t) => t.alertname))].sort()).toEqual([...alerts].sort());
    for (const alert of alerts)
      expect({ alert, fires: tests.some((t) => t.alertname === alert && t.exp_alerts.length > 0) }).toEqual({
        alert,
        fires: true,
      });
  });

  it('links every alert to a runbook that exists in docs/runbooks', async () => {
    for (const rule of (await renderedRules()).groups.flatMap((g) => g.rules)) {
      const url = rule.annotations.runbook_url ?? '';
      expect(url).toMatch(
        /^https:\/\/github\.com\/selfheal\/selfheal\/blob\/main\/docs\/runbooks\/[a-z-]+\.md$/,
      );
      const file = join(REPO_ROOT, 'docs', 'runbooks', basename(url));
      expect({ alert: rule.alert, runbook: existsSync(file) }).toEqual({ alert: rule.alert, runbook: true });
      expect(readFileSync(file, 'utf8')).toContain(`# ${rule.alert}`);
    }
  });
});

describe('alerts and dashboard name only metrics the operator exports', () => {
  // What /metrics serves: each metric, and a histogram's _bucket, _sum and _count series.
  const exported = new Set(
    new Metrics().registry
      .getMetricsAsArray()
      .flatMap(({ name, type }) =>
        String(type) === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
      )
      .concat(['up']),
  );
  const metricsIn = (expr: string) =>
    [...expr.matchAll(/\b(selfheal_[a-z0-9_]+|up)\s*[{[(]/g)].map((m) => m[1] ?? '');

  it.each(chartAlerts().map((a) => [a.alert, a.expr]))('%s', (_alert, expr) => {
    const metrics = metricsIn(expr);
    expect(metrics.length).toBeGreaterThan(0);
    for (const metric of metrics)
      expect({ metric, exported: exported.has(metric) }).toEqual({ metric, exported: true });
  });

  it.each(dashboardQueries(dashboard).map((q) => [q.panel, q.expr]))('panel "%s"', (_panel, expr) => {
    const metrics = metricsIn(expr);
    expect(metrics.length).toBeGreaterThan(0);
    for (const metric of metrics)
      expect({ metric, exported: exported.has(metric) }).toEqual({ metric, exported: true });
  });
});

describe('the dashboard', () => {
  it('has the datasource, namespace and pod variables, and every panel filters by them', () => {
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['namespace', 'query'],
      ['pod', 'query'],
    ]);
    for (const { panel, expr } of dashboardQueries(dashboard)) {
      const selectors = [...expr.matchAll(/selfheal_[a-z0-9_]+\{([^}]*)\}/g)].map((m) => m[1] ?? '');
      expect(selectors.length).toBeGreaterThan(0);
      for (const selector of selectors)
        expect({ panel, selector }).toEqual({
          panel,
          selector: expect.stringMatching(/^namespace="\$namespace", pod=~"\$pod"/),
        });
    }
  });

  it('gives every panel a unique id and the datasource variable', () => {
    const panels = dashboard.panels;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels.filter((p) => p.type !== 'row'))
      expect({ panel: p.title, datasource: p.datasource }).toEqual({
        panel: p.title,
        datasource: { type: 'prometheus', uid: '${datasource}' },
      });
  });
});
