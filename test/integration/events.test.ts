import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, EventsV1Api, type EventsV1Event, type V1ConfigMap } from '@kubernetes/client-node';
import { ManualClock } from '../../src/runtime/clock.ts';
import { KubeEventRecorder } from '../../src/runtime/events.ts';
import { apiClients } from '../../src/runtime/kube.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createTestNamespace, kubeConfigFor } from '../support/kube.ts';

// The Event recorder against the real API server, with client-go's correlation rules: a repeat
// within ten minutes is a count on the first Event (`series`), not a new object; a different note
// is a different Event; and one object gets at most 25 Events before its budget slows it down.
const kc = kubeConfigFor('integration');
const core = kc.makeApiClient(CoreV1Api);
const eventsApi = kc.makeApiClient(EventsV1Api);
let namespace: string;

beforeAll(async () => {
  namespace = await createTestNamespace(kc, 'events');
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

async function subject(name: string): Promise<V1ConfigMap> {
  return core.createNamespacedConfigMap({ namespace, body: { metadata: { name } } });
}

async function eventsAbout(name: string): Promise<EventsV1Event[]> {
  const list = await eventsApi.listNamespacedEvent({ namespace });
  return list.items
    .filter((event) => event.regarding?.name === name)
    .sort((a, b) => (a.note ?? '').localeCompare(b.note ?? ''));
}

function recorder(clock: ManualClock) {
  return new KubeEventRecorder(apiClients(kc, { userAgent: 'selfheal-events-test', timeoutMs: 10_000 }), {
    controller: 'selfheal.dev/test',
    instance: 'test-1',
    clock,
    logger: silentLogger,
  });
}

describe('Events as client-go correlates them', () => {
  it('counts repeats within ten minutes on one Event, and starts a new one for another note or after the window', async () => {
    const clock = new ManualClock(new Date('2026-12-02T07:00:00Z'));
    const events = recorder(clock);
    const regarding = await subject('repeated');
    for (let i = 0; i < 5; i++) {
      await events.record(regarding, 'Warning', 'AttemptFailed', 'the rollout did not complete');
      clock.advance(60_000);
    }
    await events.record(regarding, 'Normal', 'AttemptStarted', 'attempt-2: restart');
    await events.drain();

    const within = await eventsAbout('repeated');
    expect(within.map((e) => [e.reason, e.type, e.note, e.series?.count])).toEqual([
      ['AttemptStarted', 'Normal', 'attempt-2: restart', undefined],
      ['AttemptFailed', 'Warning', 'the rollout did not complete', 5],
    ]);
    const failed = within.find((e) => e.reason === 'AttemptFailed');
    // The series ends at the fifth repeat, four minutes after the first.
    expect(new Date(failed?.series?.lastObservedTime ?? 0).toISOString()).toBe('2026-12-02T07:04:00.000Z');
    expect(failed).toMatchObject({
      reportingController: 'selfheal.dev/test',
      reportingInstance: 'test-1',
      regarding: { name: 'repeated', uid: regarding.metadata?.uid },
    });

    // Past the ten-minute window the same Event is a new object again.
    clock.advance(10 * 60_000);
    await events.record(regarding, 'Warning', 'AttemptFailed', 'the rollout did not complete');
    await events.drain();
    const after = (await eventsAbout('repeated')).filter((e) => e.reason === 'AttemptFailed');
    expect(after.map((e) => e.series?.count).sort()).toEqual([5, undefined]);
  });

  it('writes at most 25 Events about one object in a burst, and others for another object', async () => {
    const clock = new ManualClock(new Date('2026-12-02T08:00:00Z'));
    const events = recorder(clock);
    const noisy = await subject('noisy');
    const quiet = await subject('quiet');
    for (let i = 0; i < 40; i++)
      await events.record(noisy, 'Normal', 'Step', `step ${String(i).padStart(2, '0')}`);
    await events.record(quiet, 'Normal', 'Step', 'the only one');
    await events.drain();

    const written = await eventsAbout('noisy');
    expect(written).toHaveLength(25);
    expect(written.map((e) => e.note)).toEqual(
      Array.from({ length: 25 }, (_, i) => `step ${String(i).padStart(2, '0')}`),
    );
    expect((await eventsAbout('quiet')).map((e) => e.note)).toEqual(['the only one']);
    // The budget refills at one Event per five minutes.
    clock.advance(5 * 60_000);
    await events.record(noisy, 'Normal', 'Step', 'later');
    await events.drain();
    expect(await eventsAbout('noisy')).toHaveLength(26);
  });
});
