// Writes a custom resource's status through the /status subresource: only the difference, only when
// there is one, and only over the version that was read (resourceVersion), so two writers can never
// both win: the API server is the lock (a 409 Conflict sends the key back to the queue).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ApiClientFactory } from './kube.ts';
import { mergePatch } from './mergepatch.ts';

export interface StatusTarget {
  group: string;
  version: string;
  plural: string;
  namespace: string;
  name: string;
  resourceVersion: string | undefined;
}

export interface StatusWriter {
  /**
   * Writes the difference; resolves to the object's new resourceVersion, or undefined when the
   * status was already as wanted (nothing written). A 409 means the object changed since it was read.
   */
  write(target: StatusTarget, current: unknown, desired: unknown): Promise<string | undefined>;
}

export class KubeStatusWriter implements StatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly fieldManager: string;

  constructor(clients: ApiClientFactory, fieldManager: string) {
    this.api = clients.makeApiClient(CustomObjectsApi);
    this.fieldManager = fieldManager;
  }

  async write(target: StatusTarget, current: unknown, desired: unknown): Promise<string | undefined> {
    const status = mergePatch(current ?? {}, desired);
    if (status === undefined) return undefined;
    const { group, version, plural, namespace, name, resourceVersion } = target;
    const written = (await this.api.patchNamespacedCustomObjectStatus(
      {
        group,
        version,
        plural,
        namespace,
        name,
        fieldManager: this.fieldManager,
        body: { metadata: resourceVersion ? { resourceVersion } : {}, status },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata?: { resourceVersion?: string } };
    return written.metadata?.resourceVersion ?? '';
  }
}
