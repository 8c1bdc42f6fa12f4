/**
 * Step 7: is this verified JWT an access token? (RFC 9068 §2.1, RFC 8725 §3.11, RFC 9449 §7.2)
 * A token passes signature and claim checks first; it is then refused as "not an access
 * token" when its header type names another kind of JWT, when it carries claims only ID
 * tokens carry, when a provider's marker says it is an ID token, or when it is bound to a key.
 */
import type { TokenProfile } from '../config.js'
import { AuthError } from './errors.js'
import type { ProviderRules } from './providers.js'

const ID_TOKEN_DESCRIPTION =
  'An ID token was presented where an access token is required. The ID token tells the app who the user is and is never sent to an API; send the access token instead.'

/** What a header `typ` (normalised) names, for the error description. */
const OTHER_TYPES: Record<string, string> = {
  'dpop+jwt': 'a DPoP proof (typ dpop+jwt)',
  'logout+jwt': 'a logout token (typ logout+jwt)',
  'secevent+jwt': 'a security event token (typ secevent+jwt)',
  'id_token+jwt': 'an ID token (typ id_token+jwt)',
  'oauth-authz-req+jwt': 'a request object (typ oauth-authz-req+jwt)',
  'client-authentication+jwt': 'a client assertion (typ client-authentication+jwt)',
  'token-introspection+jwt': 'an introspection response (typ token-introspection+jwt)',
  'jwk-set+jwt': 'a signed key set (typ jwk-set+jwt)',
  'entity-statement+jwt': 'an entity statement (typ entity-statement+jwt)'
}

/** A claim value for a description: strings as they are, anything else as JSON, bounded. */
function printable (value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  return text.slice(0, 20)
}

function idToken (reason: string): AuthError {
  return new AuthError('ERR_ID_TOKEN_NOT_ACCESS_TOKEN', ID_TOKEN_DESCRIPTION, { reason })
}

function otherToken (what: string, reason: string): AuthError {
  return new AuthError('ERR_NOT_ACCESS_TOKEN', `${what[0]?.toUpperCase()}${what.slice(1)} was presented where an access token is required; send the access token instead.`, { reason })
}

export interface TokenTypeRules {
  profile: TokenProfile
  provider: ProviderRules
}

/** `typ` is the normalised header type (see normaliseTyp), undefined when absent. */
export function checkAccessToken (typ: string | undefined, payload: Record<string, unknown>, rules: TokenTypeRules): void {
  const explicitAccessToken = typ === 'at+jwt'
  if (typ !== undefined && !explicitAccessToken && typ !== 'jwt') {
    if (typ.startsWith('id_token') || typ === 'id+jwt') throw idToken(`typ ${typ.slice(0, 40)}`)
    // own properties only: a typ such as "constructor" or "__proto__" must not find Object.prototype's
    const known = Object.hasOwn(OTHER_TYPES, typ) ? OTHER_TYPES[typ] : undefined
    throw otherToken(known ?? `a token of type "${typ.slice(0, 40)}"`, `typ ${typ.slice(0, 40)}`)
  }

  // Provider markers that name the token's use explicitly.
  const tokenUse = payload.token_use
  if (tokenUse !== undefined && tokenUse !== 'access') {
    if (tokenUse === 'id') throw idToken('token_use id')
    throw otherToken(`a token with token_use "${printable(tokenUse)}"`, 'token_use not access')
  }
  const payloadTyp = payload.typ
  if (payloadTyp !== undefined && payloadTyp !== 'Bearer' && !(explicitAccessToken && payloadTyp === 'at+jwt')) {
    if (typeof payloadTyp === 'string' && payloadTyp.toLowerCase() === 'id') throw idToken('payload typ ID')
    if (typeof payloadTyp === 'string' && payloadTyp.toLowerCase() === 'refresh') throw otherToken('a refresh token', 'payload typ Refresh')
    if (typeof payloadTyp === 'string' && payloadTyp.toLowerCase() === 'logout') throw otherToken('a logout token', 'payload typ Logout')
    throw otherToken(`a token with "typ" claim "${printable(payloadTyp)}"`, 'payload typ not Bearer')
  }

  // Claims only ID tokens carry.
  for (const claim of ['at_hash', 'c_hash', 's_hash']) {
    if (payload[claim] !== undefined) throw idToken(`${claim} present`)
  }
  const accessMarker = explicitAccessToken || payloadTyp === 'Bearer' || tokenUse === 'access'
  if (payload.nonce !== undefined && !accessMarker) throw idToken('nonce without an access-token marker')

  // After the checks that recognise an ID token, so that an ID token is named as one under
  // rfc9068 too; this refuses every other token without typ at+jwt.
  if (rules.profile === 'rfc9068' && !explicitAccessToken) {
    throw new AuthError('ERR_JWT_TYPE_INVALID', `A token whose header "typ" is ${typ === undefined ? 'absent' : `"${typ}"`} was presented where an access token is required: this API accepts only RFC 9068 access tokens, whose header "typ" is "at+jwt" (is it an ID token?).`, {
      reason: `typ ${typ ?? 'absent'} under rfc9068`
    })
  }

  const missingMarker = rules.provider.accessTokenMarker?.(payload)
  if (missingMarker !== undefined) {
    throw new AuthError('ERR_ID_TOKEN_NOT_ACCESS_TOKEN', `${ID_TOKEN_DESCRIPTION} (This token is not an access token: ${missingMarker}.)`, { reason: 'provider access-token marker missing' })
  }

  if (payload.cnf !== undefined) {
    throw new AuthError('ERR_TOKEN_SENDER_CONSTRAINED', 'This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used with the Bearer scheme.', {
      reason: 'cnf present with the Bearer scheme'
    })
  }
}

/**
 * For a token whose signature verified but whose claims failed: the refusal saying that it is
 * an ID token or another kind of token when it is one, undefined otherwise. Whoever sends an ID
 * token needs to hear that, rather than that its `aud` names a client and not this API.
 */
export function notAnAccessToken (typ: string | undefined, payload: Record<string, unknown>, rules: TokenTypeRules): AuthError | undefined {
  try {
    checkAccessToken(typ, payload, rules)
  } catch (error) {
    if (error instanceof AuthError && (error.code === 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN' || error.code === 'ERR_NOT_ACCESS_TOKEN')) return error
  }
  return undefined
}
