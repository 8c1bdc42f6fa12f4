/**
 * The access-token verifier (src/token/access-token-verifier.ts) as `app.verifier`: JWTs
 * against the key store, opaque tokens through the introspector when AUTH_TOKEN_FORMATS
 * accepts them.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AccessTokenVerifier } from '../src/token/access-token-verifier.js'

declare module 'fastify' {
  interface FastifyInstance {
    verifier: AccessTokenVerifier
  }
}

export interface VerifierPluginOptions {
  /** Clock in ms, for tests that move time. */
  now?: () => number
}

async function verifier(app: FastifyInstance, options: VerifierPluginOptions): Promise<void> {
  const { auth } = app.config
  const { issuer } = auth
  const { introspect } = app
  app.decorate(
    'verifier',
    new AccessTokenVerifier({
      auth,
      issuer,
      keys: app.keyStore,
      ...(introspect === undefined ? {} : { introspect }),
      ...(options.now === undefined ? {} : { now: options.now })
    })
  )
}

export default fp(verifier, { name: 'verifier', fastify: '5.x', dependencies: ['config', 'key-store', 'introspector'] })
