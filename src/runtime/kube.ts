// API clients with the guarantees every request of the operator needs: a user agent that names
// the replica (so the API server's audit log tells replicas apart), a timeout on every request,
// reused connections, and, for what only the leader may do, a fence that refuses to send anything
// once this replica cannot prove it still leads.
import {
  createConfiguration,
  Observable,
  ServerConfiguration,
  type Configuration,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type SecurityAuthentication,
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

/**
 * The kubeconfig's authentication, on one pool of keep-alive connections. client-node 2's
 * `KubeConfig.applySecurityAuthentication` hands every request a new undici Agent, so each request
 * opened its own TCP and TLS connection: about 60 ms per request on a busy two-core machine against
 * about 6 ms on a kept-alive one (bench/ alert-to-action). The headers (a token that an exec or
 * file provider may refresh) are still taken per request; the connections are kept, as client-go
 * keeps one transport per kubeconfig.
 */
function pooledAuthentication(kc: KubeConfig): SecurityAuthentication {
  let pool: ReturnType<RequestContext['getDispatcher']>;
  return {
    getName: () => 'kubeconfig on pooled connections',
    async applySecurityAuthentication(context: RequestContext) {
      await kc.applySecurityAuthentication(context);
      // Every Agent it makes has the same TLS options (those of the kubeconfig): keep the first.
      pool ??= context.getDispatcher();
      if (pool) context.setDispatcher(pool);
    },
  };
}

export function apiClients(kc: KubeConfig, options: ApiClientOptions): ApiClientFactory {
  const authentication = pooledAuthentication(kc);
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
          authMethods: { default: authentication },
          middleware: [guard],
        }),
      );
    },
  };
}
