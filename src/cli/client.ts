// The plugin's view of the cluster: the user's kubeconfig, the Incidents in a namespace, and who the
// user is. Every call turns an API server refusal into an error that says what to do next.
import {
  ApiException,
  AuthenticationV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, GROUP, VERSION } from '../api/group.ts';
import type { Incident } from '../api/incident.ts';
import type { RemediationPolicy } from '../api/policy.ts';
import { errorMessage } from '../telemetry/logger.ts';
import { CliError, explainApiError, POLICY_RESOURCE, statusOf, type Operation } from './errors.ts';

/** One operation of a JSON patch (RFC 6902), as the plugin writes them. */
export type JsonPatchOp =
  { op: 'add'; path: string; value: unknown } | { op: 'replace'; path: string; value: unknown };

export interface Connection {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** Loads the kubeconfig as kubectl does: --kubeconfig, else KUBECONFIG, else ~/.kube/config. */
export function loadKubeConfig({ kubeconfig, context }: Connection): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (error) {
    throw new CliError(
      `cannot read the kubeconfig${kubeconfig ? ` ${kubeconfig}` : ''}: ${errorMessage(error).replace(/^Error: /, '')}`,
      'give one with --kubeconfig FILE or KUBECONFIG',
    );
  }
  if (context) {
    if (!kc.getContextObject(context))
      throw new CliError(
        `context "${context}" not found in the kubeconfig`,
        `contexts there: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(', ') || 'none'
        }`,
      );
    kc.setCurrentContext(context);
  }
  return kc;
}

const PLURAL = 'incidents';
const MAX_CONFLICT_RETRIES = 5;
const MAX_THROTTLE_RETRIES = 5;

/** How long the API server asked to wait before trying again, or undefined when it did not. */
function throttleDelayMs(error: unknown): number | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const retryAfter = Number(error.headers['retry-after'] ?? Number.NaN);
  if (error.code !== 429 && !(error.code >= 500 && Number.isFinite(retryAfter))) return undefined;
  return Math.min(Number.isFinite(retryAfter) ? retryAfter * 1000 : 1000, 5000);
}

export class IncidentsClient {
  /** The namespace commands act in: -n, else the context's namespace, else default. */
  readonly namespace: string;
  private readonly kc: KubeConfig;
  private readonly objects: CustomObjectsApi;
  private readonly server: string;

  constructor(kc: KubeConfig, namespace?: string) {
    this.kc = kc;
    this.namespace = namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    this.objects = kc.makeApiClient(CustomObjectsApi);
    this.server = kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
  }

  /**
   * One API call. Like client-go, it waits and tries again when the API server asks it to (429, or
   * a 5xx with Retry-After: starting up, overloaded), a few times, for at most a few seconds each.
   */
  private async call<T>(op: Omit<Operation, 'server'>, request: () => Promise<unknown>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await request()) as T;
      } catch (error) {
        const wait = attempt < MAX_THROTTLE_RETRIES ? throttleDelayMs(error) : undefined;
        if (wait === undefined) throw explainApiError(error, { ...op, server: this.server });
        await sleep(wait);
      }
    }
  }

  get(name: string): Promise<Incident> {
    return this.call({ verb: 'get', namespace: this.namespace, name }, () =>
      this.objects.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: PLURAL,
        name,
      }),
    );
  }

  async list(allNamespaces: boolean): Promise<Incident[]> {
    const list = await this.call<{ items: Incident[] }>(
      { verb: 'list', namespace: allNamespaces ? undefined : this.namespace },
      () =>
        allNamespaces
          ? this.objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
          : this.objects.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: this.namespace,
              plural: PLURAL,
            }),
    );
    return list.items;
  }

  /** The RemediationPolicy of this namespace, or undefined when it does not exist. */
  policy(name: string): Promise<RemediationPolicy | undefined> {
    return this.call(
      { verb: 'get', namespace: this.namespace, name, resource: POLICY_RESOURCE },
      async () => {
        try {
          return (await this.objects.getNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: this.namespace,
            plural: 'remediationpolicies',
            name,
          })) as RemediationPolicy;
        } catch (error) {
          // The policy is gone (not the API: a missing CRD answers 404 without the object's name).
          if (error instanceof ApiException && error.code === 404 && statusOf(error).details?.name === name)
            return undefined;
          throw error;
        }
      },
    );
  }

  create(
    metadata: { name?: string; generateName?: string; annotations?: Record<string, string> },
    spec: Incident['spec'],
  ): Promise<Incident> {
    return this.call(
      { verb: 'create', namespace: this.namespace, ...(metadata.name ? { name: metadata.name } : {}) },
      () =>
        this.objects.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: this.namespace,
          plural: PLURAL,
          body: { apiVersion: API_VERSION, kind: 'Incident', metadata, spec },
        }),
    );
  }

  /**
   * Reads the incident, asks `change` for the spec fields to merge (it may refuse with a CliError:
   * already acknowledged...), and patches them on exactly the version read. When someone else
   * changed the incident in between, it reads again and asks again.
   */
  async modify(name: string, change: (incident: Incident) => Partial<Incident['spec']>): Promise<Incident> {
    return this.patchRead(name, PatchStrategy.MergePatch, (current) => ({
      metadata: { resourceVersion: current.metadata.resourceVersion },
      spec: change(current),
    }));
  }

  /**
   * Reads the incident, asks `change` for JSON patch operations (it may refuse with a CliError), and
   * applies them. Appends (`add` to `.../-`) land on the list as the API server holds it, so people
   * posting at once all get theirs in. `change` may make the version read a precondition (`replace`
   * of metadata.resourceVersion): when someone else changed the incident in between, it reads again
   * and asks again.
   */
  async jsonPatch(name: string, change: (incident: Incident) => JsonPatchOp[]): Promise<Incident> {
    return this.patchRead(name, PatchStrategy.JsonPatch, change);
  }

  /** A patch built from the incident as read, read and built again after a conflict. */
  private async patchRead(
    name: string,
    strategy: PatchStrategy,
    build: (incident: Incident) => object,
  ): Promise<Incident> {
    for (let attempt = 1; ; attempt++) {
      const body = build(await this.get(name));
      try {
        return (await this.objects.patchNamespacedCustomObject(
          { group: GROUP, version: VERSION, namespace: this.namespace, plural: PLURAL, name, body },
          setHeaderOptions('Content-Type', strategy),
        )) as Incident;
      } catch (error) {
        if (error instanceof ApiException && error.code === 409 && attempt < MAX_CONFLICT_RETRIES) continue;
        throw explainApiError(error, { verb: 'patch', namespace: this.namespace, name, server: this.server });
      }
    }
  }

  /** The user's name as the API server authenticates it (a SelfSubjectReview). */
  async whoami(): Promise<string> {
    try {
      const review = await this.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      const username = review.status?.userInfo?.username;
      if (username) return username;
      throw new Error('the review named no user');
    } catch (error) {
      const why =
        error instanceof ApiException ? `the API server answered ${error.code}` : errorMessage(error);
      throw new CliError(
        `cannot tell who you are (SelfSubjectReview: ${why})`,
        'say who you are with --by NAME',
      );
    }
  }
}
