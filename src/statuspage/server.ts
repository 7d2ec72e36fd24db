// The public status page on its own address, served by every replica from the informer caches: no
// request reaches the API server, so the page keeps answering (from what the cache last saw) while
// the API server is down. Until the caches have been filled once it answers 503, since an empty
// cache would claim that all is well.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ObjectCache } from '@kubernetes/client-node';
import type { Incident } from '../api/incident.ts';
import type { StatusComponent } from '../api/statuscomponent.ts';
import type { Clock } from '../runtime/clock.ts';
import { close, listen } from '../runtime/httpserver.ts';
import { errorMessage, type Logger } from '../telemetry/logger.ts';
import { renderAtom } from './atom.ts';
import { renderBadge } from './badge.ts';
import { HTML_CSP, renderHtml, type PageInfo } from './html.ts';
import { buildStatusPage, type StatusPageModel } from './model.ts';
import { renderStatus, renderSummary } from './summary.ts';

export interface StatusPageServerOptions {
  components: ObjectCache<StatusComponent>;
  incidents: ObjectCache<Incident>;
  /** True while both caches are in sync; once it has been true, the page answers from them. */
  synced: () => boolean;
  title: string;
  /** The public URL, ending with /; undefined: http://<Host header>/ of each request. */
  url?: string;
  /** Only these namespaces' components and incidents (staging, say, stays off a public page). */
  namespaces?: readonly string[];
  clock: Clock;
  logger: Logger;
  /** How long one computed page is reused: a crowd refreshing during an outage costs one build a second. */
  reuseMs?: number;
}

interface Answer {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

const COMMON_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** A Host header that is a host name or address with an optional port, nothing else. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

const text = (status: number, body: string): Answer => ({ status, type: 'text/plain; charset=utf-8', body });

export class StatusPageServer {
  private readonly options: StatusPageServerOptions;
  private readonly server: Server;
  private filled = false;
  private built: { atMs: number; model: StatusPageModel } | undefined;

  constructor(options: StatusPageServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => this.handle(req, res));
  }

  listen(host: string, port: number): Promise<number> {
    return listen(this.server, host, port);
  }

  close(): Promise<void> {
    return close(this.server);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let answer: Answer;
    try {
      answer = this.answer(req);
    } catch (error) {
      this.options.logger.error({ err: errorMessage(error), path: req.url }, 'status page failed');
      answer = text(500, 'the status page failed; try again\n');
    }
    res.writeHead(answer.status, {
      ...COMMON_HEADERS,
      'content-type': answer.type,
      'content-length': Buffer.byteLength(answer.body),
      ...answer.headers,
    });
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }

  private answer(req: IncomingMessage): Answer {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return { ...text(405, 'only GET and HEAD\n'), headers: { allow: 'GET, HEAD' } };
    const url = new URL(req.url ?? '/', 'http://status.invalid');
    const page = this.pageInfo(req);
    if (!page) return text(400, 'the Host header is not a host name\n');
    this.filled ||= this.options.synced();
    if (!this.filled) return text(503, 'the status page is starting: its caches are not filled yet\n');
    const model = this.model();
    switch (url.pathname) {
      case '/':
      case '/index.html':
        return {
          status: 200,
          type: 'text/html; charset=utf-8',
          body: renderHtml(model, page),
          headers: { 'content-security-policy': HTML_CSP },
        };
      case '/api/v2/summary.json':
        return json(renderSummary(model, page));
      case '/api/v2/status.json':
        return json(renderStatus(model, page));
      case '/history.atom':
        return { status: 200, type: 'application/atom+xml; charset=utf-8', body: renderAtom(model, page) };
      case '/badge.svg': {
        const id = url.searchParams.get('component');
        const component = id === null ? undefined : model.components.find((c) => c.id === id);
        if (id !== null && !component) return text(404, 'no component with that id\n');
        return {
          status: 200,
          type: 'image/svg+xml; charset=utf-8',
          body: component
            ? renderBadge(component.name, component.status)
            : renderBadge('status', model.overall),
          headers: { 'content-security-policy': "default-src 'none'" },
        };
      }
      default:
        return text(404, 'not found\n');
    }
  }

  private pageInfo(req: IncomingMessage): PageInfo | undefined {
    const { title, url } = this.options;
    if (url) return { title, url };
    const host = req.headers.host ?? '';
    return HOST.test(host) ? { title, url: `http://${host}/` } : undefined;
  }

  private model(): StatusPageModel {
    const now = this.options.clock.now();
    const reuseMs = this.options.reuseMs ?? 1_000;
    if (this.built && now.getTime() - this.built.atMs < reuseMs && now.getTime() >= this.built.atMs)
      return this.built.model;
    const { components, incidents, namespaces } = this.options;
    const listed = <T>(cache: ObjectCache<T>) =>
      namespaces ? namespaces.flatMap((n) => cache.list(n)) : cache.list();
    const model = buildStatusPage({ components: listed(components), incidents: listed(incidents), now });
    this.built = { atMs: now.getTime(), model };
    return model;
  }
}

function json(value: unknown): Answer {
  return {
    status: 200,
    type: 'application/json; charset=utf-8',
    body: `${JSON.stringify(value, null, 2)}\n`,
    // Public data, meant for widgets on other sites (as Statuspage allows).
    headers: { 'access-control-allow-origin': '*' },
  };
}
