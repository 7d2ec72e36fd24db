import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { StandInServer } from './http.ts';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface Series {
  namespace: string;
  deployment: string;
  healthy: boolean;
  /** Heal when the Deployment is restarted after it broke (false: a restart does not help). */
  heals: boolean;
  /** The restartedAt the Deployment carried when it broke. */
  brokeAt: string | undefined;
}

/**
 * A stand-in for a workload's own exporter: `selfheal_test_workload_healthy` is 0 for a broken
 * Deployment and turns 1 once it sees that Deployment restarted (its pod template's restartedAt
 * changed), which is what a real service that recovers on restart would show Prometheus.
 */
export class WorkloadExporter {
  private readonly server: StandInServer;
  private readonly apps: AppsV1Api;
  private readonly series = new Map<string, Series>();
  private timer: NodeJS.Timeout | undefined;

  constructor(kc: KubeConfig) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.server = new StandInServer(() => ({
      status: 200,
      contentType: 'text/plain; version=0.0.4',
      body: [
        '# TYPE selfheal_test_workload_healthy gauge',
        ...[...this.series.values()].map(
          (s) =>
            `selfheal_test_workload_healthy{namespace="${s.namespace}",deployment="${s.deployment}"} ${s.healthy ? 1 : 0}`,
        ),
        '',
      ].join('\n'),
    }));
  }

  /** Starts serving and watching; returns host:port for Prometheus' targets. */
  async start(): Promise<string> {
    await this.server.listen();
    const tick = async () => {
      for (const s of this.series.values()) {
        if (s.healthy || !s.heals) continue;
        const d = await this.apps
          .readNamespacedDeployment({ name: s.deployment, namespace: s.namespace })
          .catch(() => undefined);
        const restartedAt = d?.spec?.template.metadata?.annotations?.[RESTARTED_AT];
        if (restartedAt !== undefined && restartedAt !== s.brokeAt) s.healthy = true;
      }
      this.timer = setTimeout(() => void tick(), 300);
    };
    void tick();
    return new URL(this.server.url).host;
  }

  /** Marks the Deployment broken now; it heals on its next restart unless `heals` is false. */
  async breakDeployment(namespace: string, deployment: string, { heals = true } = {}): Promise<void> {
    const d = await this.apps.readNamespacedDeployment({ name: deployment, namespace });
    this.series.set(`${namespace}/${deployment}`, {
      namespace,
      deployment,
      healthy: false,
      heals,
      brokeAt: d.spec?.template.metadata?.annotations?.[RESTARTED_AT],
    });
  }

  /** Marks the Deployment healthy again, as if something other than selfheal had fixed it. */
  heal(namespace: string, deployment: string): void {
    const series = this.series.get(`${namespace}/${deployment}`);
    if (series) series.healthy = true;
  }

  healthy(namespace: string, deployment: string): boolean | undefined {
    return this.series.get(`${namespace}/${deployment}`)?.healthy;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.server.close();
  }
}
