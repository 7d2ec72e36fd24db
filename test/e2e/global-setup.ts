import { startTier } from '../support/tiers.ts';

export default () => startTier('e2e', { services: true });
