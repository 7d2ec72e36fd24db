// API clients with the guarantees every request of the operator needs: a user agent that names
// the replica (so the API server's audit log tells replicas apart), a timeout on every request,
// and, for what only the leader may do, a fence that refuses to send anything once this replica
// cannot prove it still leads.
import {
  createConfiguration,
  Observable,
  ServerConfiguration,
  type Configuration,
  type KubeConfig,
  type ObservableMiddleware,
} from '@kubernetes/client-node';

/** What `KubeConfig.makeApiClient` offers, so adapters take either. */
export interface ApiClientFactory {
  makeApiClient<T>(apiClientType: new (config: Configuration) => T): T;
}

export class NotLeaderError extends Error {
  constructor() {
    super('not the leader (or no longer sure of it): request not sent');
  }
}

export interface ApiClientOptions {
  userAgent: string;
  /** Every request is aborted after this long. */
  timeoutMs: number;
  /** Called before every request; when it returns false, the request is not sent. */
  mayWrite?: () => boolean;
}

export function apiClients(kc: KubeConfig, options: ApiClientOptions): ApiClientFactory {
  const guard: ObservableMiddleware = {
    pre: (request) => {
      if (options.mayWrite && !options.mayWrite()) throw new NotLeaderError();
      request.setHeaderParam('User-Agent', options.userAgent);
      request.setSignal(AbortSignal.timeout(options.timeoutMs));
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return {
    makeApiClient<T>(apiClientType: new (config: Configuration) => T): T {
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('the kubeconfig has no current cluster');
      return new apiClientType(
        createConfiguration({
          baseServer: new ServerConfiguration(cluster.server, {}),
          authMethods: { default: kc },
          middleware: [guard],
        }),
      );
    },
  };
}
