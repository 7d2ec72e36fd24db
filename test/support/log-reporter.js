// A Jest reporter that names the control-plane and service logs under each failing integration or
// e2e test file, so a red run says where to look. (Plain JS: Jest loads reporters untransformed.)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export default class LogReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onTestResult(test, result) {
    if (result.numFailingTests === 0 && !result.testExecError) return;
    const tier = relative(this.rootDir, test.path).split('/')[1];
    const root = process.env.SELFHEAL_TEST_STATE_ROOT ?? join(this.rootDir, '.tmp');
    const envFile = join(root, `test-${tier}`, 'env.json');
    if (!existsSync(envFile)) return;
    const env = JSON.parse(readFileSync(envFile, 'utf8'));
    const logs = {
      ...(env.controlPlane?.logs ?? {}),
      ...(env.rabbitmq ? { rabbitmq: env.rabbitmq.log } : {}),
      ...(env.prometheus ? { prometheus: env.prometheus.log } : {}),
      ...(env.alertmanager ? { alertmanager: env.alertmanager.log } : {}),
    };
    const operators = join(root, `test-${tier}`, 'operators');
    if (existsSync(operators))
      for (const f of readdirSync(operators)) logs[`operator ${f}`] = join(operators, f);
    const lines = Object.entries(logs).map(([name, file]) => `  ${name}: ${file}`);
    process.stderr.write(
      `\nLogs for ${relative(this.rootDir, test.path)} (${tier} tier):\n${lines.join('\n')}\n`,
    );
  }
}
