/**
 * Step 5: verify the JWS signature with a key selected from the issuer's set (or the
 * configured shared secret for HS*). Asymmetric checks run on worker threads, in batches
 * (signature-workers.ts), so the event loop keeps serving while a signature is checked.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { VerificationKey, Verifier } from '../keys/jwk-import.js'
import type { JwsAlg } from '../config.js'
import { AuthError } from '../errors.js'

function invalidSignature(): AuthError {
  return new AuthError('ERR_JWS_SIGNATURE_INVALID', { reason: 'signature verification failed' })
}

/** Appends a DER INTEGER holding the unsigned big-endian bytes `from..to` of `source`. */
function writeDerInteger(out: Buffer, at: number, source: Buffer, from: number, to: number): number {
  while (from < to - 1 && source[from] === 0) from++ // minimal: no leading zero bytes...
  const pad = ((source[from] ?? 0) & 0x80) !== 0 ? 1 : 0 // ...except one that keeps it positive
  out[at++] = 0x02
  out[at++] = to - from + pad
  if (pad === 1) out[at++] = 0
  source.copy(out, at, from, to)
  return at + to - from
}

/**
 * A JWS ECDSA signature (R || S, fixed-length halves, RFC 7518 §3.4) as DER (a SEQUENCE of two
 * INTEGERs), the form OpenSSL verifies natively. node:crypto can do this itself
 * (dsaEncoding: 'ieee-p1363'), but does it synchronously on the event loop at a cost of
 * ~25 µs per ES256 check (measured on Node 24); this takes well under 1 µs. The caller has
 * already checked the length, so both halves are present.
 */
export function derFromJoseEcdsa(signature: Buffer): Buffer {
  const half = signature.length >>> 1
  const out = Buffer.allocUnsafe(signature.length + 9) // 3 (SEQUENCE, long form) + 2 × (2 + 1 pad)
  // Content length is at most 2 × (2 + 67) = 138 for ES512, so one length byte, long form past 127.
  let at = writeDerInteger(out, 3, signature, 0, half)
  at = writeDerInteger(out, at, signature, half, signature.length)
  const content = at - 3
  if (content < 0x80) {
    out[1] = 0x30
    out[2] = content
    return out.subarray(1, at)
  }
  out[0] = 0x30
  out[1] = 0x81
  out[2] = content
  return out.subarray(0, at)
}

/** Where the asymmetric checks run: SignatureWorkers (signature-workers.ts). */
export interface SignatureChecker {
  verify(verifier: Verifier, data: Buffer, signature: Buffer): Promise<boolean>
}

function verifyWithKey(checker: SignatureChecker, key: VerificationKey, alg: JwsAlg, data: Buffer, signature: Buffer): Promise<boolean> {
  const verifier = key.verifiers.get(alg)
  if (verifier === undefined) return Promise.resolve(false)
  if (verifier.signatureLength !== undefined && signature.length !== verifier.signatureLength) return Promise.resolve(false)
  return checker.verify(verifier, data, verifier.joseEcdsa ? derFromJoseEcdsa(signature) : signature)
}

/** Resolves when one of the candidate keys verifies the signature; rejects otherwise. */
export async function verifySignature(
  checker: SignatureChecker,
  keys: readonly VerificationKey[],
  alg: JwsAlg,
  data: Buffer,
  signature: Buffer
): Promise<void> {
  for (const key of keys) {
    if (await verifyWithKey(checker, key, alg, data, signature)) return
  }
  throw invalidSignature()
}

export function verifyHmac(secret: Buffer, alg: JwsAlg, data: Buffer, signature: Buffer): void {
  const expected = createHmac(`sha${alg.slice(2)}`, secret)
    .update(data)
    .digest()
  if (expected.length !== signature.length || !timingSafeEqual(expected, signature)) throw invalidSignature()
}
