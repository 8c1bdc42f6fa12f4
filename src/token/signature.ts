/**
 * Step 5: verify the JWS signature with a key selected from the issuer's set (or the
 * configured shared secret for HS*). Asymmetric checks run on libuv's threadpool through
 * node:crypto's callback API, so the event loop keeps serving while a signature is checked.
 */
import { createHmac, timingSafeEqual, verify } from 'node:crypto'
import type { VerificationKey } from '../keys/jwk-import.js'
import type { JwsAlg } from '../config.js'
import { AuthError } from './errors.js'

function invalidSignature (): AuthError {
  return new AuthError('ERR_JWS_SIGNATURE_INVALID', 'The access token\'s signature is invalid.', { reason: 'signature verification failed' })
}

function verifyWithKey (key: VerificationKey, alg: JwsAlg, data: Buffer, signature: Buffer): Promise<boolean> {
  const verifier = key.verifiers.get(alg)
  if (verifier === undefined) return Promise.resolve(false)
  if (verifier.signatureLength !== undefined && signature.length !== verifier.signatureLength) return Promise.resolve(false)
  return new Promise((resolve) => {
    verify(verifier.digest, data, verifier.options, signature, (error, ok) => resolve(error === null && ok))
  })
}

/** Resolves when one of the candidate keys verifies the signature; rejects otherwise. */
export async function verifySignature (keys: readonly VerificationKey[], alg: JwsAlg, data: Buffer, signature: Buffer): Promise<void> {
  for (const key of keys) {
    if (await verifyWithKey(key, alg, data, signature)) return
  }
  throw invalidSignature()
}

export function verifyHmac (secret: Buffer, alg: JwsAlg, data: Buffer, signature: Buffer): void {
  const expected = createHmac(`sha${alg.slice(2)}`, secret).update(data).digest()
  if (expected.length !== signature.length || !timingSafeEqual(expected, signature)) throw invalidSignature()
}
