// Kubernetes Events (events.k8s.io/v1) about the objects the operator acts on: what
// `kubectl describe incident` shows. Emitted on transitions only, never on every pass.
import { EventsV1Api, V1MicroTime, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';

/** The object an Event is about (any API object; timestamps may be strings or Dates). */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  record(regarding: EventSubject, type: 'Normal' | 'Warning', reason: string, note: string): Promise<void>;
}

export class KubeEventRecorder implements EventRecorder {
  private readonly api: EventsV1Api;
  private readonly controller: string;
  private readonly instance: string;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(
    kc: KubeConfig,
    options: { controller: string; instance: string; clock: Clock; logger: Logger },
  ) {
    this.api = kc.makeApiClient(EventsV1Api);
    this.controller = options.controller;
    this.instance = options.instance;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /** Best effort: an Event that cannot be written is logged, and never fails the reconcile. */
  async record(
    regarding: EventSubject,
    type: 'Normal' | 'Warning',
    reason: string,
    note: string,
  ): Promise<void> {
    const namespace = regarding.metadata?.namespace ?? 'default';
    const name = `${regarding.metadata?.name ?? 'object'}.${this.clock.now().getTime().toString(16)}${randomBytes(2).toString('hex')}`;
    try {
      await this.api.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          eventTime: new V1MicroTime(this.clock.now().getTime()),
          type,
          reason,
          action: reason,
          note: note.slice(0, 1024),
          reportingController: this.controller,
          reportingInstance: this.instance,
          regarding: {
            apiVersion: regarding.apiVersion,
            kind: regarding.kind,
            name: regarding.metadata?.name,
            namespace,
            uid: regarding.metadata?.uid,
            resourceVersion: regarding.metadata?.resourceVersion,
          },
        },
      });
    } catch (error) {
      this.logger.warn({ namespace, reason, err: errorMessage(error) }, 'could not record event');
    }
  }
}
