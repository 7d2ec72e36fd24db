// The local environment from the command line (`npm run cluster -- <command>`):
//   start [--services]   start a control plane (and RabbitMQ, Prometheus, Alertmanager), then exit;
//                        it keeps running in the background
//   stop                 stop everything it started
//   reset                stop and delete its state (kubeconfig, etcd data, logs)
//   status               what is running and where
//   env                  shell lines to point kubectl at it: eval "$(npm run -s cluster -- env)"
// The state lives in .tmp/cluster (SELFHEAL_STATE_DIR overrides it).
import { resolve } from 'node:path';
import { DEFAULT_STATE_DIR, LocalEnv, readEnvInfo } from './env.ts';
import { processesMarkedFor, terminateMarked } from './process.ts';
import { locateTools } from './tools.ts';

const stateDir = resolve(process.env.SELFHEAL_STATE_DIR ?? DEFAULT_STATE_DIR);
const [command = 'status', ...flags] = process.argv.slice(2);

async function main(): Promise<void> {
  switch (command) {
    case 'start': {
      const started = Date.now();
      const env = await LocalEnv.start(stateDir, { services: flags.includes('--services') });
      console.log(`local environment up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      printEnv(env.info.kubeconfig);
      return;
    }
    case 'stop': {
      const stopped = await terminateMarked(stateDir, 15_000);
      console.log(`stopped ${stopped} processes of ${stateDir}`);
      return;
    }
    case 'reset':
      await LocalEnv.reset(stateDir);
      console.log(`stopped and removed ${stateDir}`);
      return;
    case 'status': {
      const pids = processesMarkedFor(stateDir);
      console.log(`${pids.length} processes running for ${stateDir}`);
      if (pids.length > 0) console.log(JSON.stringify(readEnvInfo(stateDir), null, 2));
      return;
    }
    case 'env':
      printEnv(readEnvInfo(stateDir).kubeconfig);
      return;
    default:
      throw new Error(`unknown command "${command}": use start [--services] | stop | reset | status | env`);
  }
}

function printEnv(kubeconfig: string): void {
  const kubectl = locateTools().binaries.kubectl;
  console.log(`export KUBECONFIG=${kubeconfig}`);
  console.log(`alias kubectl=${kubectl}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
