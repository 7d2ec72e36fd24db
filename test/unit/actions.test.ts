// The remediation actions as pure readings of a workload and pure patches of a recorded intent: what
// they refuse, what they plan, the effect they write (the same every time for the same intent), and
// whether a workload carries it. Plus the claim an attempt writes with its effect.
import { describe, expect, it } from '@jest/globals';
import { ATTEMPT_ANNOTATION, type AttemptIntent } from '../../src/actions/action.ts';
import { CLAIM_ANNOTATION, claimAnnotation, claimOf, type Claim } from '../../src/actions/claim.ts';
import { RESTARTED_AT_ANNOTATION, rolloutRestart } from '../../src/actions/rolloutRestart.ts';
import { scale, scaleTarget } from '../../src/actions/scale.ts';
import { describeTarget, targetKey, type Workload } from '../../src/actions/workload.ts';
import type { Action } from '../../src/api/remediation.ts';
import {
  MINUTE,
  NAMESPACE,
  UID,
  at,
  daemonSet,
  deployment,
  iso,
  restart,
  scaleBy,
  scaleTo,
  statefulSet,
} from './fixtures.ts';

const MARKER = `${UID}/attempt-1`;
const intent = (o: Partial<AttemptIntent> = {}): AttemptIntent => ({
  marker: MARKER,
  startedAt: at(MINUTE),
  ...o,
});

/** The workload with this restartedAt on its pod template, next to what it carries already. */
function withRestartedAt(workload: Workload, restartedAt: string): Workload {
  const copy = structuredClone(workload);
  const metadata = copy.object.spec?.template.metadata;
  if (metadata) metadata.annotations = { ...metadata.annotations, [RESTARTED_AT_ANNOTATION]: restartedAt };
  return copy;
}

describe('rolloutRestart', () => {
  it('writes restartedAt = the attempt start and the marker on the pod template, the same every time', () => {
    const expected = {
      spec: {
        template: {
          metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: iso(MINUTE), [ATTEMPT_ANNOTATION]: MARKER } },
        },
      },
    };
    expect(rolloutRestart.effect(intent())).toEqual(expected);
    expect(rolloutRestart.effect(intent())).toEqual(rolloutRestart.effect(intent()));
    expect(rolloutRestart.effect(intent({ startedAt: at(2 * MINUTE) }))).not.toEqual(expected);
  });

  it.each<[string, Workload, boolean]>([
    ['its marker on the pod template', deployment({ templateMarker: MARKER }), true],
    ['no marker', deployment(), false],
    ['its marker only on the Deployment', deployment({ objectMarker: MARKER }), false],
    ["another attempt's marker", deployment({ templateMarker: `${UID}/attempt-2` }), false],
    [
      'its marker and its restartedAt',
      withRestartedAt(deployment({ templateMarker: MARKER }), intent().startedAt.toISOString()),
      true,
    ],
    [
      'its marker, but restartedAt moved since (kubectl rollout restart)',
      withRestartedAt(deployment({ templateMarker: MARKER }), at(9 * MINUTE).toISOString()),
      false,
    ],
  ])('carries the effect with %s: %s', (_, workload, carries) => {
    expect(rolloutRestart.carries(workload, intent())).toBe(carries);
  });

  it.each<[string, Workload, { reason: string; message: string } | undefined]>([
    ['a running Deployment', deployment(), undefined],
    ['a Deployment with paused: false', deployment({ paused: false }), undefined],
    [
      'a paused Deployment',
      deployment({ paused: true }),
      {
        reason: 'TargetPaused',
        message: "can't restart paused deployment checkout (run rollout resume first)",
      },
    ],
    ['a StatefulSet with RollingUpdate', statefulSet(), undefined],
    ['a StatefulSet with no strategy given (RollingUpdate)', statefulSet({}), undefined],
    [
      'a StatefulSet with OnDelete',
      statefulSet({ type: 'OnDelete' }),
      {
        reason: 'OnDeleteStrategy',
        message:
          'StatefulSet checkout uses the OnDelete update strategy: a restart would change the template and roll out nothing until pods are deleted by hand',
      },
    ],
    ['a DaemonSet with RollingUpdate', daemonSet(), undefined],
    [
      'a DaemonSet with OnDelete',
      daemonSet('checkout', 'OnDelete'),
      {
        reason: 'OnDeleteStrategy',
        message:
          'DaemonSet checkout uses the OnDelete update strategy: a restart would change the template and roll out nothing until pods are deleted by hand',
      },
    ],
  ])('refuses %s: %j', (_, workload, refusal) => {
    expect(rolloutRestart.refusal(workload, restart)).toEqual(refusal);
  });

  it.each<[string, Action, number]>([
    ['the 5m default', restart, 5 * MINUTE],
    ['rolloutRestart.timeout', { type: 'rolloutRestart', rolloutRestart: { timeout: '90s' } }, 90_000],
  ])('times out after %s', (_, params, ms) => {
    expect(rolloutRestart.timeoutMs(params)).toBe(ms);
  });

  it('plans a description and no count', () => {
    expect(rolloutRestart.plan(statefulSet(), restart)).toEqual({
      description:
        'restart StatefulSet checkout (new restartedAt on the pod template) and wait for its rollout',
    });
  });
});

describe('scale', () => {
  it.each<[string, Workload, Action, number]>([
    ['+1 from 2', deployment(), scaleBy(1), 3],
    ['-1 from 2', deployment(), scaleBy(-1), 1],
    ['-5 from 2, never below 0', deployment(), scaleBy(-5), 0],
    ['to 5', deployment(), scaleTo(5), 5],
    ['to 0', deployment(), scaleTo(0), 0],
    ['+3 within max 4', deployment(), { type: 'scale', scale: { delta: 3, max: 4 } }, 4],
    ['-3 within min 1', deployment({ replicas: 3 }), { type: 'scale', scale: { delta: -3, min: 1 } }, 1],
    ['to 10 within max 6', deployment(), { type: 'scale', scale: { replicas: 10, max: 6 } }, 6],
    ['+1 from a StatefulSet of 3', statefulSet(), scaleBy(1), 4],
  ])('aims at a fixed count: %s → %i', (_, workload, params, expected) => {
    expect(scaleTarget(workload, params)).toBe(expected);
    expect(scale.plan(workload, params).targetReplicas).toBe(expected);
  });

  it('counts a Deployment without spec.replicas as 1, as the API server defaults it', () => {
    const workload = deployment();
    if (workload.kind !== 'Deployment' || !workload.object.spec) throw new Error('a Deployment');
    delete workload.object.spec.replicas;
    expect(scale.plan(workload, scaleBy(1))).toEqual({
      description: 'scale Deployment checkout from 1 to 2 replicas',
      targetReplicas: 2,
    });
  });

  it('describes the change from the current count to the target', () => {
    expect(scale.plan(deployment({ replicas: 4 }), scaleTo(6)).description).toBe(
      'scale Deployment checkout from 4 to 6 replicas',
    );
  });

  it('writes the recorded count and the marker on the workload itself, the same every time', () => {
    const expected = { metadata: { annotations: { [ATTEMPT_ANNOTATION]: MARKER } }, spec: { replicas: 3 } };
    expect(scale.effect(intent({ targetReplicas: 3 }))).toEqual(expected);
    expect(scale.effect(intent({ targetReplicas: 3, startedAt: at(9 * MINUTE) }))).toEqual(expected);
  });

  it('refuses to write an effect without a recorded count, naming the attempt', () => {
    expect(() => scale.effect(intent())).toThrow(`scale attempt ${MARKER} has no recorded target count`);
  });

  it.each<[string, Workload, boolean]>([
    ['the marker and the recorded count', deployment({ objectMarker: MARKER, replicas: 3 }), true],
    ['the marker, another count', deployment({ objectMarker: MARKER, replicas: 5 }), false],
    ['the count, no marker', deployment({ replicas: 3 }), false],
    ['the marker on the pod template only', deployment({ templateMarker: MARKER, replicas: 3 }), false],
  ])('carries the effect with %s: %s', (_, workload, carries) => {
    expect(scale.carries(workload, intent({ targetReplicas: 3 }))).toBe(carries);
  });

  it.each<[string, Workload, { reason: string; message: string } | undefined]>([
    ['a Deployment', deployment(), undefined],
    ['a paused Deployment', deployment({ paused: true }), undefined],
    ['a StatefulSet with OnDelete', statefulSet({ type: 'OnDelete' }), undefined],
    [
      'a DaemonSet',
      daemonSet(),
      { reason: 'ActionRefused', message: 'a DaemonSet runs one pod per node and cannot be scaled' },
    ],
  ])('refuses %s: %j', (_, workload, refusal) => {
    expect(scale.refusal(workload, scaleBy(1))).toEqual(refusal);
  });

  it('times out after 5m', () => {
    expect(scale.timeoutMs(scaleBy(1))).toBe(5 * MINUTE);
  });
});

describe('claims', () => {
  const claim: Claim = {
    incident: 'checkout-errors',
    uid: UID,
    attempt: 'attempt-1',
    expiresAt: iso(6 * MINUTE),
  };
  const withClaim = (value: string) => deployment({ annotations: { [CLAIM_ANNOTATION]: value } });

  it('reads back what the effect wrote', () => {
    expect(claimOf(deployment({ annotations: claimAnnotation(claim) }))).toEqual(claim);
  });

  it.each<[string, Workload]>([
    ['no annotation', deployment()],
    ['not JSON', withClaim('checkout-errors/attempt-1')],
    ['JSON null', withClaim('null')],
    ['a JSON string', withClaim('"checkout-errors"')],
    ['a field missing', withClaim(JSON.stringify({ ...claim, uid: undefined }))],
    ['a field of another type', withClaim(JSON.stringify({ ...claim, attempt: 1 }))],
    ['an expiry that is not a time', withClaim(JSON.stringify({ ...claim, expiresAt: 'soon' }))],
  ])('is no claim with %s', (_, workload) => {
    expect(claimOf(workload)).toBeUndefined();
  });
});

describe('targets', () => {
  const ref = { namespace: NAMESPACE, kind: 'StatefulSet' as const, name: 'orders-db' };
  it('are described and keyed by kind, namespace and name', () => {
    expect(describeTarget(ref)).toBe('StatefulSet shop/orders-db');
    expect(targetKey(ref)).toBe('StatefulSet/shop/orders-db');
  });
});
