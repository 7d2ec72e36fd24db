// Metric labels stay within a bounded set whatever names arrive from outside: a flood of made-up
// alert names adds at most MAX_ALERTNAME_LABELS series, the rest counted under `other`.
import { describe, expect, it } from '@jest/globals';
import { BoundedLabel, MAX_ALERTNAME_LABELS, Metrics, OTHER_LABEL } from '../../src/telemetry/metrics.ts';

describe('bounded metric labels', () => {
  it('counts unmatched alerts under at most MAX_ALERTNAME_LABELS names, the rest as other', async () => {
    const metrics = new Metrics({ processMetrics: false });
    for (let i = 0; i < MAX_ALERTNAME_LABELS + 500; i++)
      metrics.alertsUnmatched.inc({ alertname: `Made${i}` });
    metrics.alertsUnmatched.inc({ alertname: 'Made0' });
    metrics.alertsUnmatched.inc({ alertname: 'x'.repeat(10_000) });
    const { values } = (await metrics.registry.getSingleMetric('selfheal_alerts_unmatched_total')?.get()) ?? {
      values: [],
    };
    expect(values).toHaveLength(MAX_ALERTNAME_LABELS + 1);
    const byName = new Map(values.map((v) => [v.labels.alertname, v.value]));
    expect(byName.get('Made0')).toBe(2);
    expect(byName.get(OTHER_LABEL)).toBe(501);
  });

  it('keeps a value it has seen, and never lets a value pose as the overflow', () => {
    const label = new BoundedLabel(2);
    expect([
      label.value('a'),
      label.value(OTHER_LABEL),
      label.value('b'),
      label.value('c'),
      label.value('a'),
    ]).toEqual(['a', OTHER_LABEL, 'b', OTHER_LABEL, 'a']);
  });
});
