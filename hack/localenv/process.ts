import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Every process the local environment starts carries this variable, set to its state directory.
 * Children inherit it (Erlang's epmd and beam, for instance), so a later run can find and end
 * everything a killed run left behind by scanning /proc, without trusting pid files.
 */
export const MARKER_VARIABLE = 'SELFHEAL_LOCALENV';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** A long-running child in its own process group, its output in a log file; restartable. */
export class ManagedProcess {
  readonly spec: ProcessSpec;
  private readonly stateDir: string;
  private child: ChildProcess | undefined;
  private exited: number | null = null;

  constructor(spec: ProcessSpec, stateDir: string) {
    this.spec = spec;
    this.stateDir = stateDir;
  }

  get running(): boolean {
    return this.child !== undefined && this.exited === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The exit code once it has exited (128 for a signal), else null. */
  get exitCode(): number | null {
    return this.exited;
  }

  start(): void {
    if (this.running) return;
    const log = openSync(this.spec.logFile, 'a');
    this.exited = null;
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env, [MARKER_VARIABLE]: this.stateDir },
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    // Detached and unref'd: a CLI may start a cluster and exit, leaving it running for later use.
    child.unref();
    child.on('exit', (code, signal) => {
      this.exited = code ?? (signal ? 128 : 0);
    });
    child.on('error', () => {
      this.exited = 127;
    });
    this.child = child;
  }

  /** Fails with the log's tail when the process has already exited. */
  assertAlive(): void {
    if (this.exited !== null) {
      throw new Error(
        `${this.spec.name} exited with code ${this.exited}; log ${this.spec.logFile}:\n${tail(this.spec.logFile)}`,
      );
    }
  }

  /** SIGTERM to the whole process group, SIGKILL after the grace period. */
  async stop(graceMs = 10_000): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
    if (groupAlive(pid)) signalGroup(pid, 'SIGKILL');
    while (groupAlive(pid)) await sleep(20);
    this.child = undefined;
  }

  /** Ends the group at once, the way a crash or `kill -9` would. */
  kill(): void {
    const pid = this.child?.pid;
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Pids of live processes started for the given state directory (by this run or a killed one). */
export function processesMarkedFor(stateDir: string): number[] {
  const needle = `${MARKER_VARIABLE}=${stateDir}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if ((readFileSync(`/proc/${entry}/environ`, 'latin1') + '\0').includes(needle))
        pids.push(Number(entry));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return pids;
}

/**
 * Ends every process started for the state directory, by this run or an earlier one that was
 * killed: SIGTERM first, SIGKILL for what is still there after the grace period. Returns how many.
 */
export async function terminateMarked(stateDir: string, graceMs = 0): Promise<number> {
  const pids = processesMarkedFor(stateDir);
  signalAll(pids, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  let deadline = Date.now() + graceMs;
  while (processesMarkedFor(stateDir).length > 0 && Date.now() < deadline) await sleep(50);
  signalAll(processesMarkedFor(stateDir), 'SIGKILL');
  deadline = Date.now() + 5_000;
  while (processesMarkedFor(stateDir).length > 0 && Date.now() < deadline) await sleep(50);
  return pids.length;
}

/**
 * On Ctrl-C or SIGTERM, SIGKILL everything started for the state directory before this process
 * exits, so an interrupted test run or demo leaves nothing behind.
 */
export function killMarkedOnSignal(stateDir: string): void {
  const handler = (signal: NodeJS.Signals) => {
    signalAll(processesMarkedFor(stateDir), 'SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}
