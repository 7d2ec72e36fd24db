// /healthz (the process serves), /readyz (every cache is in sync with the API server) and /metrics,
// on one port. Further routes (the alert webhook) can be mounted by whoever owns them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { HttpService } from '../runtime/httpserver.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface HealthServerOptions {
  registry: Registry;
  /** Names of the checks that fail readiness right now (empty: ready). */
  notReady: () => string[];
}

export class HealthServer extends HttpService {
  private readonly options: HealthServerOptions;

  constructor(options: HealthServerOptions) {
    super();
    this.options = options;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { registry, notReady } = this.options;
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const failing = notReady();
      if (failing.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${failing.join(', ')}\n`);
    } else if (path === '/metrics') {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }
}
