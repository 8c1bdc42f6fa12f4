import { generateKeyPairSync, randomUUID } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'

/** A private JWK as oidc-provider's `jwks` configuration expects it. */
export type PrivateSigningJwk = JsonWebKey & { kid: string; alg: string; use: 'sig' }

/**
 * Fresh signing keys for one run of the development issuer: an RSA key for RS256
 * (what the access tokens and ID tokens are signed with) and a P-256 key for ES256.
 * They live only in memory; every start publishes new keys.
 */
export function generateSigningKeys(): PrivateSigningJwk[] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return [
    { ...rsa.privateKey.export({ format: 'jwk' }), kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' },
    { ...ec.privateKey.export({ format: 'jwk' }), kid: `es256-${randomUUID()}`, alg: 'ES256', use: 'sig' }
  ]
}
