// The benchmarks' one entry point: `npm run bench -- <scenario|all> [--smoke] [--results=<dir>]
// [--name=value ...]`. Scenarios are the modules of bench/scenarios/ (each default-exports a
// Scenario). For each one run it prints the table, writes <results>/<scenario>-<UTC time>.json and
// the scenario's SVG plots next to it, and the run exits non-zero if any scenario threw.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { processesMarkedFor } from '../hack/localenv/process.ts';
import { REPO_ROOT } from '../hack/localenv/tools.ts';
import { benchStateDir } from './lib/env.ts';
import { markdownTable } from './lib/table.ts';
import type { Scenario } from './scenario.ts';

const SCENARIOS_DIR = join(REPO_ROOT, 'bench', 'scenarios');
const USAGE = 'usage: npm run bench -- <scenario|all> [--smoke] [--results=<dir>] [--name=value ...]';

function isScenario(value: unknown): value is Scenario {
  const s = value as Partial<Scenario> | undefined;
  return typeof s?.name === 'string' && typeof s.description === 'string' && typeof s.run === 'function';
}

async function loadScenarios(): Promise<Scenario[]> {
  const files = readdirSync(SCENARIOS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const scenarios: Scenario[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(SCENARIOS_DIR, file)).href)) as { default?: unknown };
    if (!isScenario(module.default))
      throw new Error(
        `bench/scenarios/${file}: its default export is not a scenario { name, description, run }`,
      );
    if (module.default.name !== basename(file, '.ts'))
      throw new Error(
        `bench/scenarios/${file}: the scenario is named "${module.default.name}", not after its file`,
      );
    scenarios.push(module.default);
  }
  return scenarios;
}

interface Args {
  target: string;
  smoke: boolean;
  resultsDir: string;
  params: Record<string, string>;
}

function parseArgs(argv: string[]): Args {
  const [target, ...rest] = argv;
  if (!target || target.startsWith('--')) throw new Error(USAGE);
  const args: Args = { target, smoke: false, resultsDir: join(REPO_ROOT, 'bench', 'results'), params: {} };
  for (const arg of rest) {
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) throw new Error(`unexpected argument "${arg}": ${USAGE}`);
    const [, name, value] = match;
    if (name === 'smoke' && value === undefined) args.smoke = true;
    else if (name === 'results' && value) args.resultsDir = resolve(value);
    else if (value === undefined) throw new Error(`--${name} needs a value (--${name}=...)`);
    else args.params[name] = value;
  }
  return args;
}

const timestamp = (date: Date) =>
  date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

function machine() {
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

async function runOne(scenario: Scenario, args: Args): Promise<boolean> {
  const log = (line: string) => process.stderr.write(`[${scenario.name}] ${line}\n`);
  const known = scenario.params;
  if (known && args.target !== 'all') {
    const unknown = Object.keys(args.params).filter((p) => !Object.hasOwn(known, p));
    if (unknown.length)
      throw new Error(
        `${scenario.name} takes no ${unknown.map((u) => `--${u}`).join(', ')}; it takes: ${Object.keys(known)
          .map((k) => `--${k} (${known[k] ?? ''})`)
          .join(', ')}`,
      );
  }
  // Under `all`, a parameter goes to the scenarios that take it (and to those that do not declare).
  const params = Object.fromEntries(
    Object.entries(args.params).filter(([p]) => !known || Object.hasOwn(known, p)),
  );
  const started = new Date();
  const machineBefore = machine();
  log(
    `${scenario.description}${args.smoke ? ' (smoke)' : ''}; load average ${machineBefore.loadAverage.join(' ')}`,
  );
  try {
    const result = await scenario.run({ smoke: args.smoke, resultsDir: args.resultsDir, params, log });
    const finished = new Date();
    const stem = `${scenario.name}-${timestamp(started)}`;
    mkdirSync(args.resultsDir, { recursive: true });
    const plots = (result.plots ?? []).map((p) => ({ ...p, file: `${stem}-${p.file}` }));
    for (const plot of plots) writeFileSync(join(args.resultsDir, plot.file), plot.svg);
    const file = join(args.resultsDir, `${stem}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          scenario: scenario.name,
          description: scenario.description,
          command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
          smoke: args.smoke,
          params,
          startedAt: started.toISOString(),
          durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
          machine: { ...machineBefore, loadAverageAfter: machine().loadAverage },
          rows: result.rows,
          plots: plots.map((p) => p.file),
          results: result.json,
        },
        null,
        2,
      )}\n`,
    );
    process.stdout.write(`\n## ${scenario.name}\n\n${markdownTable(result.rows)}\n\n`);
    log(`done in ${Math.round((finished.getTime() - started.getTime()) / 1000)} s: ${file}`);
    return true;
  } catch (error) {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return false;
  } finally {
    // A scenario stops what it started; anything of its environment still running ends here.
    killEnvironment(scenario.name);
  }
}

function killEnvironment(scenario: string): void {
  for (const pid of processesMarkedFor(benchStateDir(scenario)))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
}

async function main(): Promise<number> {
  if (process.argv.includes('--help')) {
    const scenarios = await loadScenarios();
    console.log([USAGE, '', ...scenarios.map((s) => `  ${s.name.padEnd(18)} ${s.description}`)].join('\n'));
    return 0;
  }
  const args = parseArgs(process.argv.slice(2));
  const scenarios = await loadScenarios();
  // Ctrl-C: end every process of every scenario's environment before exiting.
  const interrupted = (signal: NodeJS.Signals) => {
    for (const s of scenarios) killEnvironment(s.name);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const chosen = args.target === 'all' ? scenarios : scenarios.filter((s) => s.name === args.target);
  if (chosen.length === 0)
    throw new Error(
      `no scenario "${args.target}"; there are: all, ${scenarios.map((s) => s.name).join(', ')}`,
    );
  const failed: string[] = [];
  for (const scenario of chosen) if (!(await runOne(scenario, args))) failed.push(scenario.name);
  if (failed.length) process.stderr.write(`\nfailed: ${failed.join(', ')}\n`);
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
