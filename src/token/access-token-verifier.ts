/**
 * The token pipeline, as RFC 6750 / 7515 / 9068 describe it:
 *   decode and check the header → select the key → verify the signature →
 *   check the claims → classify the token (access token or not) → build the identity.
 * Scopes are checked per route afterwards (scopes.ts). Opaque tokens go to introspection
 * when accepted; JWTs never do.
 */
import type { AuthConfig, JwsAlg } from '../config.js'
import type { VerificationKey } from '../keys/jwk-import.js'
import { checkSingleToken } from './bearer-credentials.js'
import { clientIdOf, checkClaims, type ClaimRules } from './claims.js'
import { decodeCompactJws, looksLikeCompactJws } from './compact-jws.js'
import { AuthError } from './errors.js'
import type { AccessTokenIdentity } from './identity.js'
import { checkHeader } from './jws-header.js'
import { PROVIDER_RULES } from './providers.js'
import { scopesOf } from './scopes.js'
import { verifyHmac, verifySignature } from './signature.js'
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
  /** Verifies an opaque token (RFC 7662); absent when only JWTs are accepted. */
  introspect?: (token: string) => Promise<AccessTokenIdentity>
  /** Milliseconds since the epoch. */
  now?: () => number
}

const RFC9068_REQUIRED = ['sub', 'client_id', 'iat', 'jti']

const NOT_A_JWT =
  'The access token is not a JWT, and this API accepts only JWT access tokens. An opaque token usually means it was requested without this API as its audience: request the token with audience (or resource) set to this API\'s identifier.'

export class AccessTokenVerifier {
  readonly cache: VerifiedTokenCache
  readonly #issuer: string
  readonly #auth: AuthConfig
  readonly #keys: KeySource
  readonly #introspect: ((token: string) => Promise<AccessTokenIdentity>) | undefined
  readonly #now: () => number
  readonly #algorithms: ReadonlySet<string>
  readonly #claimRules: ClaimRules
  readonly #typeRules: TokenTypeRules
  readonly #audiences: ReadonlySet<string>
  readonly #acceptsJwt: boolean

  constructor (options: VerifierOptions) {
    const { auth } = options
    this.#auth = auth
    this.#issuer = options.issuer
    this.#keys = options.keys
    this.#introspect = auth.formats.includes('opaque') ? options.introspect : undefined
    this.#now = options.now ?? Date.now
    this.#acceptsJwt = auth.formats.includes('jwt')
    this.#algorithms = new Set(auth.algorithms)
    this.#audiences = new Set(auth.audiences)
    const provider = PROVIDER_RULES[auth.provider]
    this.#claimRules = {
      issuer: options.issuer,
      audiences: this.#audiences,
      clockTolerance: auth.clockTolerance,
      clientIds: new Set(auth.clientIds),
      audienceOptionalWithClientId: provider.audienceOptionalWithClientId,
      required: auth.profile === 'rfc9068' ? RFC9068_REQUIRED : []
    }
    this.#typeRules = { profile: auth.profile, provider }
    this.cache = new VerifiedTokenCache(auth.tokenCacheSize)
    // A cached answer must be one a fresh verification would still give.
    this.#keys.onKeysChanged(() => this.cache.clear())
  }

  /** The caller's identity, synchronously for a cached token; throws or rejects with an AuthError. */
  verify (token: string): AccessTokenIdentity | Promise<AccessTokenIdentity> {
    const now = this.#now() / 1000
    const cached = this.cache.get(token, now)
    if (cached !== undefined) return cached
    checkSingleToken(token)
    if (!looksLikeCompactJws(token)) {
      if (this.#introspect !== undefined) return this.#introspect(token)
      throw new AuthError('ERR_TOKEN_NOT_JWT', NOT_A_JWT, { reason: 'not a compact JWS' })
    }
    if (!this.#acceptsJwt) {
      throw new AuthError('ERR_JWT_NOT_ACCEPTED', 'The access token is a JWT, and this API accepts only opaque access tokens (AUTH_TOKEN_FORMATS).', { reason: 'JWT with formats=opaque' })
    }
    return this.#verifyJwt(token)
  }

  async #verifyJwt (token: string): Promise<AccessTokenIdentity> {
    const { header, payload, signingInput, signature } = decodeCompactJws(token)
    const { alg, kid, typ } = checkHeader(header, this.#algorithms)
    const generation = this.cache.generation // keys changing during the checks: not cached
    if (alg.startsWith('HS')) {
      if (this.#auth.hsSecret === undefined) throw new AuthError('ERR_JWS_ALG_NOT_ALLOWED', 'The access token is signed with an algorithm this API does not accept.', { reason: 'HS* without a secret' })
      verifyHmac(this.#auth.hsSecret, alg, signingInput, signature)
    } else {
      const keys = await this.#keys.select(kid, alg)
      await verifySignature(keys, alg as JwsAlg, signingInput, signature)
    }
    const now = this.#now() / 1000
    try {
      checkClaims(payload, this.#claimRules, now)
    } catch (error) {
      // The signature is the issuer's: an ID token (whose aud names the client, not this API)
      // is refused as what it is, so that whoever sent it learns the real mistake.
      throw notAnAccessToken(typ, payload, this.#typeRules) ?? error
    }
    checkAccessToken(typ, payload, this.#typeRules)

    const exp = payload.exp as number
    const identity: AccessTokenIdentity = Object.freeze({
      sub: payload.sub as string | undefined,
      clientId: clientIdOf(payload),
      scopes: Object.freeze(scopesOf(payload, PROVIDER_RULES[this.#auth.provider], this.#audiences)),
      issuer: this.#issuer,
      expiresAt: exp,
      format: 'jwt' as const,
      claims: Object.freeze(payload)
    })
    const tolerance = this.#auth.clockTolerance
    const nbf = typeof payload.nbf === 'number' ? payload.nbf : -Infinity
    this.cache.set(token, identity, nbf - tolerance, exp + tolerance, generation)
    return identity
  }
}
