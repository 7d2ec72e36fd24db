// `kubectl incident`: reads the command line, finds the command in the table, runs it, and turns
// every error into a message that says what to do next. Exit codes: 0 done, 1 failed, 2 bad usage.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { IncidentsClient, loadKubeConfig } from './client.ts';
import { COMMANDS, type Command, type Invocation, type OptionSpec } from './commands.ts';
import { CliError, UsageError } from './errors.ts';
import { forTerminal } from './terminal.ts';

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
}

const GLOBAL: Record<string, OptionSpec> = {
  namespace: {
    type: 'string',
    short: 'n',
    value: 'NS',
    help: "the namespace (default: the context's, else default)",
  },
  kubeconfig: {
    type: 'string',
    value: 'FILE',
    help: 'the kubeconfig (default: KUBECONFIG, else ~/.kube/config)',
  },
  context: { type: 'string', value: 'NAME', help: 'the kubeconfig context to use' },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

const parseConfig = (specs: Record<string, OptionSpec>): ParseArgsOptionsConfig =>
  Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [
      name,
      { type: s.type, ...(s.short ? { short: s.short } : {}) },
    ]),
  );

function optionLines(specs: Record<string, OptionSpec>): string[] {
  return Object.entries(specs).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.value ? ` ${s.value}` : ''}`;
    return `  ${flag.padEnd(30)} ${s.help}`;
  });
}

const usageLine = (c: Command) =>
  `kubectl incident ${c.name}${c.args.map((a) => ` ${a}`).join('')}${Object.keys(c.options).length ? ' [options]' : ''}`;

export function overview(): string {
  return [
    'kubectl incident: work selfheal incidents from the command line',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
    '',
    'Options for every command:',
    ...optionLines(GLOBAL),
    '',
    "kubectl incident COMMAND --help shows a command's options.",
  ].join('\n');
}

export function commandHelp(c: Command): string {
  return [
    usageLine(c),
    '',
    c.summary,
    ...(Object.keys(c.options).length ? ['', 'Options:', ...optionLines(c.options)] : []),
    '',
    'Options for every command:',
    ...optionLines(GLOBAL),
    '',
    'Examples:',
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** parseArgs' complaint, in the plugin's words. */
function usageProblem(error: unknown, command: Command | undefined): UsageError {
  const text = (error as Error).message;
  const unknown = /Unknown option '([^']+)'/.exec(text)?.[1];
  const see = command ? `see: kubectl incident ${command.name} --help` : 'see: kubectl incident --help';
  if (unknown)
    return new UsageError(`unknown option ${unknown}${command ? ` for ${command.name}` : ''}`, see);
  const missing = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument (?:missing|is ambiguous)/.exec(text)?.[1];
  if (missing)
    return new UsageError(
      `option ${missing} needs a value (one that starts with "-" is written ${missing}=-...)`,
      see,
    );
  return new UsageError(text, see);
}

export async function runCli(
  argv: string[],
  screen: Terminal,
  now: () => Date = () => new Date(),
): Promise<number> {
  // The one way out: what other people wrote never reaches the terminal as control sequences.
  const terminal: Terminal = {
    out: (text) => screen.out(forTerminal(text)),
    err: (text) => screen.err(forTerminal(text)),
  };
  let command: Command | undefined;
  try {
    // First pass: only to find the command among the global options.
    const first = parseArgs({
      args: argv,
      options: parseConfig(GLOBAL),
      strict: false,
      allowPositionals: true,
    });
    const name = first.positionals[0];
    if (name === undefined) {
      if (first.values.help) terminal.out(overview());
      else terminal.err(overview());
      return first.values.help ? 0 : 2;
    }
    command = COMMANDS.find((c) => c.name === name);
    if (!command)
      throw new UsageError(
        `unknown command "${name}"`,
        `commands: ${COMMANDS.map((c) => c.name).join(', ')}`,
      );
    const found = command;
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: parseConfig({ ...GLOBAL, ...found.options }),
        strict: true,
        allowPositionals: true,
      });
    } catch (error) {
      throw usageProblem(error, found);
    }
    const values = parsed.values as Record<string, string | boolean | undefined>;
    if (values.help) {
      terminal.out(commandHelp(found));
      return 0;
    }
    const positionals = parsed.positionals.slice(1);
    if (positionals.length < found.args.length)
      throw new UsageError(
        `${found.name} needs ${found.args.slice(positionals.length).join(' ')}`,
        `usage: ${usageLine(found)}`,
        ...(found.args.includes('NAME') ? ['list the incidents with: kubectl incident list'] : []),
      );
    if (positionals.length > found.args.length)
      throw new UsageError(
        `unexpected argument "${positionals[found.args.length] ?? ''}"`,
        `usage: ${usageLine(found)}`,
      );
    const str = (option: string) => {
      const v = values[option];
      return typeof v === 'string' ? v : undefined;
    };
    let client: IncidentsClient | undefined;
    const invocation: Invocation = {
      arg: (argName) => positionals[found.args.indexOf(argName)] ?? '',
      string: str,
      flag: (option) => values[option] === true,
      get client() {
        client ??= new IncidentsClient(
          loadKubeConfig({
            ...(str('kubeconfig') ? { kubeconfig: str('kubeconfig') } : {}),
            ...(str('context') ? { context: str('context') } : {}),
          }),
          str('namespace'),
        );
        return client;
      },
      out: (text) => terminal.out(text),
      now,
    };
    await found.run(invocation);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    terminal.err(`error: ${error.message}`);
    for (const hint of error.hints) terminal.err(hint);
    return error instanceof UsageError ? 2 : 1;
  }
}
