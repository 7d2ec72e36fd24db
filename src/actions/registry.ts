import type { ActionType } from '../api/remediation.ts';
import type { RemediationAction } from './action.ts';
import { queueDrain, queueReplay } from './queueDrain.ts';
import { rolloutRestart } from './rolloutRestart.ts';
import { scale } from './scale.ts';

/** The actions this build can run. */
export const ACTIONS: Partial<Record<ActionType, RemediationAction>> = {
  rolloutRestart,
  scale,
  queueDrain,
  queueReplay,
};
