import type { Config } from 'jest';

// Three tiers, one runner: `--selectProjects unit|integration|e2e`. Sources are ESM TypeScript with
// `.ts` import specifiers (Node 24 runs them directly); ts-jest transpiles them for Jest's ESM runtime.
const shared = {
  // Only the project's own folders: the state directories under .tmp/ (a demo cluster's etcd keeps
  // *.snap files there) are no tests and no snapshots of Jest's.
  roots: ['<rootDir>/test', '<rootDir>/src'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.jest.json' }] },
  testEnvironment: 'node',
} satisfies Config;

const config: Config = {
  reporters: ['default', '<rootDir>/test/support/log-reporter.js'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      slowTestThreshold: 30,
      setupFilesAfterEnv: ['<rootDir>/test/support/long-timeouts.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      slowTestThreshold: 60,
      setupFilesAfterEnv: ['<rootDir>/test/support/long-timeouts.ts'],
    },
  ],
};
export default config;
