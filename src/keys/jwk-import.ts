/**
 * JWK → verification key, once per key (never per request), with key hygiene:
 * `use` absent or "sig", `key_ops` (when present) allowing "verify", the key type fitting the
 * algorithm, RSA at least 2048 bits, `kid` a string, no private material used.
 */
import { createPublicKey, constants, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { JwsAlg } from '../config.js'

export interface VerifyOptions {
  key: KeyObject
  padding?: number
  saltLength?: number
}

export interface VerificationKey {
  kid: string | undefined
  /** The algorithms this key may verify: its `alg`, or every accepted one its type allows. */
  algorithms: ReadonlySet<JwsAlg>
  /** node:crypto digest name (null for EdDSA) and options per algorithm, built once. */
  verifiers: ReadonlyMap<JwsAlg, Verifier>
  /** Stable identity of the key material, to notice keys that disappear at rotation. */
  thumbprint: string
}

export interface Verifier {
  digest: string | null
  options: VerifyOptions | KeyObject
  /** The exact signature length in bytes, where the algorithm fixes it (ECDSA). */
  signatureLength: number | undefined
  /** ECDSA: the JWS signature is R || S and is converted to DER before the check (signature.ts). */
  joseEcdsa: boolean
}

export class KeyRejected extends Error {}

const RSA_ALGS: readonly JwsAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_ALGS: Record<string, JwsAlg> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }
const EC_SIGNATURE_LENGTH: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 }

function digestOf (alg: JwsAlg): string | null {
  if (alg === 'EdDSA' || alg === 'Ed25519') return null
  return `sha${alg.slice(2)}`
}

/** The algorithms a key of this type can verify at all. */
function algorithmsForType (jwk: Record<string, unknown>): JwsAlg[] {
  switch (jwk.kty) {
    case 'RSA':
      return [...RSA_ALGS]
    case 'EC': {
      const alg = typeof jwk.crv === 'string' ? EC_ALGS[jwk.crv] : undefined
      if (alg === undefined) throw new KeyRejected(`unsupported EC curve ${String(jwk.crv)}`)
      return [alg]
    }
    case 'OKP':
      if (jwk.crv !== 'Ed25519') throw new KeyRejected(`unsupported OKP curve ${String(jwk.crv)}`)
      return ['EdDSA', 'Ed25519']
    default:
      throw new KeyRejected(`unsupported key type ${String(jwk.kty)}`)
  }
}

export function importJwk (jwk: Record<string, unknown>, accepted: ReadonlySet<string>): VerificationKey {
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') throw new KeyRejected('kid is not a string')
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new KeyRejected(`use is ${String(jwk.use)}, not sig`)
  if (jwk.key_ops !== undefined && (!Array.isArray(jwk.key_ops) || !jwk.key_ops.includes('verify'))) {
    throw new KeyRejected('key_ops does not allow verify')
  }
  if (jwk.alg !== undefined && typeof jwk.alg !== 'string') throw new KeyRejected('alg is not a string')
  const typeAlgs = algorithmsForType(jwk)
  let algorithms: JwsAlg[]
  if (typeof jwk.alg === 'string') {
    if (!typeAlgs.includes(jwk.alg as JwsAlg)) throw new KeyRejected(`alg ${jwk.alg} does not fit key type ${String(jwk.kty)}`)
    algorithms = [jwk.alg as JwsAlg]
  } else {
    algorithms = typeAlgs
  }
  algorithms = algorithms.filter((alg) => accepted.has(alg))
  if (algorithms.length === 0) throw new KeyRejected('no accepted algorithm fits this key')

  // Only public members go to createPublicKey: a published private key is still used as public.
  const publicJwk: Record<string, unknown> = { kty: jwk.kty }
  for (const member of ['n', 'e', 'crv', 'x', 'y']) {
    if (jwk[member] !== undefined) publicJwk[member] = jwk[member]
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' })
  } catch (error) {
    throw new KeyRejected(`unreadable key material (${(error as Error).message})`)
  }
  if (jwk.kty === 'RSA') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < 2048) throw new KeyRejected(`RSA key of ${bits} bits (at least 2048 required)`)
  }

  const verifiers = new Map<JwsAlg, Verifier>()
  for (const alg of algorithms) {
    let options: VerifyOptions | KeyObject
    if (alg.startsWith('PS')) {
      options = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }
    } else {
      // ES*: the key alone; the R || S signature is converted to DER in signature.ts, which
      // costs far less than node:crypto's own conversion (dsaEncoding: 'ieee-p1363').
      options = key
    }
    verifiers.set(alg, { digest: digestOf(alg), options, signatureLength: EC_SIGNATURE_LENGTH[alg], joseEcdsa: alg.startsWith('ES') })
  }
  const thumbprint = `${String(jwk.kty)}:${String(publicJwk.n ?? '')}${String(publicJwk.x ?? '')}${String(publicJwk.y ?? '')}`
  return { kid: jwk.kid, algorithms: new Set(algorithms), verifiers, thumbprint }
}
