import { request } from 'node:https';

export interface HttpsResponse {
  status: number;
  body: string;
}

/** A GET against the local API server, trusting its self-signed certificate. */
export function httpsGet(url: string, { ca, token }: { ca: string; token: string }): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
