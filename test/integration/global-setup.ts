import { startTier } from '../support/tiers.ts';

export default () => startTier('integration', {});
