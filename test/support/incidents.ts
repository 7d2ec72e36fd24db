import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type KubeConfig,
  type V1Deployment,
} from '@kubernetes/client-node';
import { eventually } from '../../hack/localenv/wait.ts';
import { API_VERSION, GROUP, VERSION } from '../../src/api/group.ts';
import type { Incident, IncidentSpec } from '../../src/api/incident.ts';

/** Reads and writes Incidents and their targets the way a user's tools would. */
export class IncidentClient {
  readonly namespace: string;
  private readonly objects: CustomObjectsApi;
  private readonly apps: AppsV1Api;
  private readonly events: EventsV1Api;
  readonly core: CoreV1Api;

  constructor(kc: KubeConfig, namespace: string) {
    this.namespace = namespace;
    this.objects = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.events = kc.makeApiClient(EventsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async create(name: string, spec: Partial<IncidentSpec>): Promise<void> {
    await this.objects.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: 'incidents',
      body: {
        apiVersion: API_VERSION,
        kind: 'Incident',
        metadata: { name },
        spec: { severity: 'P2', title: `test ${name}`, ...spec },
      },
    });
  }

  async get(name: string): Promise<Incident> {
    return (await this.objects.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: this.namespace,
      plural: 'incidents',
      name,
    })) as Incident;
  }

  /** Waits until the incident satisfies `done`; on time-out the error shows its last status. */
  async waitFor(
    name: string,
    what: string,
    done: (i: Incident) => boolean,
    timeoutMs = 60_000,
  ): Promise<Incident> {
    let last: Incident | undefined;
    try {
      return await eventually(
        `incident ${name}: ${what}`,
        async () => {
          last = await this.get(name);
          return done(last) && last;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)}`, {
        cause: error,
      });
    }
  }

  waitForPhase(name: string, phase: string, timeoutMs?: number): Promise<Incident> {
    return this.waitFor(name, `phase ${phase}`, (i) => i.status?.phase === phase, timeoutMs);
  }

  async deployment(
    name: string,
    replicas = 2,
    annotations: Record<string, string> = {},
  ): Promise<V1Deployment> {
    const labels = { app: name };
    await this.apps.createNamespacedDeployment({
      namespace: this.namespace,
      body: {
        metadata: { name, labels, annotations },
        spec: {
          replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
          },
        },
      },
    });
    return eventually(`deployment ${name} available`, async () => {
      const d = await this.apps.readNamespacedDeployment({ name, namespace: this.namespace });
      return (d.status?.availableReplicas ?? 0) === replicas && d.status?.updatedReplicas === replicas && d;
    });
  }

  readDeployment(name: string): Promise<V1Deployment> {
    return this.apps.readNamespacedDeployment({ name, namespace: this.namespace });
  }

  /** How often the pod template changed: one ReplicaSet per template, the first included. */
  async templateRevisions(name: string): Promise<number> {
    const sets = await this.apps.listNamespacedReplicaSet({
      namespace: this.namespace,
      labelSelector: `app=${name}`,
    });
    return sets.items.length;
  }

  /**
   * Waits until an Event with this reason about the incident exists (Events are written right after
   * the status they accompany), and returns all reasons then, oldest first.
   */
  async waitForEvent(name: string, reason: string): Promise<string[]> {
    return eventually(
      `an Event ${reason} about ${name}`,
      async () => {
        const reasons = await this.eventReasons(name);
        return reasons.includes(reason) && reasons;
      },
      { timeoutMs: 15_000 },
    );
  }

  /** The reasons of the Events about an incident, oldest first. */
  async eventReasons(name: string): Promise<string[]> {
    const list = await this.events.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `regarding.name=${name}`,
    });
    return list.items
      .sort((a, b) => new Date(a.eventTime).getTime() - new Date(b.eventTime).getTime())
      .map((e) => e.reason ?? '');
  }
}

export const condition = (i: Incident, type: string) => i.status?.conditions?.find((c) => c.type === type);

/** The deployment's pod-template annotations (where a restart writes). */
export const templateAnnotationsOf = (d: V1Deployment) => d.spec?.template.metadata?.annotations ?? {};
