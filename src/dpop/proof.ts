/**
 * A DPoP proof (RFC 9449 §4), checked as §4.3 lists it, each check with its own code:
 *
 *  1. exactly one proof (the gate counts the DPoP headers: ERR_DPOP_MULTIPLE_PROOFS);
 *  2. a compact JWS, decoded strictly (ERR_DPOP_PROOF_MALFORMED);
 *  3. `typ` dpop+jwt (ERR_DPOP_PROOF_TYPE); `alg` one of AUTH_DPOP_ALGORITHMS, asymmetric
 *     (ERR_DPOP_PROOF_ALG); `jwk` a public key fitting `alg`, no private member (ERR_DPOP_PROOF_JWK);
 *  4. the signature, by that key (ERR_DPOP_PROOF_SIGNATURE);
 *  5. `htm` the request's method (ERR_DPOP_PROOF_HTM), `htu` its URI at PUBLIC_URL (htu.ts;
 *     ERR_DPOP_PROOF_HTU), `iat` within the window (ERR_DPOP_PROOF_IAT), `jti` a string
 *     (ERR_DPOP_PROOF_JTI), `ath` the token's hash (ERR_DPOP_PROOF_ATH), the server nonce when
 *     nonces are on (ERR_DPOP_NONCE_REQUIRED, 401 use_dpop_nonce);
 *
 * and returns the proof key's thumbprint (for the token's `cnf.jkt`, which the gate compares:
 * ERR_DPOP_KEY_MISMATCH) and the replay key the gate records last (ERR_DPOP_PROOF_REPLAYED),
 * once everything else has passed, so that a refused request burns no `jti`.
 *
 * A client signs all its proofs with one key, so their headers (typ, alg, jwk) are one string:
 * the checked header and its imported key are kept per header segment (bounded), and a
 * proof from a known client costs its payload's decoding, its signature check (on libuv's
 * threadpool) and a few comparisons: its header is not decoded again, the `ath` of a token is
 * computed once per verified token (kept beside the gate's cached identity), and the URI a
 * route's proofs must name and the normal form of each `htu` seen are kept too (bounded).
 */
import { remember } from '../cache/remember.js'
import { createHash, hash, verify as verifySignatureAsync } from 'node:crypto'
import type { DpopAlg, JwsAlg } from '../config.js'
import { AuthError, isAuthError } from '../errors.js'
import { importJwk, KeyRejected, type VerificationKey, type Verifier } from '../keys/jwk-import.js'
import { decodeCompactJws, decodeCompactJwsPayload } from '../token/compact-jws.js'
import { normaliseTyp } from '../token/jws-header.js'
import { derFromJoseEcdsa } from '../token/signature.js'
import type { DpopNonces } from './nonce.js'
import { expectedHtu, normaliseHtu, targetPath } from './htu.js'
import { jwkThumbprint } from './thumbprint.js'

/** Longer than any real proof (an RSA-4096 jwk and signature fit in 2 KiB). */
export const MAX_PROOF_LENGTH = 8 * 1024
const MAX_JTI_LENGTH = 256
const HEADER_CACHE_SIZE = 4096
/** Request paths and proof `htu`s whose normal forms are kept (each map; the oldest leaves first)... */
const URI_CACHE_SIZE = 1024
/** ...when no longer than this (a longer one is normalised each time): at most about 1 MB. */
const URI_CACHE_MAX_LENGTH = 512

export interface DpopProofOptions {
  algorithms: readonly DpopAlg[]
  /** Seconds an `iat` may lie in the past. */
  iatWindow: number
  /** Seconds of leeway on both sides of the window. */
  clockTolerance: number
  /** PUBLIC_URL, without a trailing slash: the origin (and base path) of every `htu`. */
  publicUrl: string
  /** Present when AUTH_DPOP_NONCE=on. */
  nonces?: DpopNonces | undefined
}

export interface DpopRequest {
  method: string
  /** The request target as received (path and query). */
  url: string
  /** The access token sent with the proof (for `ath`). */
  accessToken: string
  /**
   * An object that stands for the verified access token while it is cached (the gate passes
   * its identity, the same object on every cache hit): the token's hash is kept with it and
   * used again when the same token comes with it. Without one, the hash is computed.
   */
  tokenRecord?: object
  /** Seconds since the epoch. */
  now: number
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's key: the token's `cnf.jkt` must equal it. */
  jkt: string
  /** What the replay store records: the proof's key and jti, hashed. */
  replayKey: string
  /** Epoch seconds after which the proof is refused anyway (its iat left the window). */
  replayUntil: number
}

interface CheckedProofHeader {
  alg: JwsAlg
  verifier: Verifier
  jkt: string
}

function refuse(
  code:
    | 'ERR_DPOP_PROOF_MALFORMED'
    | 'ERR_DPOP_PROOF_TYPE'
    | 'ERR_DPOP_PROOF_JWK'
    | 'ERR_DPOP_PROOF_SIGNATURE'
    | 'ERR_DPOP_PROOF_HTM'
    | 'ERR_DPOP_PROOF_HTU'
    | 'ERR_DPOP_PROOF_IAT'
    | 'ERR_DPOP_PROOF_JTI'
    | 'ERR_DPOP_PROOF_ATH'
    | 'ERR_DPOP_NONCE_REQUIRED',
  reason: string
): AuthError {
  return new AuthError(code, { reason })
}

/** base64url(SHA-256(ASCII(token))): a proof's `ath` (RFC 9449 §4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'latin1').digest('base64url')
}

export class DpopProofVerifier {
  readonly #algorithms: ReadonlySet<string>
  readonly #algs: string
  readonly #iatWindow: number
  readonly #tolerance: number
  readonly #publicUrl: string
  readonly #nonces: DpopNonces | undefined
  /** Header segment → checked header and key (insertion order: the oldest leaves first). */
  readonly #headers = new Map<string, CheckedProofHeader>()
  /** Request path → the URI its proofs must name (undefined: none). */
  readonly #expected = new Map<string, string | undefined>()
  /** A proof's htu → its normal form (undefined: not an http(s) URI). */
  readonly #htus = new Map<string, string | undefined>()
  /** A verified token's record → the token and its hash. */
  readonly #athOf = new WeakMap<object, { token: string; ath: string }>()

  constructor(options: DpopProofOptions) {
    this.#algorithms = new Set(options.algorithms)
    this.#algs = options.algorithms.join(' ')
    this.#iatWindow = options.iatWindow
    this.#tolerance = options.clockTolerance
    this.#publicUrl = options.publicUrl
    this.#nonces = options.nonces
  }

  /** The accepted algorithms, space-separated, as the challenge's `algs` names them. */
  get algs(): string {
    return this.#algs
  }

  /**
   * Checks 2–5 of the proof; resolves with its key's thumbprint and replay key, or rejects with
   * an AuthError (never throws). The signature is checked first, on the threadpool; the claims
   * in its callback.
   */
  verify(proof: string, request: DpopRequest): Promise<VerifiedProof> {
    let checked: CheckedProofHeader
    let decoded: ReturnType<typeof decodeCompactJwsPayload>
    try {
      if (proof.length > MAX_PROOF_LENGTH) throw refuse('ERR_DPOP_PROOF_MALFORMED', `${proof.length} characters`)
      const dot = proof.indexOf('.')
      const headerSegment = dot === -1 ? proof : proof.slice(0, dot)
      // a header seen before was decoded strictly and checked then: only the payload is decoded
      const known = dot > 0 ? this.#headers.get(headerSegment) : undefined
      let header: Record<string, unknown> | undefined
      try {
        if (known === undefined) {
          const full = decodeCompactJws(proof)
          header = full.header
          decoded = full
        } else {
          decoded = decodeCompactJwsPayload(proof)
        }
      } catch (error) {
        throw refuse('ERR_DPOP_PROOF_MALFORMED', isAuthError(error) ? (error.reason ?? error.code) : 'undecodable')
      }
      checked = known ?? this.#checkedHeader(headerSegment, header!)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    const { verifier, jkt } = checked
    const { payload, signingInput, signature } = decoded
    return new Promise((resolve, reject) => {
      const done = (error: Error | null, ok: boolean): void => {
        if (error !== null || !ok) {
          reject(refuse('ERR_DPOP_PROOF_SIGNATURE', 'signature does not verify with the header jwk'))
          return
        }
        try {
          resolve(this.#checkClaims(payload, request, jkt))
        } catch (refusal) {
          reject(refusal as Error)
        }
      }
      if (verifier.signatureLength !== undefined && signature.length !== verifier.signatureLength) {
        done(null, false)
        return
      }
      try {
        const encoded = verifier.joseEcdsa ? derFromJoseEcdsa(signature) : signature
        verifySignatureAsync(verifier.digest, signingInput, verifier.options, encoded, done)
      } catch {
        done(null, false)
      }
    })
  }

  /** Check 5: the claims of a proof whose signature verified. */
  #checkClaims(payload: Record<string, unknown>, request: DpopRequest, jkt: string): VerifiedProof {
    const { htm, htu, iat, jti, ath, nonce } = payload
    if (typeof htm !== 'string' || htm !== request.method) throw refuse('ERR_DPOP_PROOF_HTM', 'htm is not the request method')
    const expected = this.#expectedHtu(request.url)
    if (typeof htu !== 'string' || expected === undefined || this.#normalHtu(htu) !== expected) {
      throw refuse('ERR_DPOP_PROOF_HTU', 'htu is not the request URI')
    }
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('ERR_DPOP_PROOF_IAT', 'iat missing or not a number')
    const { now } = request
    if (iat > now + this.#tolerance) throw refuse('ERR_DPOP_PROOF_IAT', 'iat in the future')
    if (iat < now - this.#iatWindow - this.#tolerance) throw refuse('ERR_DPOP_PROOF_IAT', 'iat older than the window')
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw refuse('ERR_DPOP_PROOF_JTI', 'jti missing or unusable')
    if (typeof ath !== 'string' || ath !== this.#tokenHash(request)) {
      throw refuse('ERR_DPOP_PROOF_ATH', ath === undefined ? 'ath missing' : 'ath does not match the token')
    }
    if (this.#nonces !== undefined && !this.#nonces.isValid(nonce)) {
      throw refuse('ERR_DPOP_NONCE_REQUIRED', nonce === undefined ? 'no nonce' : 'nonce not current')
    }
    return {
      jkt,
      // one-shot hash: the same bytes (UTF-8) and digest as createHash, so replicas of every version agree
      replayKey: hash('sha256', `${jkt}.${jti}`, 'base64url').slice(0, 22),
      replayUntil: Math.ceil(iat + this.#iatWindow + this.#tolerance) + 1
    }
  }

  /** The URI a proof for this request target must name (expectedHtu), kept per path. */
  #expectedHtu(target: string): string | undefined {
    const path = targetPath(target)
    if (path.length > URI_CACHE_MAX_LENGTH) return expectedHtu(this.#publicUrl, path)
    const known = this.#expected.get(path)
    if (known !== undefined || this.#expected.has(path)) return known
    return remember(this.#expected, URI_CACHE_SIZE, path, expectedHtu(this.#publicUrl, path))
  }

  /** The normal form of a proof's htu (normaliseHtu), kept per htu. */
  #normalHtu(htu: string): string | undefined {
    if (htu.length > URI_CACHE_MAX_LENGTH) return normaliseHtu(htu)
    const known = this.#htus.get(htu)
    if (known !== undefined || this.#htus.has(htu)) return known
    return remember(this.#htus, URI_CACHE_SIZE, htu, normaliseHtu(htu))
  }

  /** `ath` for the request's token: kept with its record (the same token, compared in full), else computed. */
  #tokenHash(request: DpopRequest): string {
    const { accessToken, tokenRecord } = request
    if (tokenRecord === undefined) return accessTokenHash(accessToken)
    const known = this.#athOf.get(tokenRecord)
    if (known !== undefined && known.token === accessToken) return known.ath
    const ath = accessTokenHash(accessToken)
    this.#athOf.set(tokenRecord, { token: accessToken, ath })
    return ath
  }

  /** Check 3, once per distinct header: typ, alg, crit, and the public key it carries. */
  #checkedHeader(segment: string, header: Record<string, unknown>): CheckedProofHeader {
    const known = this.#headers.get(segment)
    if (known !== undefined) return known
    const { typ, alg, jwk, crit } = header
    if (typeof typ !== 'string' || normaliseTyp(typ) !== 'dpop+jwt') throw refuse('ERR_DPOP_PROOF_TYPE', 'typ is not dpop+jwt')
    if (typeof alg !== 'string' || !this.#algorithms.has(alg)) {
      throw new AuthError('ERR_DPOP_PROOF_ALG', { algs: this.#algs, reason: `alg ${String(alg).slice(0, 16)} not accepted` })
    }
    if (crit !== undefined) throw refuse('ERR_DPOP_PROOF_MALFORMED', 'crit present')
    if (header.b64 !== undefined) throw refuse('ERR_DPOP_PROOF_MALFORMED', 'b64 present')
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw refuse('ERR_DPOP_PROOF_JWK', 'no jwk')
    let key: VerificationKey
    try {
      key = importJwk(jwk as Record<string, unknown>, new Set([alg]))
    } catch (error) {
      throw refuse('ERR_DPOP_PROOF_JWK', error instanceof KeyRejected ? error.message : 'unusable jwk')
    }
    const verifier = key.verifiers.get(alg as JwsAlg)
    if (verifier === undefined) throw refuse('ERR_DPOP_PROOF_JWK', 'jwk does not fit alg')
    const jkt = jwkThumbprint(jwk as Record<string, unknown>)
    if (jkt === undefined) throw refuse('ERR_DPOP_PROOF_JWK', 'jwk lacks a thumbprint member')
    return remember(this.#headers, HEADER_CACHE_SIZE, segment, { alg: alg as JwsAlg, verifier, jkt })
  }
}
