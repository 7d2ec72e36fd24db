// Entry point of the kubectl plugin (bin/kubectl-incident runs it on Node 24).
import { errorMessage } from '../telemetry/logger.ts';
import { runCli } from './cli.ts';

try {
  process.exitCode = await runCli(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  });
} catch (error) {
  // A bug, not a person's mistake: say so, with the stack, so it can be reported.
  process.stderr.write(
    `kubectl-incident: unexpected error: ${errorMessage(error)}\n${(error as Error).stack ?? ''}\n`,
  );
  process.exitCode = 1;
}
