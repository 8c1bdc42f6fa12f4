/**
 * The token pipeline, as RFC 6750 / 7515 / 9068 describe it:
 *   decode and check the header → select the key → verify the signature →
 *   check the claims → classify the token (access token or not) → build the identity (with its
 *   key binding, which the gate holds against the scheme: a bound token never as Bearer).
 * Scopes are checked per route afterwards (scopes.ts). Opaque tokens go to introspection
 * when accepted, whose answers pass the same claim rules (access-token-claims.ts); JWTs never do.
 */
import type { AuthConfig, JwsAlg } from '../config.js'
import type { VerificationKey } from '../keys/jwk-import.js'
import { remember } from '../cache/remember.js'
import { AuthError } from '../errors.js'
import { checkJwtClaims, claimRulesFor, identityOf, jwtValidity, type ClaimRules } from './access-token-claims.js'
import { checkSingleToken, decodeJwsFirst, jwsFirst } from './bearer-credentials.js'
import { decodeCompactJws, decodeCompactJwsPayload, looksLikeCompactJws, type DecodedJws } from './compact-jws.js'
import type { AccessTokenIdentity } from './identity.js'
import { checkHeader, type CheckedHeader } from './jws-header.js'
import { verifyHmac, verifySignature, type SignatureChecker } from './signature.js'
import { checkAccessToken, notAnAccessToken, type TokenTypeRules } from './token-type.js'
import { VerifiedTokenCache } from './verified-token-cache.js'

export interface KeySource {
  select(kid: string | undefined, alg: string): VerificationKey[] | Promise<VerificationKey[]>
  /** Called when the keys change so that a token verified before might now be refused. */
  onKeysChanged(listener: () => void): void
}

export interface VerifierOptions {
  auth: AuthConfig
  issuer: string
  keys: KeySource
  /** Checks asymmetric signatures off the event loop (SignatureWorkers). */
  signatures: SignatureChecker
  /** Verifies an opaque token (RFC 7662); absent when only JWTs are accepted. */
  introspect?: (token: string) => Promise<AccessTokenIdentity>
  /** Milliseconds since the epoch. */
  now?: () => number
}

/**
 * How many header segments are kept with their checked header. An issuer signs its tokens with
 * a few keys and one header each (alg, kid, typ), so every token of one key has the same header
 * segment; decoding and checking it again per token is work the event loop can skip.
 */
const HEADER_CACHE_SIZE = 16

export class AccessTokenVerifier {
  readonly cache: VerifiedTokenCache
  /**
   * Header segment → its checked header. Filled only by tokens that passed every check (a
   * verified signature), so only the issuer's own headers enter, never a forger's.
   */
  readonly #headers = new Map<string, CheckedHeader>()
  readonly #auth: AuthConfig
  readonly #keys: KeySource
  readonly #signatures: SignatureChecker
  readonly #introspect: ((token: string) => Promise<AccessTokenIdentity>) | undefined
  readonly #now: () => number
  readonly #algorithms: ReadonlySet<string>
  readonly #claimRules: ClaimRules
  readonly #typeRules: TokenTypeRules
  readonly #acceptsJwt: boolean

  constructor(options: VerifierOptions) {
    const { auth } = options
    this.#auth = auth
    this.#keys = options.keys
    this.#signatures = options.signatures
    this.#introspect = auth.formats.includes('opaque') ? options.introspect : undefined
    this.#now = options.now ?? Date.now
    this.#acceptsJwt = auth.formats.includes('jwt')
    this.#algorithms = new Set(auth.algorithms)
    this.#claimRules = claimRulesFor(auth, options.issuer)
    this.#typeRules = { profile: auth.profile, provider: this.#claimRules.provider }
    this.cache = new VerifiedTokenCache(auth.tokenCacheSize)
    // A cached answer must be one a fresh verification would still give.
    this.#keys.onKeysChanged(() => this.cache.clear())
  }

  /**
   * The caller's identity, synchronously for a cached token; throws or rejects with an AuthError.
   * `iss`: for an issuer template (several tenants, one verifier), the issuer this token must
   * name, as the router found it in the unverified payload; `iss` is then checked against it.
   * `decoded`: the token as the router already decoded it, so that it is not decoded twice.
   */
  verify(token: string, iss?: string, decoded?: DecodedJws): AccessTokenIdentity | Promise<AccessTokenIdentity> {
    const now = this.#now() / 1000
    const cached = this.cache.get(token, now)
    if (cached !== undefined) return cached
    // A JWS is checked by its strict decoding in #verifyJwt (bearer-credentials.ts, jwsFirst); a
    // token the router decoded (several issuers) was checked there.
    if (!this.#acceptsJwt || (decoded === undefined && !jwsFirst(token))) {
      checkSingleToken(token)
      if (!looksLikeCompactJws(token)) {
        if (this.#introspect !== undefined) return this.#introspect(token)
        throw new AuthError('ERR_TOKEN_NOT_JWT', { reason: 'not a compact JWS' })
      }
      if (!this.#acceptsJwt) throw new AuthError('ERR_JWT_NOT_ACCEPTED', { reason: 'JWT with formats=opaque' })
    }
    return this.#verifyJwt(
      token,
      decoded,
      iss === undefined || iss === this.#claimRules.issuer ? this.#claimRules : { ...this.#claimRules, issuer: iss }
    )
  }

  async #verifyJwt(token: string, decoded: DecodedJws | undefined, rules: ClaimRules): Promise<AccessTokenIdentity> {
    // a header segment seen on a verified token was decoded strictly and checked then: only
    // the payload and signature are decoded (with the same checks as a full decode). A token
    // the router already decoded (several issuers) neither reads nor fills the header cache.
    const segment = decoded === undefined ? token.slice(0, token.indexOf('.')) : undefined
    const known = segment === undefined ? undefined : this.#headers.get(segment)
    let checked: CheckedHeader
    let parts: Omit<DecodedJws, 'header'>
    if (known === undefined) {
      const full = decoded ?? decodeJwsFirst(token, decodeCompactJws)
      checked = checkHeader(full.header, this.#algorithms)
      parts = full
    } else {
      checked = known
      parts = decodeJwsFirst(token, decodeCompactJwsPayload)
    }
    const { payload, signingInput, signature } = parts
    const { alg, kid, typ } = checked
    const generation = this.cache.generation // keys changing during the checks: not cached
    if (alg.startsWith('HS')) {
      if (this.#auth.hsSecret === undefined) throw new AuthError('ERR_JWS_ALG_NOT_ALLOWED', { reason: 'HS* without a secret' })
      verifyHmac(this.#auth.hsSecret, alg, signingInput, signature)
    } else {
      const keys = await this.#keys.select(kid, alg)
      await verifySignature(this.#signatures, keys, alg as JwsAlg, signingInput, signature)
    }
    const now = this.#now() / 1000
    try {
      checkJwtClaims(payload, rules, now)
    } catch (error) {
      // The signature is the issuer's: an ID token (whose aud names the client, not this API)
      // is refused as what it is, so that whoever sent it learns the real mistake.
      throw notAnAccessToken(typ, payload, this.#typeRules) ?? error
    }
    checkAccessToken(typ, payload, this.#typeRules)

    const identity = identityOf(payload, rules, 'jwt')
    const { notBefore, notAfter } = jwtValidity(payload, rules)
    this.cache.set(token, identity, notBefore, notAfter, generation)
    if (segment !== undefined && known === undefined) remember(this.#headers, HEADER_CACHE_SIZE, segment, checked)
    return identity
  }
}
