/**
 * JWK → verification key, once per key (never per request), with key hygiene:
 * `use` absent or "sig", `key_ops` (when present) allowing "verify", the key type fitting the
 * algorithm, RSA at least 2048 bits with a sane public exponent, `kid` a string, and no
 * private or symmetric member at all (such a key is refused, never stripped and used).
 */
import { createPublicKey, constants, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { JwsAlg } from '../config.js'
import { CodedError } from '../errors.js'

export interface VerifyOptions {
  key: KeyObject
  padding?: number
  saltLength?: number
}

/**
 * One object per published JWK: the key store keeps it while the issuer republishes the JWK
 * exactly as it was, so the same object means the same key, `kid`, `alg`, `use` and `key_ops`.
 */
export interface VerificationKey {
  kid: string | undefined
  /** The algorithms this key may verify: its `alg`, or every accepted one its type allows. */
  algorithms: ReadonlySet<JwsAlg>
  /** node:crypto digest name (null for EdDSA) and options per algorithm, built once. */
  verifiers: ReadonlyMap<JwsAlg, Verifier>
}

export interface Verifier {
  digest: string | null
  options: VerifyOptions | KeyObject
  /**
   * The exact signature length in bytes: fixed by the curve for ECDSA, the modulus length for
   * RSA (RFC 8017 §8.1.2 and §8.2.2 step 1; OpenSSL would take a signature one byte short).
   */
  signatureLength: number | undefined
  /** ECDSA: the JWS signature is R || S and is converted to DER before the check (signature.ts). */
  joseEcdsa: boolean
}

/** An issuer key refused by the checks above; the message says why, for the logs. */
export class KeyRejected extends CodedError {
  override readonly name = 'KeyRejected'
  readonly code = 'ERR_KEY_REJECTED'
  /** The key is unsafe to trust (leaked private material, weak RSA), not merely meant for another use. */
  readonly unsafe: boolean

  constructor(message: string, unsafe = false) {
    super(message)
    this.unsafe = unsafe
  }
}

/**
 * Members only a private or symmetric key has: RSA `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`
 * (RFC 7518 §6.3.2), EC and OKP `d` (RFC 7518 §6.2.2, RFC 8037 §2), oct `k` (RFC 7518 §6.4.1).
 * A JWKS that publishes one has leaked the key: anyone who read the set can sign with it, so
 * the key is refused rather than stripped to its public half and trusted.
 */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/**
 * RSA public exponent: odd, and 3 ≤ e < 2^32.
 * - odd and ≥ 3: RFC 8017 §3.1 (3 ≤ e ≤ n − 1, and e coprime with λ(n), which is even).
 *   e = 1 makes the signature equal the padded message, which anyone can write: a forgery.
 * - 3 is accepted: RFC 8017 allows it and older keys carry it. The e = 3 forgeries
 *   (Bleichenbacher, 2006) need a verifier that parses PKCS #1 v1.5 padding loosely; OpenSSL
 *   compares the whole encoded block. FIPS 186-5 and NIST SP 800-56B ask 65537 ≤ e < 2^256 of
 *   keys being generated; refusing an issuer's existing e = 3 key would gain nothing here.
 * - below 2^32: the cost of a check grows with the exponent's length (Node 24, RSA-2048:
 *   25 µs with 65537, 52 µs at 2^32, 224 µs at 2^256, 1.5 ms with a 2000-bit e), no key
 *   generator uses a larger one, and a larger one would only make every check slower.
 */
const RSA_MIN_EXPONENT = 3n
const RSA_EXPONENT_LIMIT = 2n ** 32n

const RSA_ALGS: readonly JwsAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const EC_ALGS: Record<string, JwsAlg> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }
const EC_SIGNATURE_LENGTH: Record<string, number> = { ES256: 64, ES384: 96, ES512: 132 }

function digestOf(alg: JwsAlg): string | null {
  if (alg === 'EdDSA' || alg === 'Ed25519') return null
  return `sha${alg.slice(2)}`
}

/** The algorithms a key of this type can verify at all. */
function algorithmsForType(jwk: Record<string, unknown>): JwsAlg[] {
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

export function importJwk(jwk: Record<string, unknown>, accepted: ReadonlySet<string>): VerificationKey {
  const leaked = PRIVATE_MEMBERS.filter((member) => Object.hasOwn(jwk, member))
  if (leaked.length > 0) throw new KeyRejected(`private or symmetric key material published (${leaked.join(', ')})`, true)
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

  // Only the public members go to createPublicKey (private ones were refused above).
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
    if (bits < 2048) throw new KeyRejected(`RSA key of ${bits} bits (at least 2048 required)`, true)
    const e = key.asymmetricKeyDetails?.publicExponent ?? 0n
    if (e < RSA_MIN_EXPONENT || e % 2n === 0n || e >= RSA_EXPONENT_LIMIT) {
      const shown = e < RSA_EXPONENT_LIMIT ? String(e) : `of ${e.toString(2).length} bits`
      throw new KeyRejected(`RSA public exponent ${shown} (odd, 3 ≤ e < 2^32 required)`, true)
    }
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
    const signatureLength = jwk.kty === 'RSA' ? Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8) : EC_SIGNATURE_LENGTH[alg]
    verifiers.set(alg, { digest: digestOf(alg), options, signatureLength, joseEcdsa: alg.startsWith('ES') })
  }
  return { kid: jwk.kid, algorithms: new Set(algorithms), verifiers }
}
