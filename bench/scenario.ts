// The contract every benchmark scenario keeps: `bench/scenarios/<name>.ts` exports one of these by
// default, and `bench/run.ts` finds it there, runs it and records what it returns.

/** One row of a scenario's table: column name → value, printed as it is. */
export type Row = Record<string, string | number>;

export interface ScenarioContext {
  /** A small, fast run that shows the scenario works; its figures mean nothing. */
  smoke: boolean;
  /** Where the runner writes the results (the scenario itself need not write there). */
  resultsDir: string;
  /** `--name=value` arguments after the scenario name. */
  params: Record<string, string>;
  log: (line: string) => void;
}

export interface ScenarioResult {
  rows: Row[];
  /** Everything measured, for the results file. */
  json: unknown;
  /** SVG plots, written next to the results file (`file` is a short name such as `latency.svg`). */
  plots?: { file: string; svg: string }[];
}

export interface Scenario {
  name: string;
  description: string;
  /** The `--name=value` parameters it takes, with their help; when given, the runner refuses others. */
  params?: Record<string, string>;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** A whole-number parameter, or its default (the smoke default in a smoke run). */
export function intParam(ctx: ScenarioContext, name: string, normal: number, smoke = normal): number {
  const text = ctx.params[name];
  if (text === undefined) return ctx.smoke ? smoke : normal;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1)
    throw new Error(`--${name}=${text}: must be a whole number of at least 1`);
  return Number(text);
}

/** A comma-separated list of positive numbers, or its default. */
export function listParam(ctx: ScenarioContext, name: string, normal: number[], smoke = normal): number[] {
  const text = ctx.params[name];
  if (text === undefined) return ctx.smoke ? smoke : normal;
  const values = text.split(',').map(Number);
  if (values.some((v) => !(v > 0)))
    throw new Error(`--${name}=${text}: must be a comma-separated list of positive numbers`);
  return values;
}
