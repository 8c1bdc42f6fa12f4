// Browser tests (`npm run test:e2e`): test/e2e, which `npm test` leaves out. They start the
// development stack on free ports and drive Debian's Chromium; one file at a time.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: 'forks',
    fileParallelism: false,
    // @fastify/autoload imports routes/ itself: through Vite, so that their .js imports find the .ts files
    server: { deps: { inline: ['@fastify/autoload'] } }
  }
})
