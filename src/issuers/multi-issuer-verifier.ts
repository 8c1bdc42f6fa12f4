/**
 * Several trusted issuers behind one `verify(token)`: the unverified payload's `iss` (and
 * `tid`) only picks one configured issuer (issuer-router.ts), whose own verifier then checks
 * the token with that issuer's keys and rules, exactly as the single-issuer API does. A token
 * naming any other issuer is refused before any key is looked up or fetched. An opaque token
 * names no issuer: it goes to the one issuer that accepts opaque tokens, if any.
 *
 * A refusal by the chosen issuer's verifier carries that issuer's id (`AuthError.issuer`) for
 * the logs, so that a refusal line names the issuer (never the token); a token the router
 * refuses names no configured issuer, and its reason quotes the `iss` it named.
 */
import { AuthError, isAuthError } from '../errors.js'
import type { AccessTokenVerifier } from '../token/access-token-verifier.js'
import { checkSingleToken, decodeJwsFirst, jwsFirst } from '../token/bearer-credentials.js'
import { decodeCompactJws, type DecodedJws } from '../token/compact-jws.js'
import type { AccessTokenIdentity } from '../token/identity.js'
import type { TrustedIssuer } from './issuers-file.js'
import { IssuerRouter } from './issuer-router.js'

/** What the gate needs of a verifier (AccessTokenVerifier for one issuer, this for several). */
export interface TokenVerifier {
  /**
   * Synchronously only with an identity from a verified-token cache (the same object for every
   * request with that token, which the gate tells handlers as request.authCached); a token
   * verified in full is answered by a promise.
   */
  verify(token: string): AccessTokenIdentity | Promise<AccessTokenIdentity>
  /** The verified-token cache(s), for tests and operators: how many, and emptying them. */
  readonly cache: { readonly size: number; clear(): void }
}

export interface IssuerVerifier {
  issuer: TrustedIssuer
  verifier: AccessTokenVerifier
}

export class MultiIssuerVerifier implements TokenVerifier {
  readonly #router: IssuerRouter
  readonly #verifiers: ReadonlyMap<TrustedIssuer, AccessTokenVerifier>
  readonly #all: readonly AccessTokenVerifier[]
  /** The one issuer that accepts opaque tokens, if any. */
  readonly #opaque: TrustedIssuer | undefined
  readonly #now: () => number
  readonly cache: TokenVerifier['cache']

  constructor(entries: readonly IssuerVerifier[], now: () => number = Date.now) {
    this.#router = new IssuerRouter(entries.map((entry) => entry.issuer))
    this.#verifiers = new Map(entries.map((entry) => [entry.issuer, entry.verifier]))
    this.#all = entries.map((entry) => entry.verifier)
    this.#opaque = this.#router.opaque
    this.#now = now
    const all = this.#all
    this.cache = {
      get size() {
        return all.reduce((sum, verifier) => sum + verifier.cache.size, 0)
      },
      clear() {
        for (const verifier of all) verifier.cache.clear()
      }
    }
  }

  verify(token: string): AccessTokenIdentity | Promise<AccessTokenIdentity> {
    // a token verified before is in its issuer's cache: no decoding, no routing
    const now = this.#now() / 1000
    for (const verifier of this.#all) {
      const cached = verifier.cache.get(token, now)
      if (cached !== undefined) return cached
    }
    let issuer: TrustedIssuer
    let iss: string | undefined
    let decoded: DecodedJws | undefined
    if (!jwsFirst(token)) {
      // a token that passes this is no compact JWS: jwsFirst takes every one short enough
      checkSingleToken(token)
      if (this.#opaque === undefined) {
        throw new AuthError('ERR_TOKEN_NOT_JWT', { reason: 'not a compact JWS, and no issuer accepts opaque tokens' })
      }
      issuer = this.#opaque
    } else {
      // checked by its strict decoding (bearer-credentials.ts, jwsFirst), once: the chosen
      // issuer's verifier is given it
      decoded = decodeJwsFirst(token, decodeCompactJws)
      const route = this.#router.route(decoded.payload)
      issuer = route.issuer
      iss = route.issuer.kind === 'template' ? route.iss : undefined
    }
    const verifier = this.#verifiers.get(issuer)
    if (verifier === undefined) throw new AuthError('ERR_JWT_ISSUER_INVALID', { claim: 'iss', reason: 'routed to no verifier' })
    // from here on a refusal is this issuer's: it names the issuer in the logs
    try {
      const result = verifier.verify(token, iss, decoded)
      return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(withIssuer(error, issuer))) : result
    } catch (error) {
      throw withIssuer(error, issuer)
    }
  }
}

/** A refusal by an issuer's verifier, marked with that issuer's id for the logs (other errors as they are). */
function withIssuer(error: unknown, issuer: TrustedIssuer): unknown {
  if (isAuthError(error)) error.issuer ??= issuer.id
  return error
}
