import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Severity } from '../../src/api/group.ts';
import { EgressPolicy } from '../../src/base/egress.ts';
import { MAX_RETRY_AFTER_MS } from '../../src/escalation/delivery.ts';
import {
  classifyAnswer,
  HttpPoster,
  redact,
  retriable,
  retryAfterMs,
  type Exchange,
} from '../../src/escalation/http.ts';
import {
  dedupKey,
  MAX_SUMMARY,
  pagerDutyEvent,
  type PagerDutyEvent,
} from '../../src/escalation/receivers/pagerduty.ts';
import {
  escapeMrkdwn,
  SLACK_LIMITS,
  SlackReceiver,
  slackMessage,
  type Block,
  type SlackMessage,
} from '../../src/escalation/receivers/slack.ts';
import {
  WebhookReceiver,
  webhookRequest,
  webhookSignature,
  type WebhookBody,
} from '../../src/escalation/receivers/webhook.ts';
import { summarize } from '../../src/escalation/summary.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import {
  escalatedIncident,
  escalatedStatus,
  GENERATOR_URL,
  notice,
  ROUTING_KEY,
} from './escalation-fixtures.ts';
import { incident, iso, MINUTE, UID } from './fixtures.ts';

describe('PagerDuty Events API v2 body', () => {
  it('triggers with the summary, severity, links and what automation tried', () => {
    expect(
      pagerDutyEvent(notice('trigger', escalatedIncident(), { reason: 'escalation level 1' }), ROUTING_KEY),
    ).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: `selfheal/${UID}`,
      payload: {
        summary: '[P1] checkout returns 500s (Deployment shop/checkout)',
        source: 'shop/deployment/checkout',
        severity: 'critical',
        timestamp: iso(-MINUTE),
        component: 'checkout',
        group: 'shop',
        class: 'CheckoutErrors',
        custom_details: {
          incident: 'shop/checkout-errors',
          phase: 'Escalated',
          why: 'escalation level 1',
          level: 1,
          target: 'Deployment shop/checkout',
          alert: 'CheckoutErrors',
          automation_tried: [
            'attempt-1 rolloutRestart: Failed (rollout did not complete within 300s)',
            'attempt-2 scale: Succeeded (scaled to 4)',
          ],
          next_deadline: `acknowledge by ${iso(15 * MINUTE)}`,
          check_first: ['deployed revision 7 at 08:48Z, 12 min before the alert', '1/3 replicas ready'],
          acknowledge_with: 'kubectl incident ack checkout-errors -n shop',
        },
      },
      links: [
        { href: GENERATOR_URL, text: 'Alert CheckoutErrors' },
        {
          href: 'https://grafana.example.com/d/k8s?var-namespace=shop&var-workload=checkout',
          text: 'Grafana',
        },
        { href: 'https://jaeger.example.com/search?service=checkout.shop', text: 'Jaeger' },
      ],
      client: 'selfheal',
      client_url: GENERATOR_URL,
    } satisfies PagerDutyEvent);
  });

  it.each<[Severity, string]>([
    ['P1', 'critical'],
    ['P2', 'error'],
    ['P3', 'warning'],
    ['P4', 'info'],
  ])('maps %s to %s', (severity, expected) => {
    const event = pagerDutyEvent(notice('trigger', escalatedIncident({ spec: { severity } })), ROUTING_KEY);
    expect(event?.payload?.severity).toBe(expected);
  });

  it.each(['acknowledge', 'resolve'] as const)(
    '%s names the alert by the same dedup_key, nothing else',
    (event) => {
      expect(pagerDutyEvent(notice(event), ROUTING_KEY)).toEqual({
        routing_key: ROUTING_KEY,
        event_action: event,
        dedup_key: `selfheal/${UID}`,
      });
    },
  );

  it('has no update event', () => {
    expect(pagerDutyEvent(notice('update'), ROUTING_KEY)).toBeUndefined();
  });

  it('keeps the dedup_key through restarts: it depends on the uid only', () => {
    const before = summarize(escalatedIncident());
    const after = summarize(
      escalatedIncident({
        metadata: { resourceVersion: '999' },
        status: escalatedStatus({ phase: 'Acknowledged' }),
      }),
    );
    expect(dedupKey(after)).toBe(dedupKey(before));
    expect(dedupKey(before).length).toBeLessThanOrEqual(255);
    expect(() => dedupKey(summarize(incident({ metadata: { uid: undefined } })))).toThrow(
      'incident shop/checkout-errors has no metadata.uid: no stable dedup_key can be derived',
    );
  });

  it('cuts the summary to 1024 characters and names a manual incident without a target', () => {
    const long = summarize(incident({ spec: { title: 'x'.repeat(2000), target: undefined } }));
    const event = pagerDutyEvent({ event: 'trigger', summary: long }, ROUTING_KEY);
    expect(event?.payload?.summary).toHaveLength(MAX_SUMMARY);
    expect(event?.payload).toMatchObject({
      source: 'shop/incident/checkout-errors',
      class: 'manual incident',
      custom_details: { automation_tried: ['nothing: no automated action ran'] },
    });
  });
});

/** The mrkdwn a message carries (Slack parses links and mentions there, not in plain_text). */
function mrkdwnTexts(message: SlackMessage): string[] {
  return [
    message.text,
    ...message.blocks
      .flatMap((b) => {
        if (b.type === 'section') return [b.text, ...(b.fields ?? [])];
        if (b.type === 'context') return b.elements;
        return [];
      })
      .filter((t) => t?.type === 'mrkdwn')
      .map((t) => t?.text ?? ''),
  ];
}

/** Every text object in a message, wherever it sits. */
function texts(blocks: Block[]): string[] {
  return blocks.flatMap((b) => {
    if (b.type === 'header') return [b.text.text];
    if (b.type === 'section') return [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text)];
    if (b.type === 'context') return b.elements.map((e) => e.text);
    return [];
  });
}

describe('Slack Block Kit message', () => {
  it('pages with severity, title, target, phase, attempts, deadline, context, ack command and links', () => {
    const message = slackMessage(notice('trigger', escalatedIncident(), { reason: 'escalation level 1' }));
    const all = texts(message.blocks).join('\n');
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: ':red_circle: P1 incident: checkout returns 500s', emoji: true },
    });
    for (const fact of [
      '*Severity*\nP1',
      '*Phase*\nEscalated (escalation level 1)',
      '*Target*\nDeployment shop/checkout',
      `*Next deadline*\nacknowledge by ${iso(15 * MINUTE)}`,
      '*Why now:* escalation level 1',
      '• attempt-1 rolloutRestart: Failed (rollout did not complete within 300s)',
      '• attempt-2 scale: Succeeded (scaled to 4)',
      '• 1/3 replicas ready',
      '*Take it:* `kubectl incident ack checkout-errors -n shop`',
      `<${GENERATOR_URL}|Alert CheckoutErrors>`,
      '<https://grafana.example.com/d/k8s?var-namespace=shop&var-workload=checkout|Grafana>',
    ])
      expect(all).toContain(fact);
    expect(message.text).toBe(
      '[P1] P1 incident: checkout returns 500s (Deployment shop/checkout) · Take it: kubectl incident ack checkout-errors -n shop',
    );
  });

  it.each([
    [
      'acknowledge',
      { acknowledgedBy: 'bob' },
      {},
      ':red_circle: Acknowledged by bob: checkout returns 500s',
      '*bob* took the incident',
    ],
    [
      'update',
      {},
      { update: { time: iso(20 * MINUTE), author: 'bob', message: 'rolling back <now>' } },
      ':red_circle: Update from bob: checkout returns 500s',
      '>rolling back &lt;now&gt;',
    ],
    [
      'update',
      {},
      { reminder: 'cadence' },
      ':red_circle: Update due: checkout returns 500s',
      'kubectl incident update checkout-errors -n shop --message',
    ],
    [
      'update',
      {},
      {
        reminder: 'statusPage',
        reason: 'The playbook asks P1 incidents for a public status page update within 15m of opening.',
      },
      ':red_circle: Update due: checkout returns 500s',
      'A public status page update is due. The playbook asks P1 incidents for a public status page update within 15m of opening. Post one with `kubectl incident update checkout-errors -n shop --public "..." --status investigating`',
    ],
    [
      'update',
      {},
      { reason: 'automation could not fix it: 3 of 3 attempts used' },
      ':red_circle: Update: checkout returns 500s',
      'automation could not fix it: 3 of 3 attempts used',
    ],
    [
      'resolve',
      { resolution: { resolvedBy: 'carol', note: 'rolled back' } },
      {},
      ':red_circle: Resolved by carol: checkout returns 500s',
      '>rolled back',
    ],
  ] as const)('%s: its own header and lead', (event, spec, extra, header, lead) => {
    const message = slackMessage(notice(event, escalatedIncident({ spec }), extra));
    expect(message.blocks[0]).toMatchObject({ type: 'header', text: { text: header } });
    expect(texts(message.blocks).join('\n')).toContain(lead);
  });

  it('asks for the ack only while nobody has it', () => {
    const taken = slackMessage(notice('update', escalatedIncident({ spec: { acknowledgedBy: 'bob' } })));
    expect(texts(taken.blocks).join('\n')).not.toContain('kubectl incident ack');
    expect(taken.text).not.toContain('kubectl incident ack');
  });

  it("escapes Slack's control characters and stays within Block Kit's limits", () => {
    const attempts = Array.from({ length: 32 }, (_, i) => ({
      id: `attempt-${i + 1}`,
      action: 'rolloutRestart' as const,
      actionIndex: 0,
      startedAt: iso(i * MINUTE),
      result: 'Failed' as const,
      message: 'm'.repeat(1024),
    }));
    const message = slackMessage(
      notice(
        'trigger',
        escalatedIncident({
          spec: { title: `<!channel> & ${'t'.repeat(300)}` },
          status: escalatedStatus({ attempts, context: Array.from({ length: 10 }, () => 'c'.repeat(256)) }),
        }),
      ),
    );
    expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    for (const block of message.blocks) {
      if (block.type === 'header')
        expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
      if (block.type === 'section') {
        expect((block.text?.text ?? '').length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        expect((block.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
        for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
      }
    }
    const all = texts(message.blocks).join('\n');
    expect(all).toContain('22 earlier attempt(s) not shown');
    expect(mrkdwnTexts(message).join('\n')).not.toContain('<!channel>');
    expect(message.text).toContain('&lt;!channel&gt; &amp;');
    expect(escapeMrkdwn('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
  });
});

describe('generic webhook', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  it('signs "<timestamp>.<body>" with HMAC-SHA256 (a vector computed with openssl)', () => {
    // printf '%s' '1767225600.{"event":"trigger"}' | openssl dgst -sha256 -hmac whsec_test_secret
    expect(webhookSignature('whsec_test_secret', '1767225600', '{"event":"trigger"}')).toBe(
      'v1=64a9d45933109db480b542df7aeaa3d5d412471601c6fd9d83ee8f4efecf6cb8',
    );
  });

  it('sends the summary as JSON with event, delivery id, timestamp and signature headers', () => {
    const n = notice('trigger', escalatedIncident(), {
      deliveryId: 'oncall-hook/trigger/1',
      reason: 'level 1',
    });
    const request = webhookRequest(n, now, 'whsec_test_secret');
    const body = JSON.parse(request.body) as WebhookBody;
    expect(body).toEqual({
      version: '1',
      event: 'trigger',
      deliveryId: 'oncall-hook/trigger/1',
      reason: 'level 1',
      level: 1,
      sentAt: '2026-01-01T00:00:00.000Z',
      incident: JSON.parse(JSON.stringify(n.summary)) as unknown,
    });
    expect(request.headers).toEqual({
      'x-selfheal-event': 'trigger',
      'x-selfheal-delivery': 'oncall-hook/trigger/1',
      'x-selfheal-timestamp': '1767225600',
      'x-selfheal-signature': webhookSignature('whsec_test_secret', '1767225600', request.body),
    });
  });

  it('sends no signature without a signing secret', () => {
    expect(webhookRequest(notice('resolve'), now).headers).not.toHaveProperty('x-selfheal-signature');
  });
});

describe('classifying an answer', () => {
  const clock = new ManualClock('2026-01-01T00:00:00Z');
  const exchange: Exchange = {
    who: 'pagerduty receiver "oncall"',
    receiver: 'oncall',
    peer: 'PagerDuty at https://events.pagerduty.com',
    secrets: [ROUTING_KEY],
  };
  const answer = (status: number, headers: Record<string, string> = {}, body = '') => ({
    status,
    headers,
    body,
  });
  const classify = (status: number, headers: Record<string, string> = {}, body = '') =>
    classifyAnswer(exchange, answer(status, headers, body), clock, (a) => (a.body ? `: ${a.body}` : ''));

  it.each([
    [202, 'delivered'],
    [200, 'delivered'],
    [400, 'failed'],
    [401, 'failed'],
    [403, 'failed'],
    [404, 'failed'],
    [410, 'failed'],
    [413, 'failed'],
    [302, 'failed'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
  ])('%i: %s', (status, outcome) => {
    const result = classify(status);
    expect(result.outcome).toBe(outcome);
    expect(result.message).toMatch(/^pagerduty receiver "oncall": /);
    expect(retriable(status)).toBe(outcome === 'retry');
  });

  it('says a final failure is not retried', () => {
    expect(classify(400, {}, 'Event object is invalid').message).toBe(
      'pagerduty receiver "oncall": PagerDuty at https://events.pagerduty.com answered 400: Event object is invalid (not retried: retrying cannot help)',
    );
  });

  it("takes 429's Retry-After as the minimum delay, in seconds or as a date", () => {
    expect(classify(429, { 'retry-after': '7' })).toMatchObject({ outcome: 'retry', retryAfterMs: 7000 });
    expect(classify(503, { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' })).toMatchObject({
      outcome: 'retry',
      retryAfterMs: 30_000,
    });
    expect(classify(429)).not.toHaveProperty('retryAfterMs');
  });

  it('never repeats a credential the peer echoes', () => {
    const result = classify(400, {}, `invalid routing key ${ROUTING_KEY}`);
    expect(result.message).not.toContain(ROUTING_KEY);
    expect(result.message).toContain('invalid routing key [redacted]');
  });

  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Thu, 01 Jan 2026 00:01:00 GMT', 60_000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['soon', undefined],
    ['-5', undefined],
    [undefined, undefined],
    // A tenant's receiver chooses the header: held to an hour, never a delay no Date can hold.
    ['99999999999999', MAX_RETRY_AFTER_MS],
    ['3601', MAX_RETRY_AFTER_MS],
    ['Fri, 31 Dec 9999 23:59:59 GMT', MAX_RETRY_AFTER_MS],
  ])('Retry-After %p is %p ms', (value, ms) => {
    expect(retryAfterMs(value, clock.now())).toBe(ms);
  });

  it('redacts every occurrence, and nothing for absent secrets', () => {
    expect(redact('a SECRET b SECRET', ['SECRET!', undefined, 'SECRET'])).toBe('a [redacted] b [redacted]');
    // Too short to tell from ordinary words: left alone rather than mangling the message.
    expect(redact('a b c', ['b'])).toBe('a b c');
  });
});

describe("a tenant's receiver answer is never echoed", () => {
  const CANARY = 'CANARY-7f3a9 SecretAccessKey=wJalrXUtnFEMI';
  let server: Server;
  let base = '';
  let answered: { status: number; body: string } = { status: 401, body: CANARY };
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(answered.status, { 'content-type': 'text/plain' });
      res.end(answered.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const egress = new EgressPolicy({ allow: [], lifted: ['loopback'], selfAddresses: [] });
  const http = new HttpPoster(2000, egress);
  const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
  const sent = notice('trigger', escalatedIncident(), { reason: 'escalation level 1' });

  it('a webhook: its status and size only', async () => {
    answered = { status: 401, body: CANARY };
    const result = await new WebhookReceiver({ http, clock }).send(sent, 'team-hook', {
      type: 'webhook',
      url: `${base}/hook`,
    });
    expect(result).toEqual({
      outcome: 'failed',
      receiver: 'team-hook',
      status: 401,
      message: `webhook receiver "team-hook": the webhook at ${base} answered 401 (${CANARY.length} bytes) (not retried: retrying cannot help)`,
    });
    expect(JSON.stringify(result)).not.toContain('CANARY');
  });

  it("Slack: one of Slack's own error words, or else the size", async () => {
    const slack = new SlackReceiver({ http, clock });
    answered = { status: 404, body: 'no_service' };
    expect(
      (await slack.send(sent, 'channel', { type: 'slack', webhookUrl: `${base}/services/T/B/X` })).message,
    ).toContain('answered 404: no_service');
    answered = { status: 400, body: CANARY };
    const result = await slack.send(sent, 'channel', { type: 'slack', webhookUrl: `${base}/services/T/B/X` });
    expect(result.message).toContain(`answered 400 (${CANARY.length} bytes)`);
    expect(result.message).not.toContain('CANARY');
  });

  it('a receiver URL the egress policy refuses is not requested', async () => {
    const strict = new HttpPoster(2000, new EgressPolicy({ allow: [], lifted: [], selfAddresses: [] }));
    const result = await new WebhookReceiver({ http: strict, clock }).send(sent, 'team-hook', {
      type: 'webhook',
      url: `${base}/hook`,
    });
    expect(result.outcome).toBe('retry');
    expect(result.message).toContain('127.0.0.1 is a loopback address');
  });
});
