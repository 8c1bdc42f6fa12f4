/**
 * JWK thumbprints (RFC 7638): SHA-256 of the key's required public members, in lexicographic
 * order, as JSON without white space; base64url. The `jkt` of a DPoP-bound token's `cnf`
 * (RFC 9449 §6.1) is the thumbprint of the key its proofs must be signed with.
 */
import { createHash } from 'node:crypto'

/** The required members per key type (RFC 7638 §3.2, RFC 8037 §2), in lexicographic order. */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x']
}

/** The thumbprint of a public JWK, or undefined when a required member is missing or not a string. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string | undefined {
  const members = typeof jwk.kty === 'string' && Object.hasOwn(REQUIRED, jwk.kty) ? REQUIRED[jwk.kty] : undefined
  if (members === undefined) return undefined
  const canonical: Record<string, string> = {}
  for (const member of members) {
    const value = jwk[member]
    if (typeof value !== 'string') return undefined
    canonical[member] = value
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url')
}
