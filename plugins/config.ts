/**
 * The loaded configuration (src/config.ts), as `app.config`, for every plugin and route.
 * Loaded once by the entry; never changed afterwards.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** `auth.issuer` is known, except with AUTH_ISSUERS_FILE (each issuer's own is in `app.issuers`). */
    readonly config: Config
  }
}

async function config(app: FastifyInstance, options: { config: Config }): Promise<void> {
  const { issuer } = options.config.auth
  if (issuer === undefined && options.config.issuersFile === undefined) {
    throw new Error('the app needs AUTH_ISSUER (or the development issuer) to be resolved')
  }
  app.decorate('config', options.config)
}

export default fp(config, { name: 'config', fastify: '5.x' })
