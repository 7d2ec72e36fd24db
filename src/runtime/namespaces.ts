// The namespaces an operator limited to Roles (--watch-namespaces) may read: each one's own object,
// by GET (a Role in a namespace grants that, never a list or watch of namespaces). Read again every
// interval, so a namespace's opt-out annotation takes effect within it; listeners hear of changes.
import type { CoreV1Api, V1Namespace } from '@kubernetes/client-node';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import type { ChangeListener } from './indexes.ts';

export class PolledNamespaces {
  private readonly core: CoreV1Api;
  private readonly names: readonly string[];
  private readonly intervalMs: number;
  private readonly logger: Logger;
  private readonly objects = new Map<string, V1Namespace>();
  private readonly listeners: ChangeListener<V1Namespace>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polledOnce = false;
  private failing = false;

  constructor(options: { core: CoreV1Api; names: readonly string[]; intervalMs: number; logger: Logger }) {
    this.core = options.core;
    this.names = options.names;
    this.intervalMs = options.intervalMs;
    this.logger = options.logger;
  }

  get hasSynced(): boolean {
    return this.polledOnce && !this.failing;
  }

  get hasSyncedOnce(): boolean {
    return this.polledOnce;
  }

  get(name: string): V1Namespace | undefined {
    return this.objects.get(name);
  }

  onChange(listener: ChangeListener<V1Namespace>): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.poll();
  }

  stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    return Promise.resolve();
  }

  private async poll(): Promise<void> {
    try {
      for (const name of this.names) {
        const namespace = await this.core.readNamespace({ name });
        const before = this.objects.get(name);
        this.objects.set(name, namespace);
        if (before?.metadata?.resourceVersion !== namespace.metadata?.resourceVersion)
          for (const listener of this.listeners) listener(`/${name}`, namespace, before ? 'update' : 'add');
      }
      this.polledOnce = true;
      this.failing = false;
    } catch (error) {
      this.failing = true;
      this.logger.warn({ err: errorMessage(error) }, 'reading the watched namespaces failed; retrying');
    }
    this.timer = setTimeout(() => void this.poll(), this.intervalMs);
  }
}
