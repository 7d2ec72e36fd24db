import { describe, expect, it } from '@jest/globals';
import { draftMarkdown, draftName } from '../../src/incidents/postmortem.ts';
import { incident, iso, MINUTE } from './fixtures.ts';

// The post-mortem draft's ConfigMap: its name (the API server's rules for names) and its Markdown,
// filled in from the status.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const named = (name: string, uid = '3f2c9a1e-0000-4000-8000-000000000001') =>
  incident({ metadata: { name, uid } });

describe('draftName', () => {
  it.each([
    { name: 'a short name', incidentName: 'checkout-down', expected: 'checkout-down-postmortem' },
    {
      name: 'the longest that fits whole',
      incidentName: 'a'.repeat(242),
      expected: `${'a'.repeat(242)}-postmortem`,
    },
  ])('$name: <incident>-postmortem', ({ incidentName, expected }) => {
    expect(draftName(named(incidentName))).toBe(expected);
  });

  it.each([
    { name: 'one character too long', incidentName: 'a'.repeat(243) },
    { name: 'cut after a dash', incidentName: `${'a'.repeat(232)}-${'b'.repeat(20)}` },
    { name: 'cut after a dot', incidentName: `${'a'.repeat(232)}.${'b'.repeat(20)}` },
    {
      name: 'one short of the longest (cut in the suffix, it used to end in a dash)',
      incidentName: 'd'.repeat(252),
    },
    { name: 'the longest name there is', incidentName: 'c'.repeat(253) },
  ])('$name: a valid name the API server accepts, told apart by the uid', ({ incidentName }) => {
    const first = draftName(named(incidentName));
    const second = draftName(named(incidentName, '9a0b1c2d-0000-4000-8000-000000000002'));
    for (const name of [first, second]) {
      expect(name.length).toBeLessThanOrEqual(253);
      expect(name).toMatch(DNS_SUBDOMAIN);
      expect(name.endsWith('-postmortem')).toBe(true);
    }
    expect(first).toContain('-3f2c9a1e-postmortem');
    expect(first).not.toBe(second);
  });
});

describe('draftMarkdown', () => {
  it('fills in what the status knows: timeline, attempts, resolution, people; leaves the rest to fill', () => {
    const inc = incident({
      spec: {
        description: 'the checkout returns 500s to every user',
        acknowledgedBy: 'alice',
        roles: { incidentCommander: 'alice', scribe: 'carol' },
        resolution: { resolvedBy: 'alice', note: 'rolled back' },
      },
      status: {
        phase: 'Resolved',
        openedAt: iso(0),
        resolvedAt: iso(30 * MINUTE),
        postMortem: { required: true, dueAt: iso(30 * MINUTE + 48 * 60 * MINUTE) },
        attempts: [
          {
            id: 'attempt-1',
            action: 'rolloutRestart',
            startedAt: iso(MINUTE),
            finishedAt: iso(6 * MINUTE),
            result: 'Failed',
            message: 'rollout did not complete within 300s',
          },
        ],
        conditions: [
          {
            type: 'ResponseSLABreached',
            status: 'True',
            reason: 'NotAcknowledgedInTime',
            message: 'not acknowledged',
            lastTransitionTime: iso(15 * MINUTE),
          },
          {
            type: 'Resolved',
            status: 'True',
            reason: 'ResolvedByPerson',
            message: 'resolved by alice: rolled back',
            lastTransitionTime: iso(30 * MINUTE),
          },
        ],
        timeline: [
          { time: iso(0), type: 'Open', message: 'P1 incident opened: checkout returns 500s' },
          { time: iso(30 * MINUTE), type: 'Resolved', message: 'resolved by alice: rolled back' },
        ],
      },
    });
    expect(draftMarkdown(inc)).toBe(
      [
        '# Post-mortem: checkout returns 500s',
        '',
        `Incident \`shop/checkout-errors\`, P1. Draft written by selfheal; due ${iso(30 * MINUTE + 48 * 60 * MINUTE)}.`,
        '',
        '## Summary',
        '',
        'the checkout returns 500s to every user',
        '',
        '## Impact',
        '',
        '- Target: Deployment shop/checkout',
        `- Opened: ${iso(0)}; resolved: ${iso(30 * MINUTE)}`,
        '- Response target met: no; resolution target met: yes',
        '',
        '## People',
        '',
        '- incidentCommander: alice',
        '- scribe: carol',
        '- acknowledged by: alice',
        '',
        '## Timeline',
        '',
        `- ${iso(0)} Open: P1 incident opened: checkout returns 500s`,
        `- ${iso(30 * MINUTE)} Resolved: resolved by alice: rolled back`,
        '',
        '## What automation tried',
        '',
        '- attempt-1 rolloutRestart: Failed (rollout did not complete within 300s)',
        '',
        '## Resolution',
        '',
        'resolved by alice: rolled back',
        '',
        '## What went well',
        '',
        '- ',
        '',
        '## What went wrong',
        '',
        '- ',
        '',
        '## Root cause',
        '',
        '(to fill in)',
        '',
        '## Action items',
        '',
        '- [ ] ',
        '',
      ].join('\n'),
    );
  });
});
