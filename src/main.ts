// Configuration and wiring only: every part is built here and handed what it needs.
import { randomBytes } from 'node:crypto';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1ConfigMap,
  type V1Namespace,
} from '@kubernetes/client-node';
import { KubeWorkloadWriter } from './actions/kubeWorkloads.ts';
import { ACTIONS } from './actions/registry.ts';
import type { TargetRef, Workload, WorkloadCache } from './actions/workload.ts';
import { AlertIntake } from './alerts/intake.ts';
import { PrometheusAlertPoller } from './alerts/poller.ts';
import { KubeIncidentStore } from './alerts/store.ts';
import { AlertWebhook } from './alerts/webhook.ts';
import { GROUP, STATUS_PAGE_LABEL, STATUS_PAGE_PUBLIC, VERSION, type WorkloadKind } from './api/group.ts';
import type { Incident } from './api/incident.ts';
import type { RemediationPolicy } from './api/policy.ts';
import type { StatusComponent } from './api/statuscomponent.ts';
import { ConfigError, helpText, parseConfig, type OperatorConfig } from './config.ts';
import { Notifier } from './escalation/notifier.ts';
import { QueueEngine } from './actions/queue/engine.ts';
import { QueueJobs } from './actions/queue/runner.ts';
import { KubeSecretReader } from './runtime/secrets.ts';
import { HttpHealthChecker } from './verify/http.ts';
import { EgressPolicy } from './base/egress.ts';
import { CheckProbes } from './verify/probes.ts';
import { IncidentCache } from './incidents/cache.ts';
import { KubeContextReader } from './incidents/context.ts';
import { NotificationDispatcher } from './incidents/notify.ts';
import { KubeDraftWriter } from './incidents/postmortem.ts';
import { PauseSwitch, PAUSE_CONFIGMAP } from './incidents/pause.ts';
import { IncidentReconciler, incidentReader, type FaultPoint } from './incidents/reconciler.ts';
import { PolicyReconciler } from './policies/reconciler.ts';
import { systemClock } from './runtime/clock.ts';
import { Controller } from './runtime/controller.ts';
import { KubeEventRecorder } from './runtime/events.ts';
import { keyOf, SupervisedInformer, type CachedObject, type ListPage } from './runtime/informer.ts';
import { apiClients } from './runtime/kube.ts';
import { PolledNamespaces } from './runtime/namespaces.ts';
import { watchNamespaces } from './runtime/scoped.ts';
import { LeaderElector } from './runtime/leader.ts';
import { KubeStatusWriter } from './runtime/status.ts';
import { StatusPageServer } from './statuspage/server.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { HealthServer } from './telemetry/server.ts';
import { PrometheusClient } from './verify/prometheus.ts';

const INCIDENT_CONTROLLER = 'selfheal.dev/incident-controller';
const POLICY_CONTROLLER = 'selfheal.dev/policy-controller';
/** Replica-side requests (intake writes, lists): generous, but never unbounded. */
const REPLICA_REQUEST_TIMEOUT_MS = 15_000;

function loadKubeConfig(config: OperatorConfig): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

/** Crash-safety tests end the process at a named point (SELFHEAL_FAULT=exit-after-intent|exit-after-effect). */
function faultPoint(logger: Logger): ((point: FaultPoint) => void) | undefined {
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

/** Workloads are cached without their pod spec: the operator reads annotations, strategy and status. */
function withoutPodSpec<T extends { spec?: { template?: { spec?: unknown } } }>(workload: T): T {
  if (workload.spec?.template?.spec !== undefined) delete workload.spec.template.spec;
  return workload;
}

async function main(): Promise<void> {
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
  // Every URL a tenant sets (HTTP checks, receivers, RabbitMQ) goes through this one policy.
  const egress = new EgressPolicy(config.egress);
  const userAgent = `selfheal (${identity})`;

  const elector = config.leaderElection.enabled
    ? new LeaderElector({
        client: apiClients(kc, { userAgent, timeoutMs: config.leaderElection.renewDeadlineMs }).makeApiClient(
          CoordinationV1Api,
        ),
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
  // What only the leader may do goes through clients that refuse to send once leadership is not
  // certain, and abort any request before another replica could take over.
  const leaderClients = apiClients(kc, {
    userAgent: `${userAgent} leader`,
    timeoutMs: config.requestTimeoutMs,
    mayWrite: () => elector?.isLeader() ?? true,
  });
  const replicaClients = apiClients(kc, { userAgent, timeoutMs: REPLICA_REQUEST_TIMEOUT_MS });
  const customObjects = replicaClients.makeApiClient(CustomObjectsApi);
  const apps = replicaClients.makeApiClient(AppsV1Api);
  const core = replicaClients.makeApiClient(CoreV1Api);
  const pageOf = (page: { limit: number; continueToken?: string }) => ({
    limit: page.limit,
    ...(page.continueToken ? { _continue: page.continueToken } : {}),
  });
  type Page = { limit: number; continueToken?: string };
  const informer = <T extends CachedObject>(
    path: string,
    list: (page: Page) => Promise<unknown>,
    extra: { transform?: (obj: T) => T; fieldSelector?: string } = {},
  ) =>
    new SupervisedInformer<T>({
      kc,
      path,
      list: list as (page: Page) => Promise<ListPage>,
      logger,
      onResync: () => {
        incidentController.enqueueAll();
        policyController.enqueueAll();
      },
      ...extra,
    });
  // All namespaces, or one informer per --watch-namespaces entry behind the same cache.
  const scoped = <T extends CachedObject>(
    path: (namespacePart: string) => string,
    list: (namespace: string | undefined, page: Page) => Promise<unknown>,
    extra: { transform?: (obj: T) => T } = {},
  ) =>
    watchNamespaces<T>(config.watchNamespaces, (namespace) =>
      informer<T>(
        path(namespace === undefined ? '' : `/namespaces/${namespace}`),
        (page) => list(namespace, page),
        extra,
      ),
    );
  const custom = <T extends CachedObject>(plural: string) =>
    scoped<T>(
      (ns) => `/apis/${GROUP}/${VERSION}${ns}/${plural}`,
      async (namespace, page) =>
        namespace === undefined
          ? customObjects.listClusterCustomObject({ group: GROUP, version: VERSION, plural, ...pageOf(page) })
          : customObjects.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace,
              plural,
              ...pageOf(page),
            }),
    );

  const incidentInformer = custom<Incident>('incidents');
  const incidents = new IncidentCache(incidentInformer);
  const policies = custom<RemediationPolicy>('remediationpolicies');
  type WorkloadObject = NonNullable<Workload['object']>;
  const workloadInformers = {
    Deployment: scoped<WorkloadObject>(
      (ns) => `/apis/apps/v1${ns}/deployments`,
      (namespace, page) =>
        namespace === undefined
          ? apps.listDeploymentForAllNamespaces(pageOf(page))
          : apps.listNamespacedDeployment({ namespace, ...pageOf(page) }),
      { transform: withoutPodSpec },
    ),
    StatefulSet: scoped<WorkloadObject>(
      (ns) => `/apis/apps/v1${ns}/statefulsets`,
      (namespace, page) =>
        namespace === undefined
          ? apps.listStatefulSetForAllNamespaces(pageOf(page))
          : apps.listNamespacedStatefulSet({ namespace, ...pageOf(page) }),
      { transform: withoutPodSpec },
    ),
    DaemonSet: scoped<WorkloadObject>(
      (ns) => `/apis/apps/v1${ns}/daemonsets`,
      (namespace, page) =>
        namespace === undefined
          ? apps.listDaemonSetForAllNamespaces(pageOf(page))
          : apps.listNamespacedDaemonSet({ namespace, ...pageOf(page) }),
      { transform: withoutPodSpec },
    ),
  } satisfies Record<WorkloadKind, unknown>;
  const workloads: WorkloadCache = {
    get: ({ kind, namespace, name }: TargetRef) => {
      const object = workloadInformers[kind].get(name, namespace);
      return object ? ({ kind, object } as Workload) : undefined;
    },
  };
  // Limited to Roles, the operator may read its namespaces one by one, never list them.
  const namespaces =
    config.watchNamespaces.length === 0
      ? informer<V1Namespace>('/api/v1/namespaces', (page) => core.listNamespace(pageOf(page)))
      : new PolledNamespaces({ core, names: config.watchNamespaces, intervalMs: 30_000, logger });
  const pauseSwitches = informer<V1ConfigMap>(
    `/api/v1/namespaces/${config.namespace}/configmaps`,
    (page) =>
      core.listNamespacedConfigMap({
        namespace: config.namespace,
        fieldSelector: `metadata.name=${PAUSE_CONFIGMAP}`,
        ...pageOf(page),
      }),
    { fieldSelector: `metadata.name=${PAUSE_CONFIGMAP}` },
  );
  const pause = new PauseSwitch({
    configMaps: pauseSwitches,
    namespace: config.namespace,
    pausedByDefault: config.incidents.paused,
  });
  // Only the status page reads components; it needs nothing but the caches.
  const components = config.statusPage ? custom<StatusComponent>('statuscomponents') : undefined;
  const caches = {
    incidents: incidentInformer,
    policies,
    namespaces,
    pauseSwitches,
    ...workloadInformers,
    ...(components ? { statuscomponents: components } : {}),
  };

  const fault = faultPoint(logger);
  const events = new KubeEventRecorder(leaderClients, {
    controller: INCIDENT_CONTROLLER,
    instance: identity,
    clock,
    logger,
    rate: config.events,
  });
  const policyEvents = new KubeEventRecorder(leaderClients, {
    controller: POLICY_CONTROLLER,
    instance: identity,
    clock,
    logger,
  });
  const leaderStatus = new KubeStatusWriter(leaderClients, 'selfheal');
  const leaderCore = leaderClients.makeApiClient(CoreV1Api);
  const secrets = new KubeSecretReader(leaderCore);
  const isLeader = () => elector?.isLeader() ?? true;
  const jobs = new QueueJobs({
    engine: new QueueEngine({ clock, metrics, logger, egress }),
    secrets,
    clock,
    settled: (key) => incidentController.enqueue(key),
    mayRun: isLeader,
  });
  const dispatcher = new NotificationDispatcher({
    notifier: Notifier.create({
      secrets,
      pagerDutyUrl: config.escalation.pagerDutyUrl,
      // Like every request of the leader: none still in flight when another replica takes over.
      timeoutMs: Math.min(config.escalation.notificationTimeoutMs, config.requestTimeoutMs),
      egress,
      clock,
      logger,
    }),
    settings: config.incidents,
    linkTemplates: config.escalation.linkTemplates,
    mayWrite: isLeader,
    concurrency: 8,
    clock,
    metrics,
    settled: (key) => incidentController.enqueue(key),
  });
  // Verification checks run here, off the reconcile path; a result wakes its incident.
  const probes = new CheckProbes({
    clock,
    concurrency: config.checks.concurrency,
    perNamespace: config.checks.perNamespace,
    settled: (key) => incidentController.enqueue(key),
    logger,
  });
  const incidentController = new Controller({
    name: 'incidents',
    reconciler: new IncidentReconciler({
      incidents,
      policies,
      workloads,
      namespaces: {
        annotations: (name) => {
          const namespace = namespaces.get(name);
          return namespace ? (namespace.metadata?.annotations ?? {}) : undefined;
        },
      },
      pause: () => pause.current(),
      settings: config.incidents,
      ...(config.prometheus.url ? { prometheus: new PrometheusClient(config.prometheus.url) } : {}),
      workloadWriter: new KubeWorkloadWriter(leaderClients),
      status: leaderStatus,
      events,
      readIncident: incidentReader(leaderClients),
      dispatcher,
      jobs,
      checks: { probes, health: new HttpHealthChecker({ egress }), maxTimeoutMs: config.checks.maxTimeoutMs },
      context: new KubeContextReader(leaderClients.makeApiClient(AppsV1Api), leaderCore),
      drafts: new KubeDraftWriter(leaderCore),
      actions: ACTIONS,
      clock,
      logger,
      metrics,
      ...(fault ? { faultPoint: fault } : {}),
    }),
    workers: config.workers,
    logger,
    metrics,
    // Per-key retry backoff: client-go's 5 ms doubling, capped at a minute rather than 1000 s.
    backoff: { baseMs: 5, maxMs: 60_000 },
    retryLimit: config.retryLimit,
    allKeys: () => incidents.list().map(keyOf),
  });
  const policyController = new Controller({
    name: 'policies',
    reconciler: new PolicyReconciler({
      policies,
      incidents,
      workloads,
      actions: ACTIONS,
      status: leaderStatus,
      events: policyEvents,
      clock,
    }),
    workers: 1,
    logger,
    metrics,
    backoff: { baseMs: 5, maxMs: 60_000 },
    retryLimit: config.retryLimit,
    allKeys: () => policies.list().map(keyOf),
  });

  // Handlers only enqueue keys; owned and related objects map to the incidents they matter to.
  const enqueueIncident = (incident: Incident) => {
    if (incident.status?.phase !== 'Closed') incidentController.enqueue(keyOf(incident));
  };
  incidentInformer.onChange((key, incident, change) => {
    incidentController.enqueue(key);
    const namespace = incident.metadata.namespace ?? '';
    for (const follower of incidents.followersOf(namespace, incident.metadata.name ?? ''))
      enqueueIncident(follower);
    // A policy reads only which incident it raised last (and that one's target problem, fixed at
    // creation): its status changes matter not, and during a burst they are most of the changes.
    if (incident.spec.policyRef && change !== 'update')
      policyController.enqueue(`${namespace}/${incident.spec.policyRef.name}`);
  });
  policies.onChange((_key, policy) => {
    const namespace = policy.metadata.namespace ?? '';
    for (const incident of incidents.byPolicy(namespace, policy.metadata.name ?? ''))
      enqueueIncident(incident);
    // Peers decide about each other (which one wins an alert both match).
    for (const peer of policies.list(namespace)) policyController.enqueue(keyOf(peer));
  });
  for (const [kind, cache] of Object.entries(workloadInformers) as [
    WorkloadKind,
    (typeof workloadInformers)[WorkloadKind],
  ][]) {
    cache.onChange((_key, object, change) => {
      const namespace = object.metadata?.namespace ?? '';
      const ref = { kind, namespace, name: object.metadata?.name ?? '' };
      for (const incident of incidents.byTarget(ref)) enqueueIncident(incident);
      if (change !== 'update')
        for (const policy of policies.list(namespace)) policyController.enqueue(keyOf(policy));
    });
  }
  namespaces.onChange((_key, namespace) => {
    for (const incident of incidents.list(namespace.metadata?.name ?? '')) enqueueIncident(incident);
  });
  pauseSwitches.onChange(() => {
    logger.warn({ pause: pause.current() ?? 'off' }, 'pause switch changed');
    for (const incident of incidents.list()) enqueueIncident(incident);
  });
  metrics.postMortemSource = () =>
    incidents
      .list()
      .filter((i) => i.status?.conditions?.some((c) => c.type === 'PostMortemOverdue' && c.status === 'True'))
      .length;
  metrics.incidentSource = () =>
    incidents.list().map((i) => ({ severity: i.spec.severity, phase: i.status?.phase ?? 'New' }));

  const notSynced = () =>
    Object.entries(caches).flatMap(([name, cache]) => (cache.hasSynced ? [] : [`${name} cache`]));
  const health = new HealthServer({ registry: metrics.registry, notReady: notSynced });
  const port = await health.listen(config.healthAddress.host, config.healthAddress.port);
  // Served by every replica from its caches, so it keeps answering while the API server is down.
  // Only namespaces the install opted in speak on it: listed, or labelled by whoever may label them.
  const statusPageListed = new Set(config.statusPage?.namespaces ?? []);
  const statusPage =
    components && config.statusPage
      ? new StatusPageServer({
          components,
          incidents: incidentInformer,
          synced: () =>
            components.hasSyncedOnce && incidentInformer.hasSyncedOnce && namespaces.hasSyncedOnce,
          title: config.statusPage.title,
          ...(config.statusPage.url ? { url: config.statusPage.url } : {}),
          speaksFor: (name) =>
            statusPageListed.has(name) ||
            namespaces.get(name)?.metadata?.labels?.[STATUS_PAGE_LABEL] === STATUS_PAGE_PUBLIC,
          clock,
          logger,
        })
      : undefined;
  if (statusPage) {
    const changed = () => statusPage.changed();
    components?.onChange(changed);
    incidentInformer.onChange(changed);
    namespaces.onChange(changed);
  }
  const statusPageAt = config.statusPage?.address;
  const statusPageAddress =
    statusPage && statusPageAt
      ? `${statusPageAt.host}:${await statusPage.listen(statusPageAt.host, statusPageAt.port)}`
      : undefined;

  const intake = new AlertIntake({
    store: new KubeIncidentStore(replicaClients),
    policies,
    incidents,
    ...(config.unmatchedNamespace ? { unmatchedNamespace: config.unmatchedNamespace } : {}),
    recurrenceWindowMs: config.incidents.recurrenceWindowMs,
    concurrency: config.intakeConcurrency,
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
    ready: () => incidentInformer.hasSyncedOnce && policies.hasSyncedOnce,
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
          incidents,
          clock,
          logger,
        })
      : undefined;
  logger.info(
    {
      identity,
      health: `${config.healthAddress.host}:${port}`,
      webhook: `${config.webhook.address.host}:${webhookPort}`,
      requestTimeoutMs: config.requestTimeoutMs,
      ...(statusPageAddress ? { statusPage: statusPageAddress } : {}),
    },
    'selfheal starting',
  );

  await Promise.all(Object.values(caches).map((cache) => cache.start()));
  let stopping = false;
  const lead = () => {
    metrics.leader.set(1);
    incidentController.start();
    policyController.start();
    poller?.start();
  };
  if (elector) {
    elector.start({
      onStartedLeading: lead,
      // As controller-runtime does: a replica that lost the lease exits, at once and non-zero, so
      // nothing it started can act on; its Deployment restarts it as a clean follower.
      onStoppedLeading: () => {
        metrics.leader.set(0);
        if (stopping) return;
        logger.error(
          { identity, validUntil: elector.validUntilWallClock().toISOString() },
          'leader election lost: exiting',
        );
        // The queue jobs' abort handlers run now, synchronously: each acknowledges what its parking
        // queue confirmed and requeues the rest; the broker requeues whatever the exit cuts off.
        void jobs.abortAll('leader lease lost');
        process.exit(1);
      },
    });
  } else lead();

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    poller?.stop();
    // No check in flight may hold the reconciles, and so the shutdown, up.
    probes.stop();
    await webhook.close();
    await Promise.all([incidentController.stop(), policyController.stop()]);
    await jobs.abortAll('shutting down');
    // Events are written in the background: finish them while this replica may still write.
    await Promise.all([events.drain(), policyEvents.drain()]);
    // Before the lease is handed back: once it is, another replica may act at once.
    await elector?.stop();
    await Promise.all(Object.values(caches).map((cache) => cache.stop()));
    await statusPage?.close();
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
