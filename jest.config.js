/**
 * One jest project per kind of test (folders under test/): `npm run test:unit` runs the
 * pure tests without a database; every other project shares one migrated template
 * database made by the global setup (once, whichever project asks first).
 */
const base = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
};
const withDatabase = {
  ...base,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};
const project = (name, options) => ({ ...options, displayName: name, rootDir: '.', testMatch: [`<rootDir>/test/${name}/**/*.spec.ts`] });

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  testTimeout: 60000,
  projects: [
    project('unit', base),
    project('sql', withDatabase),
    project('e2e', withDatabase),
    project('process', withDatabase),
    project('pooler', withDatabase),
    project('sample', withDatabase),
    project('dashboard', withDatabase),
  ],
};
