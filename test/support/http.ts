import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface HttpAnswer {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** An HTTP answer, or no answer at all: `hang` keeps the connection open, `reset` drops it. */
export type Answer = HttpAnswer | 'hang' | 'reset';

/**
 * A local HTTP server standing in for a peer (a webhook receiver, a scrape target): it records
 * every request and answers with what `respond` returns. It can go down (connections refused on its
 * port) and come back up on the same port, as a peer that restarts does.
 */
export class StandInServer {
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly respond: (req: RecordedRequest) => Answer;
  private port: number | undefined;

  constructor(respond: (req: RecordedRequest) => Answer = () => ({ status: 200, body: 'ok' })) {
    this.respond = respond;
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        this.requests.push(recorded);
        const answer = this.respond(recorded);
        if (answer === 'hang') return;
        if (answer === 'reset') {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, {
          'content-type': answer.contentType ?? 'text/plain',
          ...answer.headers,
        });
        res.end(answer.body);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(this.port ?? 0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    if (this.port === undefined) throw new Error('the stand-in server is not listening yet');
    return `http://127.0.0.1:${this.port}`;
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** Stops listening (connections to its port are refused) and drops open connections. */
  async down(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (!this.server.listening) await this.listen();
  }

  close(): Promise<void> {
    return this.down();
  }
}
