// Admission control the way clusters have it, for the tests that need the API server to refuse or
// delay a write: ValidatingAdmissionPolicies (CEL, in the API server) and a validating admission
// webhook (an HTTPS server here, its self-signed certificate made with openssl).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';

/**
 * A ValidatingAdmissionPolicy and its binding, limited to one namespace: writes matching `rules`
 * for which `expression` is false are denied with `reason` (Forbidden: HTTP 403, Invalid: 422).
 */
export async function denyInNamespace(
  kc: KubeConfig,
  name: string,
  namespace: string,
  {
    rules,
    expression,
    message,
    reason,
  }: {
    rules: { apiGroups: string[]; apiVersions: string[]; operations: string[]; resources: string[] }[];
    expression: string;
    message: string;
    reason: 'Forbidden' | 'Invalid';
  },
): Promise<() => Promise<void>> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  await api.createValidatingAdmissionPolicy({
    body: {
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: rules },
        validations: [{ expression, message, reason }],
      },
    },
  });
  await api.createValidatingAdmissionPolicyBinding({
    body: {
      metadata: { name },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
      },
    },
  });
  return async () => {
    await api.deleteValidatingAdmissionPolicyBinding({ name });
    await api.deleteValidatingAdmissionPolicy({ name });
  };
}

/** A validating admission webhook that allows every request after `delayMs`: a slow admission chain. */
export class SlowAdmissionWebhook {
  readonly reviewed: string[] = [];
  private readonly server: Server;
  private readonly cert: string;
  private readonly delayMs: number;

  constructor(delayMs: number) {
    this.delayMs = delayMs;
    const dir = mkdtempSync(join(tmpdir(), 'selfheal-admission-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ]),
      { stdio: 'pipe' },
    );
    this.cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    this.server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: this.cert }, (req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string; name?: string } };
        this.reviewed.push(review.request.name ?? '');
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: { uid: review.request.uid, allowed: true },
            }),
          );
        }, this.delayMs);
      });
    });
  }

  /** Serves, and registers for the creation of Incidents in `namespace`; returns the clean-up. */
  async register(kc: KubeConfig, name: string, namespace: string): Promise<() => Promise<void>> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    const api = kc.makeApiClient(AdmissionregistrationV1Api);
    await api.createValidatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name: 'slow.selfheal-e2e.dev',
            clientConfig: {
              url: `https://127.0.0.1:${port}/validate`,
              caBundle: Buffer.from(this.cert).toString('base64'),
            },
            rules: [
              {
                apiGroups: ['selfheal.dev'],
                apiVersions: ['*'],
                operations: ['CREATE'],
                resources: ['incidents'],
                scope: 'Namespaced',
              },
            ],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
            failurePolicy: 'Ignore',
            timeoutSeconds: 10,
          },
        ],
      },
    });
    return async () => {
      await api.deleteValidatingWebhookConfiguration({ name });
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    };
  }
}
