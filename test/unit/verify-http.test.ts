import { describe, expect, it } from '@jest/globals';
import type { HttpCheck } from '../../src/api/remediation.ts';
import {
  checkUrl,
  clusterServiceUrl,
  evaluateHttpResponse,
  fieldPath,
  jsonField,
  shownUrl,
  summariseBody,
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

describe('evaluating an answer', () => {
  it.each<[string, HttpCheck, number, string, HttpObservation]>([
    [
      'the expected status',
      check(),
      200,
      'ok',
      { passed: true, message: 'GET http://api.shop.svc:8080/api/v1/health answered 200' },
    ],
    [
      'another status, with the body summarised',
      check(),
      503,
      '{"status":\n  "degraded"}',
      {
        passed: false,
        reason: 'UnexpectedStatus',
        message:
          'GET http://api.shop.svc:8080/api/v1/health answered 503 (expected 200): {"status": "degraded"}',
      },
    ],
    [
      'a status other than 200 that is expected',
      check({ expectedStatus: 204 }),
      204,
      '',
      { passed: true, message: 'GET http://api.shop.svc:8080/api/v1/health answered 204' },
    ],
    [
      'the field as expected',
      withField('status', 'ok'),
      200,
      '{"status":"ok"}',
      { passed: true, message: 'GET http://api.shop.svc:8080/api/v1/health answered 200 with status "ok"' },
    ],
    [
      'a nested field not as expected',
      withField('checks.db.status', 'up'),
      200,
      '{"checks":{"db":{"status":"down"}}}',
      {
        passed: false,
        reason: 'FieldMismatch',
        message:
          'GET http://api.shop.svc:8080/api/v1/health answered 200 with checks.db.status "down" (expected "up")',
      },
    ],
    [
      'a boolean field written as JSON',
      withField('checks[1].healthy', 'true'),
      200,
      '{"checks":[{"healthy":false},{"healthy":true}]}',
      {
        passed: true,
        message: 'GET http://api.shop.svc:8080/api/v1/health answered 200 with checks[1].healthy true',
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
        message:
          'GET http://api.shop.svc:8080/api/v1/health answered 200 with code 200 (expected "\\"200\\"")',
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
        message:
          'GET http://api.shop.svc:8080/api/v1/health answered 200 without the field status: {"state":"ok"}',
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
        message:
          'GET http://api.shop.svc:8080/api/v1/health answered 200 but the body is not JSON (status expected "ok"): <html>ok</html>',
      },
    ],
  ])('%s', (_what, c, status, body, expected) => {
    expect(evaluateHttpResponse(c, URL_, { status, body })).toEqual(expected);
  });

  it('never shows the query string, and shortens a long body', () => {
    const { message } = evaluateHttpResponse(check(), URL_, { status: 500, body: 'x'.repeat(500) });
    expect(message).not.toContain('token');
    expect(message).toContain(`${'x'.repeat(200)}…`);
    expect(summariseBody('  ')).toBe('(empty body)');
    expect(shownUrl('https://u:p@h/p?q#f')).toBe('https://h/p');
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
    ['ERR_CANCELED', 'Timeout', 'GET http://api.shop.svc:8080/api/v1/health: no answer within 5000 ms'],
    ['ECONNREFUSED', 'ConnectionRefused', 'GET http://api.shop.svc:8080/api/v1/health: connection refused'],
    ['ENOTFOUND', 'Unreachable', 'GET http://api.shop.svc:8080/api/v1/health: ENOTFOUND'],
  ])('%s', (code, reason, message) => {
    expect(unanswered(URL_, 5000, error(code))).toEqual({ passed: false, reason, message });
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
