import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql@16 ships CJS (main) and ESM (module) builds. Node, and so every dependency
    // (Apollo, type-graphql, graphql-ws), loads the CJS one; make the tests' own code load
    // the same copy, or `instanceof GraphQLError` and schemas cross two "realms".
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.spec.ts'],
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: files run in parallel forks, each with its own queue prefix and database.
    pool: 'forks',
    maxWorkers: 2,
  },
});
