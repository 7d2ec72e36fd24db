// Configuration and wiring only: every part is built here and handed what it needs.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { CoordinationV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ACTIONS } from './actions/registry.ts';
import { AlertIntake } from './alerts/intake.ts';
import { PrometheusAlertPoller } from './alerts/poller.ts';
import { KubeIncidentStore } from './alerts/store.ts';
import { AlertWebhook } from './alerts/webhook.ts';
import { KubeWorkloadClient } from './actions/workloads.ts';
import { GROUP, VERSION } from './api/group.ts';
import type { Incident } from './api/incident.ts';
import type { RemediationPolicy } from './api/policy.ts';
import { ConfigError, helpText, parseConfig, type OperatorConfig } from './config.ts';
import { IncidentReconciler, incidentReader } from './incidents/reconciler.ts';
import { systemClock } from './runtime/clock.ts';
import { Controller } from './runtime/controller.ts';
import { KubeEventRecorder } from './runtime/events.ts';
import {
  keyOf,
  SupervisedInformer,
  watchNamespaces,
  type CachedObject,
  type SupervisedInformerOptions,
} from './runtime/informer.ts';
import { LeaderElector } from './runtime/leader.ts';
import { KubeStatusWriter } from './runtime/status.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { HealthServer } from './telemetry/server.ts';
import { PrometheusClient } from './verify/prometheus.ts';

const CONTROLLER = 'selfheal.dev/incident-controller';

function loadKubeConfig(config: OperatorConfig): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

/** Lists a custom resource in one namespace, or in all of them when `namespace` is undefined. */
function customObjectLister(
  kc: KubeConfig,
  plural: string,
  namespace: string | undefined,
): () => Promise<{ items: unknown[] }> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const request = { group: GROUP, version: VERSION, plural };
  return async () =>
    (await (namespace === undefined
      ? api.listClusterCustomObject(request)
      : api.listNamespacedCustomObject({ ...request, namespace }))) as { items: unknown[] };
}

/** Crash-safety tests end the process at a named point (SELFHEAL_FAULT=exit-after-intent|exit-after-effect). */
function faultPoint(logger: Logger): ((point: 'after-intent' | 'after-effect') => void) | undefined {
  const fault = process.env.SELFHEAL_FAULT;
  if (!fault) return undefined;
  logger.warn({ fault }, 'fault injection armed (tests only)');
  return (point) => {
    if (fault === `exit-${point}`) {
      logger.warn({ point }, 'fault injection: killing the process');
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

async function main(): Promise<void> {
  // Policy label matchers are regular expressions from users; V8 then falls back to its linear-time
  // engine when one would backtrack catastrophically, as Alertmanager's RE2 never does.
  setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  if (process.argv.includes('--help')) {
    console.log(helpText());
    return;
  }
  const config = parseConfig(process.argv.slice(2));
  const logger = createLogger({ level: config.logLevel });
  const identity = `${config.identity}-${randomBytes(3).toString('hex')}`;
  const kc = loadKubeConfig(config);
  const metrics = new Metrics();
  const clock = systemClock;
  // Every namespace, or one informer per --watch-namespaces entry behind the same cache interface.
  const watch = <T extends CachedObject>(
    plural: string,
    handlers: Pick<SupervisedInformerOptions<T>, 'onChange' | 'onResync'>,
  ) =>
    watchNamespaces<T>(
      config.watchNamespaces,
      (namespace) =>
        new SupervisedInformer<T>({
          kc,
          path: `/apis/${GROUP}/${VERSION}${namespace === undefined ? '' : `/namespaces/${namespace}`}/${plural}`,
          list: customObjectLister(kc, plural, namespace),
          logger,
          ...handlers,
        }),
    );

  const incidents = watch<Incident>('incidents', {
    onChange: (key) => controller.enqueue(key),
    onResync: () => controller.enqueueAll(),
  });
  const policies = watch<RemediationPolicy>('remediationpolicies', {
    // A policy change matters to the incidents that refer to it.
    onChange: (_key, policy) => {
      for (const incident of incidents.list(policy.metadata.namespace)) {
        if (incident.spec.policyRef?.name === policy.metadata.name) controller.enqueue(keyOf(incident));
      }
    },
  });

  let leading = !config.leaderElection.enabled;
  const fault = faultPoint(logger);
  const reconciler = new IncidentReconciler({
    incidents,
    policies,
    workloads: new KubeWorkloadClient(kc),
    status: new KubeStatusWriter(kc, 'selfheal'),
    events: new KubeEventRecorder(kc, { controller: CONTROLLER, instance: identity, clock, logger }),
    readIncident: incidentReader(kc),
    actions: ACTIONS,
    settings: config.incidents,
    ...(config.prometheus.url ? { prometheus: new PrometheusClient(config.prometheus.url) } : {}),
    clock,
    logger,
    metrics,
    isLeader: () => leading,
    ...(fault ? { faultPoint: fault } : {}),
  });
  const controller = new Controller({
    name: 'incidents',
    reconciler,
    workers: config.workers,
    logger,
    metrics,
    // Per-key retry backoff: client-go's 5 ms doubling, capped at a minute rather than 1000 s.
    backoff: { baseMs: 5, maxMs: 60_000 },
    allKeys: () => incidents.list().map(keyOf),
  });
  metrics.incidentSource = () =>
    incidents.list().map((i) => ({ severity: i.spec.severity, phase: i.status?.phase ?? 'New' }));

  const health = new HealthServer({
    registry: metrics.registry,
    notReady: () => [
      ...(incidents.hasSynced ? [] : ['incidents cache']),
      ...(policies.hasSynced ? [] : ['remediationpolicies cache']),
    ],
  });
  const port = await health.listen(config.healthAddress.host, config.healthAddress.port);

  const intake = new AlertIntake({
    store: new KubeIncidentStore(kc),
    policies,
    incidents,
    ...(config.unmatchedNamespace ? { unmatchedNamespace: config.unmatchedNamespace } : {}),
    recurrenceWindowMs: config.incidents.recurrenceWindowMs,
    clock,
    metrics,
    logger,
  });
  if (!config.webhook.token)
    logger.warn('the alert webhook accepts requests without a token (--webhook-insecure)');
  const webhook = new AlertWebhook({
    intake,
    token: config.webhook.token,
    maxBodyBytes: config.webhook.maxBodyBytes,
    metrics,
    logger,
  });
  const webhookPort = await webhook.listen(config.webhook.address.host, config.webhook.address.port);
  const poller =
    config.prometheus.url && config.prometheus.alertsIntervalMs > 0
      ? new PrometheusAlertPoller({
          prometheusUrl: config.prometheus.url,
          intervalMs: config.prometheus.alertsIntervalMs,
          intake,
          clock,
          logger,
        })
      : undefined;
  logger.info(
    {
      identity,
      health: `${config.healthAddress.host}:${port}`,
      webhook: `${config.webhook.address.host}:${webhookPort}`,
      watching: config.watchNamespaces.length > 0 ? config.watchNamespaces : 'all namespaces',
    },
    'selfheal starting',
  );

  await Promise.all([incidents.start(), policies.start()]);
  const elector = config.leaderElection.enabled
    ? new LeaderElector({
        client: kc.makeApiClient(CoordinationV1Api),
        namespace: config.namespace,
        name: 'selfheal-leader',
        identity,
        leaseDurationMs: config.leaderElection.leaseDurationMs,
        renewDeadlineMs: config.leaderElection.renewDeadlineMs,
        retryPeriodMs: config.leaderElection.retryPeriodMs,
        clock,
        logger,
      })
    : undefined;
  if (elector) {
    elector.start({
      onStartedLeading: () => {
        leading = true;
        metrics.leader.set(1);
        controller.start();
        poller?.start();
      },
      onStoppedLeading: () => {
        leading = false;
        metrics.leader.set(0);
        poller?.stop();
        void controller.stop();
      },
    });
  } else {
    metrics.leader.set(1);
    controller.start();
    poller?.start();
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    leading = false;
    poller?.stop();
    await webhook.close();
    await controller.stop();
    await elector?.stop();
    await Promise.all([incidents.stop(), policies.stop()]);
    await health.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`selfheal: ${error.message}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
