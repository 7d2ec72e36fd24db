import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A local HTTP server standing in for a peer (a webhook receiver, a scrape target): it records
 * every request and answers with what `respond` returns.
 */
export class StandInServer {
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private respond: (req: RecordedRequest) => { status: number; body: string; contentType?: string };

  constructor(respond: StandInServer['respond'] = () => ({ status: 200, body: 'ok' })) {
    this.respond = respond;
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        this.requests.push(recorded);
        const answer = this.respond(recorded);
        res.writeHead(answer.status, { 'content-type': answer.contentType ?? 'text/plain' });
        res.end(answer.body);
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
