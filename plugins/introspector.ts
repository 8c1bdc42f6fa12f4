/**
 * RFC 7662 introspection of opaque access tokens (src/introspection/introspector.ts) as
 * `app.introspect`, when AUTH_TOKEN_FORMATS accepts opaque tokens (undefined otherwise).
 * Its calls and their latency are counted in metrics.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { createIntrospector } from '../src/introspection/introspector.js'
import type { AccessTokenIdentity } from '../src/token/identity.js'

declare module 'fastify' {
  interface FastifyInstance {
    introspect: ((token: string) => Promise<AccessTokenIdentity>) | undefined
  }
}

async function introspector(app: FastifyInstance, options: { now?: () => number }): Promise<void> {
  // opaque tokens name no issuer: one issuer at most accepts them (the issuers file sees to it)
  const opaque = app.issuers.find(({ issuer }) => issuer.auth.formats.includes('opaque'))
  app.decorate(
    'introspect',
    opaque === undefined
      ? undefined
      : createIntrospector({
          auth: opaque.issuer.auth,
          issuer: opaque.issuer.auth.issuer ?? opaque.issuer.id,
          keyStore: opaque.keyStore,
          metrics: app.metrics,
          log: app.log.child({ component: 'introspection' }),
          ...(options.now === undefined ? {} : { now: options.now })
        })
  )
}

export default fp(introspector, { name: 'introspector', fastify: '5.x', dependencies: ['config', 'metrics', 'key-store'] })
