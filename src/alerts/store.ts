// Where alert intake writes: Incidents, created once under a deterministic name (a duplicate is
// a 409 from the API server, not an error) and annotated when their signal changes.
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION } from '../api/group.ts';
import type { Incident } from '../api/incident.ts';
import type { ApiClientFactory } from '../runtime/kube.ts';

export interface IncidentStore {
  create(incident: Incident): Promise<'created' | 'exists'>;
  annotate(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<'annotated' | 'missing'>;
}

const code = (error: unknown) => (error instanceof ApiException ? error.code : undefined);

/**
 * Whether a failed write may succeed later: the API server unreachable, overloaded or failing (5xx,
 * 429), or this replica not allowed yet (401/403: credentials or RBAC being rolled out). Any other
 * 4xx is a refusal of the Incident itself, which no retry changes.
 */
export function isRetriable(error: unknown): boolean {
  const status = code(error);
  return status === undefined || status >= 500 || status === 429 || status === 401 || status === 403;
}

export class KubeIncidentStore implements IncidentStore {
  private readonly api: CustomObjectsApi;

  constructor(clients: ApiClientFactory) {
    this.api = clients.makeApiClient(CustomObjectsApi);
  }

  async create(incident: Incident): Promise<'created' | 'exists'> {
    try {
      await this.api.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: incident.metadata.namespace ?? '',
        plural: 'incidents',
        fieldManager: 'selfheal-intake',
        body: { apiVersion: API_VERSION, kind: 'Incident', ...incident },
      });
      return 'created';
    } catch (error) {
      if (code(error) === 409) return 'exists';
      throw error;
    }
  }

  async annotate(
    namespace: string,
    name: string,
    annotations: Record<string, string>,
  ): Promise<'annotated' | 'missing'> {
    try {
      await this.api.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace,
          plural: 'incidents',
          name,
          fieldManager: 'selfheal-intake',
          body: { metadata: { annotations } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return 'annotated';
    } catch (error) {
      if (code(error) === 404) return 'missing';
      throw error;
    }
  }
}
