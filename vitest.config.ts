import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // @fastify/autoload imports routes/ itself: through Vite, so that their .js imports find the .ts files
    server: { deps: { inline: ['@fastify/autoload'] } }
  }
})
