/**
 * A DPoP client for tests, on independent libraries only (never the project's own code): a key
 * pair and its RFC 7638 thumbprint from the `dpop` package (whose generateProof makes valid
 * proofs), and proofs flawed on purpose signed by `jose`.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { calculateThumbprint, generateKeyPair, type KeyPair } from 'dpop'
import { exportJWK, SignJWT, type JWK } from 'jose'

export interface DpopClient {
  keys: KeyPair
  /** The thumbprint a token bound to this client carries in cnf.jkt. */
  jkt: string
  /** The public key as a proof's header carries it. */
  jwk: JWK
}

export async function dpopClient(alg: 'ES256' | 'RS256' | 'PS256' | 'Ed25519' = 'ES256'): Promise<DpopClient> {
  const keys = await generateKeyPair(alg)
  const { kty, crv, x, y, e, n } = await exportJWK(keys.publicKey)
  const jwk = Object.fromEntries(Object.entries({ kty, crv, x, y, e, n }).filter(([, value]) => value !== undefined)) as JWK
  return { keys, jkt: await calculateThumbprint(keys.publicKey), jwk }
}

/** A proof's `ath`: base64url(SHA-256(token)). */
export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** A proof made by jose with any header and claims the test wants (ES256 and the client's jwk unless overridden). */
export function craftedProof(
  from: DpopClient,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
  signer: KeyPair['privateKey'] | KeyObject = from.keys.privateKey
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: from.jwk, ...header } as { alg: string }).sign(signer)
}
