// The public status page on its own address, served by every replica from the informer caches: no
// request reaches the API server, so the page keeps answering (from what the cache last saw) while
// the API server is down. Until the caches have been filled once it answers 503, since an empty
// cache would claim that all is well. Only namespaces the install opted in speak on it.
//
// A request never builds the page: it is served from a rendered copy (bytes and an ETag). The copy is
// built again when the caches report a change (at most once per rebuildMs, so a burst of changes costs
// one build) or when it is refreshMs old (the days roll over, a "next update" passes), and each route
// is rendered once per build and page URL.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectCache } from '@kubernetes/client-node';
import type { Incident } from '../api/incident.ts';
import type { StatusComponent } from '../api/statuscomponent.ts';
import type { Clock } from '../runtime/clock.ts';
import { HttpService } from '../runtime/httpserver.ts';
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
  /**
   * Whether a namespace's components and incidents are on the page. A tenant writes its own
   * Incidents; the page speaks for the company, so a namespace is on it only when the install says so.
   */
  speaksFor: (namespace: string) => boolean;
  clock: Clock;
  logger: Logger;
  /** A change is shown at most this long after the previous build: a crowd or a burst costs one build. */
  rebuildMs?: number;
  /** The page is built again this often without a change: days roll over, due times pass. */
  refreshMs?: number;
}

interface Answer {
  status: number;
  type: string;
  body: string;
  headers?: Record<string, string>;
}

/** An answer as served: its bytes, and an ETag for conditional requests. */
interface Rendered {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

const COMMON_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** A Host header that is a host name or address with an optional port, nothing else. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/**
 * Rendered answers kept per build: every route for a few page URLs. Without --status-page-url the
 * URL comes from the Host header, so the number of distinct copies is bounded here, not by clients.
 */
const MAX_RENDERED = 64;

const text = (status: number, body: string): Answer => ({ status, type: 'text/plain; charset=utf-8', body });

export class StatusPageServer extends HttpService {
  private readonly options: StatusPageServerOptions;
  private filled = false;
  private built: { atMs: number; model: StatusPageModel } | undefined;
  /** The caches changed since the last build. */
  private changedSinceBuild = true;
  private readonly rendered = new Map<string, Rendered>();

  constructor(options: StatusPageServerOptions) {
    super();
    this.options = options;
  }

  /** The caches (components, incidents, namespaces) changed: the next request after rebuildMs sees it. */
  changed(): void {
    this.changedSinceBuild = true;
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    let rendered: Rendered;
    try {
      rendered = this.serve(req);
    } catch (error) {
      this.options.logger.error({ err: errorMessage(error), path: req.url }, 'status page failed');
      rendered = render(text(500, 'the status page failed; try again\n'));
    }
    const etag = rendered.headers.etag;
    if (typeof etag === 'string' && matches(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { ...COMMON_HEADERS, etag }).end();
      return;
    }
    res.writeHead(rendered.status, rendered.headers);
    res.end(req.method === 'HEAD' ? undefined : rendered.body);
  }

  private serve(req: IncomingMessage): Rendered {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return render({ ...text(405, 'only GET and HEAD\n'), headers: { allow: 'GET, HEAD' } });
    const url = new URL(req.url ?? '/', 'http://status.invalid');
    const page = this.pageInfo(req);
    if (!page) return render(text(400, 'the Host header is not a host name\n'));
    this.filled ||= this.options.synced();
    if (!this.filled)
      return render(text(503, 'the status page is starting: its caches are not filled yet\n'));
    const model = this.model();
    const component = url.searchParams.get('component');
    const key = `${page.url}\0${url.pathname}\0${url.pathname === '/badge.svg' ? (component ?? '') : ''}`;
    const copy = this.rendered.get(key);
    if (copy) return copy;
    const fresh = render(answer(model, page, url.pathname, component));
    // Only the pages themselves are kept: any path or id a client makes up is a cheap 404.
    if (fresh.status !== 200) return fresh;
    if (this.rendered.size >= MAX_RENDERED) this.rendered.delete(this.rendered.keys().next().value ?? '');
    this.rendered.set(key, fresh);
    return fresh;
  }

  private pageInfo(req: IncomingMessage): PageInfo | undefined {
    const { title, url } = this.options;
    if (url) return { title, url };
    const host = req.headers.host ?? '';
    return HOST.test(host) ? { title, url: `http://${host}/` } : undefined;
  }

  private model(): StatusPageModel {
    const nowMs = this.options.clock.now().getTime();
    const { rebuildMs = 1_000, refreshMs = 60_000 } = this.options;
    const built = this.built;
    const age = built ? nowMs - built.atMs : Number.POSITIVE_INFINITY;
    // A clock that went back is no reason to keep a copy forever.
    const due = age < 0 || age >= refreshMs || (this.changedSinceBuild && age >= rebuildMs);
    if (built && !due) return built.model;
    this.changedSinceBuild = false;
    this.rendered.clear();
    const { components, incidents, speaksFor } = this.options;
    const listed = <T extends { metadata?: { namespace?: string } }>(cache: ObjectCache<T>) =>
      cache.list().filter((o) => speaksFor(o.metadata?.namespace ?? ''));
    const model = buildStatusPage({
      components: listed(components),
      incidents: listed(incidents),
      now: new Date(nowMs),
    });
    this.built = { atMs: nowMs, model };
    return model;
  }
}

function answer(model: StatusPageModel, page: PageInfo, path: string, componentId: string | null): Answer {
  switch (path) {
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
      const component = componentId === null ? undefined : model.components.find((c) => c.id === componentId);
      if (componentId !== null && !component) return text(404, 'no component with that id\n');
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

/** If-None-Match names this ETag (weak comparison, as RFC 9110 asks for GET and HEAD). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

/** The answer's bytes with its headers; a 200 carries a strong ETag of its body. */
function render(a: Answer): Rendered {
  const body = Buffer.from(a.body);
  return {
    status: a.status,
    body,
    headers: {
      ...COMMON_HEADERS,
      'content-type': a.type,
      'content-length': body.length,
      ...(a.status === 200
        ? { etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` }
        : {}),
      ...a.headers,
    },
  };
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
