import type { Static } from 'typebox';
import type { Condition as ConditionSchema } from '../api/schema.ts';

type Condition = Static<typeof ConditionSchema>;

/**
 * Sets a condition the Kubernetes way: lastTransitionTime moves only when the status flips, so
 * rewriting the same condition leaves the object unchanged (and unwritten).
 */
export function setCondition(
  conditions: Condition[] | undefined,
  type: string,
  status: 'True' | 'False' | 'Unknown',
  reason: string,
  message: string,
  now: Date,
  observedGeneration?: number,
): Condition[] {
  const list = conditions ?? [];
  const existing = list.find((c) => c.type === type);
  const next: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime:
      existing && existing.status === status ? existing.lastTransitionTime : now.toISOString(),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  return existing ? list.map((c) => (c.type === type ? next : c)) : [...list, next];
}
