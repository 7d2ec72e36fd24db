// The one HTTP server every endpoint of the operator runs on (the alert webhook, health and metrics,
// the public status page), with limits set here rather than Node's defaults: a client that sends
// its headers or its body a byte at a time (slowloris), or that opens connections and never uses
// them, is cut off within seconds, and the number of open connections is capped, so no client can
// hold the process's sockets or memory. The cap is per remote address as well as in all: one client
// holding every slot (and reconnecting as they are cut) would otherwise keep the kubelet's liveness
// probe out, and the operator would be restarted for it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ServerLimits {
  /** The request's headers must have arrived within this time of the connection's first byte. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must have arrived within this time. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /**
   * Connections beyond this many open at once are refused (closed at once). Node's headersTimeout
   * runs from the moment a connection opens, so one that never sends a byte is closed by it too.
   */
  maxConnections: number;
  /**
   * Connections beyond this many open at once from one remote address are closed at once, so that
   * one client cannot take the slots that the kubelet's probes and Prometheus need.
   */
  maxConnectionsPerAddress: number;
  /** How often the timeouts above are checked (Node's default of 30 s would let them overrun). */
  checkIntervalMs: number;
}

/**
 * Alertmanager sends a notification in well under a second and a browser its request at once; ten
 * seconds for headers and thirty for a body of at most --webhook-max-body-bytes leave room for a slow
 * network and none for a client that trickles.
 */
export const SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 512,
  // Far above what Alertmanager (one connection per notification, reused), a Prometheus scrape or a
  // browser (six per origin) holds open; 16 addresses are needed to fill the 512.
  maxConnectionsPerAddress: 32,
  checkIntervalMs: 1_000,
};

/** An HTTP endpoint: its handler on a server bounded by ServerLimits. */
export abstract class HttpService {
  protected readonly server: Server;

  constructor(limits: ServerLimits = SERVER_LIMITS) {
    this.server = createServer(
      {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: limits.checkIntervalMs,
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    this.server.maxConnections = limits.maxConnections;
    const open = new Map<string, number>();
    this.server.on('connection', (socket: Socket) => {
      // A socket already closed has no address left; there is nothing to count or refuse.
      const address = socket.remoteAddress;
      if (address === undefined) return;
      const count = (open.get(address) ?? 0) + 1;
      if (count > limits.maxConnectionsPerAddress) {
        socket.destroy();
        return;
      }
      open.set(address, count);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left > 0) open.set(address, left);
        else open.delete(address);
      });
    });
  }

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void;

  /** Listens and resolves with the port (the one asked for, or the one given for port 0). */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Closes at once, keep-alive connections included, so shutdown does not wait on idle clients. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
