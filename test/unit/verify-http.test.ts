import { describe, expect, it } from '@jest/globals';
import type { HttpCheck } from '../../src/api/remediation.ts';
import {
  checkUrl,
  clusterServiceUrl,
  evaluateHttpResponse,
  fieldPath,
  jsonField,
  seeItYourself,
  shownUrl,
  unanswered,
  type HttpObservation,
} from '../../src/verify/http.ts';

const URL_ = 'http://api.shop.svc:8080/api/v1/health?token=abc';
const check = (overrides: Partial<HttpCheck> = {}): HttpCheck => ({
  url: URL_,
  expectedStatus: 200,
  interval: '10s',
  timeout: '5s',
  holdFor: '1m',
  ...overrides,
});
const withField = (jsonPath: string, expectedValue: string) => check({ jsonPath, expectedValue });

const GET = 'GET http://api.shop.svc:8080/api/v1/health';
const LOOK =
  'to see the answer: kubectl -n shop port-forward svc/api 8080, then curl http://localhost:8080/api/v1/health';
const answer = (status: number, body: string) => ({ status, body });

describe('evaluating an answer', () => {
  it.each<[string, HttpCheck, number, string, HttpObservation]>([
    ['the expected status', check(), 200, 'ok', { passed: true, message: `${GET} answered 200` }],
    [
      'another status',
      check(),
      503,
      '{"status":\n  "degraded"}',
      {
        passed: false,
        reason: 'UnexpectedStatus',
        message: `${GET} answered 503; expected status 200 (${LOOK})`,
      },
    ],
    [
      'a status other than 200 that is expected',
      check({ expectedStatus: 204 }),
      204,
      '',
      { passed: true, message: `${GET} answered 204` },
    ],
    [
      'the field as expected',
      withField('status', 'ok'),
      200,
      '{"status":"ok"}',
      {
        passed: true,
        message: `${GET} answered 200; field status equals the expected value`,
      },
    ],
    [
      'a nested field not as expected',
      withField('checks.db.status', 'up'),
      200,
      '{"checks":{"db":{"status":"down"}}}',
      {
        passed: false,
        reason: 'FieldMismatch',
        message: `${GET} answered 200; field checks.db.status did not equal the expected value (${LOOK})`,
      },
    ],
    [
      'a boolean field written as JSON',
      withField('checks[1].healthy', 'true'),
      200,
      '{"checks":[{"healthy":false},{"healthy":true}]}',
      {
        passed: true,
        message: `${GET} answered 200; field checks[1].healthy equals the expected value`,
      },
    ],
    [
      'a number is not its string',
      withField('code', '"200"'),
      200,
      '{"code":200}',
      {
        passed: false,
        reason: 'FieldMismatch',
        message: `${GET} answered 200; field code did not equal the expected value (${LOOK})`,
      },
    ],
    [
      'a missing field',
      withField('status', 'ok'),
      200,
      '{"state":"ok"}',
      {
        passed: false,
        reason: 'FieldMissing',
        message: `${GET} answered 200; the body has no field status (${LOOK})`,
      },
    ],
    [
      'a body that is not JSON',
      withField('status', 'ok'),
      200,
      '<html>ok</html>',
      {
        passed: false,
        reason: 'NotJson',
        message: `${GET} answered 200; the body is not JSON, so field status could not be compared (${LOOK})`,
      },
    ],
  ])('%s', (_what, c, status, body, expected) => {
    expect(evaluateHttpResponse(c, URL_, answer(status, body))).toEqual(expected);
  });

  it('never shows the query string', () => {
    const { message } = evaluateHttpResponse(check(), URL_, answer(500, 'x'));
    expect(message).not.toContain('token');
    expect(shownUrl('https://u:p@h/p?q#f')).toBe('https://h/p');
  });

  // What an endpoint answers is the tenant's to choose: a metadata-like endpoint's secret must not
  // reach the observation (and so status, Events or logs) whichever way the comparison goes.
  const CANARY = 'CANARY-4b1d-wJalrXUtnFEMI/K7MDENG';
  it.each<[string, HttpCheck, number, string]>([
    ['an unexpected status', check(), 500, `error: ${CANARY}`],
    [
      'a mismatching field',
      withField('SecretAccessKey', 'x'),
      200,
      JSON.stringify({ SecretAccessKey: CANARY }),
    ],
    [
      'a matching field',
      withField('SecretAccessKey', CANARY),
      200,
      JSON.stringify({ SecretAccessKey: CANARY }),
    ],
    ['a missing field', withField('Token', 'x'), 200, JSON.stringify({ SecretAccessKey: CANARY })],
    ['a body that is not JSON', withField('Token', 'x'), 200, `<p>${CANARY}</p>`],
  ])('echoes nothing of the body for %s', (_what, c, status, body) => {
    const observation = evaluateHttpResponse(c, URL_, answer(status, body));
    expect(JSON.stringify(observation)).not.toContain('CANARY');
  });

  it('says how to look for oneself, for a Service and for another URL', () => {
    expect(seeItYourself('http://api.shop.svc:8080/health?x=1')).toBe(
      'to see the answer: kubectl -n shop port-forward svc/api 8080, then curl http://localhost:8080/health',
    );
    expect(seeItYourself('https://status.example.com/health?token=t')).toBe(
      'to see the answer, curl https://status.example.com/health from a pod in the namespace',
    );
  });
});

describe('JSON field paths', () => {
  it('splits names and indexes', () => {
    expect(fieldPath('status')).toEqual(['status']);
    expect(fieldPath('checks[0].state')).toEqual(['checks', 0, 'state']);
    expect(fieldPath('a.b[2][3].c')).toEqual(['a', 'b', 2, 3, 'c']);
  });

  it('finds values, and only own fields of the right container', () => {
    const doc = { a: { b: [0, { c: null }] }, n: 1 };
    expect(jsonField(doc, 'a.b[1].c')).toEqual({ found: true, value: null });
    expect(jsonField(doc, 'a.b[5]')).toEqual({ found: false });
    expect(jsonField(doc, 'a[0]')).toEqual({ found: false });
    expect(jsonField(doc, 'n.x')).toEqual({ found: false });
    expect(jsonField(doc, 'a.toString')).toEqual({ found: false });
  });
});

describe('requests without an answer', () => {
  const error = (code: string, message = code) => Object.assign(new Error(message), { code });
  it.each([
    ['ERR_CANCELED', 'Timeout', `${GET}: no answer within 5s`],
    ['ECONNREFUSED', 'ConnectionRefused', `${GET}: connection refused`],
    ['ENOTFOUND', 'Unreachable', `${GET}: host not found`],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'Unreachable', `${GET}: TLS failure (ERR_TLS_CERT_ALTNAME_INVALID)`],
  ])('%s', (code, reason, message) => {
    expect(unanswered(URL_, 5000, error(code))).toEqual({ passed: false, reason, message });
  });

  it("repeats no transport error's text: it may carry what the far end sent", () => {
    const tls = error(
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "Host: x is not in the cert's altnames: DNS:CANARY.evil",
    );
    expect(unanswered(URL_, 5000, tls).message).not.toContain('CANARY');
    const parser = error('HPE_INVALID_HEADER_TOKEN', 'Parse Error: CANARY');
    expect(unanswered(URL_, 5000, parser).message).toBe(`${GET}: network error (HPE_INVALID_HEADER_TOKEN)`);
  });
});

describe('the endpoint', () => {
  const service = { name: 'api', port: 8080, path: '/api/v1/health', scheme: 'http' as const };
  it('is the URL, or the Service through in-cluster DNS or another resolver', () => {
    expect(checkUrl(check(), 'shop')).toBe(URL_);
    const byService: HttpCheck = { ...check(), url: undefined, service };
    expect(checkUrl(byService, 'shop')).toBe('http://api.shop.svc:8080/api/v1/health');
    expect(clusterServiceUrl({ ...service, scheme: 'https' }, 'shop')).toBe(
      'https://api.shop.svc:8080/api/v1/health',
    );
    expect(checkUrl(byService, 'shop', (s) => `http://127.0.0.1:9999${s.path}`)).toBe(
      'http://127.0.0.1:9999/api/v1/health',
    );
  });
});
