import { jest } from '@jest/globals';

// Integration and e2e tests wait for real processes (rollouts, takeovers, outages); their own waits
// carry the meaningful time limits, so Jest's 5 s default per test only gets in the way.
jest.setTimeout(180_000);
