// Bare HTTP(S) requests on keep-alive connections, timed on this process's monotonic clock: the
// load the benchmarks send (webhook notifications, API server PATCHes and creates) and the API
// server's watches, with nothing between the request and the socket that could blur a figure.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

export interface Reply {
  status: number;
  body: string;
  /** From just before the request was written to the end of the reply, ms. */
  ms: number;
}

export interface Endpoint {
  /** Base URL, e.g. https://127.0.0.1:6443 or http://127.0.0.1:9000. */
  base: string;
  headers?: Record<string, string>;
  ca?: string;
  /** Connections kept open to this endpoint, at most. */
  maxSockets?: number;
}

export class HttpClient {
  readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly agent: HttpAgent;
  private readonly secure: boolean;

  constructor({ base, headers = {}, ca, maxSockets = 256 }: Endpoint) {
    this.base = base.replace(/\/+$/, '');
    this.headers = headers;
    this.secure = this.base.startsWith('https:');
    this.agent = this.secure
      ? new HttpsAgent({ keepAlive: true, maxSockets, ...(ca ? { ca } : {}) })
      : new HttpAgent({ keepAlive: true, maxSockets });
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    { contentType = 'application/json', timeoutMs = 60_000 } = {},
  ): Promise<Reply> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = (this.secure ? httpsRequest : httpRequest)(
        this.base + path,
        {
          method,
          agent: this.agent,
          headers: {
            ...this.headers,
            ...(payload === undefined
              ? {}
              : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - started,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${this.base}${path} timed out after ${timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request whose reply must be 2xx; returns the parsed JSON body. */
  async json<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const reply = await this.request(method, path, body, contentType ? { contentType } : {});
    if (reply.status < 200 || reply.status >= 300)
      throw new Error(`${method} ${path}: HTTP ${reply.status}: ${reply.body.slice(0, 500)}`);
    return JSON.parse(reply.body) as T;
  }

  /**
   * A streaming GET (a watch): calls `onLine` for every newline-terminated line of the reply until
   * it ends; resolves with the status, or rejects on a connection error. `abort` ends it.
   */
  stream(path: string, onLine: (line: string) => void): { done: Promise<number>; abort: () => void } {
    let response: IncomingMessage | undefined;
    let aborted = false;
    const req = (this.secure ? httpsRequest : httpRequest)(this.base + path, {
      method: 'GET',
      headers: this.headers,
      ...(this.secure ? { ca: (this.agent as HttpsAgent).options.ca } : {}),
    });
    const done = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        response = res;
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
            const line = buffered.slice(0, newline);
            buffered = buffered.slice(newline + 1);
            if (line.trim()) onLine(line);
          }
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', (error) => (aborted ? resolve(res.statusCode ?? 0) : reject(error)));
      });
      req.on('error', (error) => (aborted ? resolve(0) : reject(error)));
    });
    req.end();
    return {
      done,
      abort: () => {
        aborted = true;
        response?.destroy();
        req.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A client for the local control plane's API server, as its admin (the kubeconfig's token). */
export function apiServerClient(
  controlPlane: { server: string; caFile: string; token: string },
  maxSockets?: number,
) {
  return new HttpClient({
    base: controlPlane.server,
    ca: readFileSync(controlPlane.caFile, 'utf8'),
    headers: { authorization: `Bearer ${controlPlane.token}`, 'user-agent': 'selfheal-bench' },
    ...(maxSockets ? { maxSockets } : {}),
  });
}
