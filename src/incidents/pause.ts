// The installation's live pause: on-call stops all automation with one command and starts it again
// with another, without a redeploy. The switch is a ConfigMap in the operator's own namespace
// (readable with a Role, so it works in every RBAC mode), watched by an informer:
//   kubectl -n selfheal-system create configmap selfheal-pause --from-literal=reason="db migration"
//   kubectl -n selfheal-system delete configmap selfheal-pause
// Its `paused: "false"` resumes an installation whose --paused default is on.
import type { ObjectCache, V1ConfigMap } from '@kubernetes/client-node';
import type { PauseObservation } from './decide/index.ts';

export const PAUSE_CONFIGMAP = 'selfheal-pause';

export class PauseSwitch {
  private readonly configMaps: ObjectCache<V1ConfigMap>;
  private readonly namespace: string;
  private readonly pausedByDefault: boolean;

  constructor(options: {
    configMaps: ObjectCache<V1ConfigMap>;
    namespace: string;
    pausedByDefault: boolean;
  }) {
    this.configMaps = options.configMaps;
    this.namespace = options.namespace;
    this.pausedByDefault = options.pausedByDefault;
  }

  /** Set while paused, with who paused and why; undefined while automation may act. */
  current(): PauseObservation | undefined {
    const control = this.configMaps.get(PAUSE_CONFIGMAP, this.namespace);
    if (!control)
      return this.pausedByDefault ? { reason: 'the --paused setting of the installation' } : undefined;
    if (control.data?.paused?.trim().toLowerCase() === 'false') return undefined;
    const why = control.data?.reason?.trim();
    return { reason: `ConfigMap ${this.namespace}/${PAUSE_CONFIGMAP}${why ? `: ${why}` : ''}` };
  }
}
