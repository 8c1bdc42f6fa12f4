/**
 * The loaded configuration (src/config.ts), as `app.config`, for every plugin and route.
 * Loaded once by the entry; never changed afterwards.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    readonly config: Config & { auth: { issuer: string } }
  }
}

async function config(app: FastifyInstance, options: { config: Config }): Promise<void> {
  const { issuer } = options.config.auth
  if (issuer === undefined) throw new Error('the app needs AUTH_ISSUER (or the development issuer) to be resolved')
  app.decorate('config', options.config as Config & { auth: { issuer: string } })
}

export default fp(config, { name: 'config', fastify: '5.x' })
