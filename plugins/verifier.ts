/**
 * The access-token verifier as `app.verifier`: for each trusted issuer (plugins/key-store.ts),
 * JWTs against that issuer's keys and rules (src/token/access-token-verifier.ts), opaque tokens
 * through the introspector when AUTH_TOKEN_FORMATS accepts them. With one issuer, that issuer's
 * verifier itself; with several (AUTH_ISSUERS_FILE), a verifier that routes each token to one
 * of them by its unverified `iss` (src/issuers/multi-issuer-verifier.ts).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { MultiIssuerVerifier, type TokenVerifier } from '../src/issuers/multi-issuer-verifier.js'
import { AccessTokenVerifier } from '../src/token/access-token-verifier.js'
import { SignatureWorkers } from '../src/token/signature-workers.js'

declare module 'fastify' {
  interface FastifyInstance {
    verifier: TokenVerifier
    /** The signature-check threads every issuer's verifier uses (src/token/signature-workers.ts). */
    signatures: SignatureWorkers
  }
}

export interface VerifierPluginOptions {
  /** Clock in ms, for tests that move time. */
  now?: () => number
}

async function verifier(app: FastifyInstance, options: VerifierPluginOptions): Promise<void> {
  const { introspect } = app
  const now = options.now === undefined ? {} : { now: options.now }
  // one set of signature-check threads for every issuer; stopped once the last request is answered
  const signatures = new SignatureWorkers()
  app.decorate('signatures', signatures)
  app.addHook('onClose', () => signatures.close())
  const verifiers = app.issuers.map(({ issuer, keyStore }) => ({
    issuer,
    verifier: new AccessTokenVerifier({
      auth: issuer.auth,
      // a template entry's tokens each name their own iss (given per token by the router)
      issuer: issuer.auth.issuer ?? issuer.id,
      keys: keyStore,
      signatures,
      // opaque tokens name no issuer: the introspector is the one issuer's that accepts them
      ...(introspect === undefined || !issuer.auth.formats.includes('opaque') ? {} : { introspect }),
      ...now
    })
  }))
  const only = verifiers.length === 1 && verifiers[0]?.issuer.kind === 'exact' ? verifiers[0].verifier : undefined
  const chosen: TokenVerifier = only ?? new MultiIssuerVerifier(verifiers, options.now)
  app.decorate('verifier', chosen)
}

export default fp(verifier, { name: 'verifier', fastify: '5.x', dependencies: ['config', 'key-store', 'introspector'] })
