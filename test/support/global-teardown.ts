import { stopTier } from './tiers.ts';

export default stopTier;
