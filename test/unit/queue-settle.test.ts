import { describe, expect, it } from '@jest/globals';
import { SettleWindow } from '../../src/actions/queue/settle.ts';

describe('SettleWindow', () => {
  it('acknowledges up to the end of the confirmed prefix, never past an unconfirmed delivery', () => {
    const w = new SettleWindow<string>();
    for (const tag of [1, 2, 3, 4]) w.add(tag, `m${tag}`);
    expect(w.confirm(2)).toEqual([]);
    expect(w.confirm(3)).toEqual([]);
    expect(w.confirm(1)).toEqual(['m1', 'm2', 'm3']);
    expect(w.size).toBe(1);
    expect(w.confirm(4)).toEqual(['m4']);
    expect(w.size).toBe(0);
  });

  it('skips a delivery settled on its own (nacked) when the prefix passes it', () => {
    const w = new SettleWindow<string>();
    for (const tag of [5, 6, 7]) w.add(tag, `m${tag}`);
    expect(w.remove(6)).toBe(true);
    expect(w.remove(6)).toBe(false);
    expect(w.confirm(7)).toEqual([]);
    expect(w.confirm(5)).toEqual(['m5', 'm7']);
  });

  it('refuses a tag twice, and a confirm of a tag it does not hold', () => {
    const w = new SettleWindow<string>();
    w.add(1, 'a');
    expect(() => w.add(1, 'b')).toThrow('delivery tag 1 is already awaiting its confirm');
    expect(() => w.confirm(9)).toThrow('delivery tag 9 is not awaiting a confirm');
    w.clear();
    expect(w.size).toBe(0);
  });
});
