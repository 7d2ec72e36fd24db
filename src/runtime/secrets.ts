// Secrets, read when they are needed (never cached, never logged): receivers' credentials and
// brokers' connection details, in the namespace of the incident that needs them.
import { ApiException, type CoreV1Api } from '@kubernetes/client-node';
import { errorMessage } from '../telemetry/logger.ts';

/** Reads one Secret's data, decoded; undefined when the Secret does not exist. */
export interface SecretReader {
  read(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

/** A Secret could not be read: `retriable` says whether trying again later may help. */
export class SecretAccessError extends Error {
  readonly retriable: boolean;

  constructor(message: string, retriable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.retriable = retriable;
  }
}

export class KubeSecretReader implements SecretReader {
  private readonly core: CoreV1Api;

  constructor(core: CoreV1Api) {
    this.core = core;
  }

  async read(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    let secret;
    try {
      secret = await this.core.readNamespacedSecret({ name, namespace });
    } catch (error) {
      if (error instanceof ApiException) {
        const code = error.code;
        if (code === 404) return undefined;
        if (code === 401 || code === 403)
          throw new SecretAccessError(
            `the operator may not read it (${code}): grant its ServiceAccount get on secrets in namespace ${namespace}`,
            false,
            { cause: error },
          );
        throw new SecretAccessError(`the API server answered ${code}`, true, { cause: error });
      }
      throw new SecretAccessError(errorMessage(error), true, { cause: error });
    }
    return Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value, 'base64').toString('utf8'),
      ]),
    );
  }
}
