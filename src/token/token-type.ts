/**
 * Step 7: is this verified JWT an access token? (RFC 9068 §2.1, RFC 8725 §3.11)
 * A token passes signature and claim checks first; it is then refused as "not an access
 * token" when its header type names another kind of JWT, when it carries claims only ID
 * tokens carry, or when a provider's marker says it is an ID token. (A key binding, `cnf`,
 * is the gate's to hold against the scheme: see keyBindingOf in access-token-claims.ts.)
 */
import type { TokenProfile } from '../config.js'
import { AuthError, type OtherToken } from '../errors.js'
import type { ProviderRules } from './providers.js'

function idToken(reason: string): AuthError {
  return new AuthError('ERR_ID_TOKEN_NOT_ACCESS_TOKEN', { reason })
}

function otherToken(token: OtherToken, reason: string): AuthError {
  return new AuthError('ERR_NOT_ACCESS_TOKEN', { ...token, reason })
}

export interface TokenTypeRules {
  profile: TokenProfile
  provider: ProviderRules
}

/** `typ` is the normalised header type (see normaliseTyp), undefined when absent. */
export function checkAccessToken(typ: string | undefined, payload: Record<string, unknown>, rules: TokenTypeRules): void {
  const explicitAccessToken = typ === 'at+jwt'
  if (typ !== undefined && !explicitAccessToken && typ !== 'jwt') {
    if (typ.startsWith('id_token') || typ === 'id+jwt') throw idToken(`typ ${typ.slice(0, 40)}`)
    throw otherToken({ typ }, `typ ${typ.slice(0, 40)}`)
  }

  // Provider markers that name the token's use explicitly.
  const tokenUse = payload.token_use
  if (tokenUse !== undefined && tokenUse !== 'access') {
    if (tokenUse === 'id') throw idToken('token_use id')
    throw otherToken({ tokenUse }, 'token_use not access')
  }
  const payloadTyp = payload.typ
  // Keycloak marks its access tokens "Bearer", and its DPoP-bound ones "DPoP"
  const keycloakAccess = payloadTyp === 'Bearer' || payloadTyp === 'DPoP'
  if (payloadTyp !== undefined && !keycloakAccess && !(explicitAccessToken && payloadTyp === 'at+jwt')) {
    const lower = typeof payloadTyp === 'string' ? payloadTyp.toLowerCase() : undefined
    if (lower === 'id') throw idToken('payload typ ID')
    if (lower === 'refresh') throw otherToken({ claimTyp: payloadTyp }, 'payload typ Refresh')
    if (lower === 'logout') throw otherToken({ claimTyp: payloadTyp }, 'payload typ Logout')
    throw otherToken({ claimTyp: payloadTyp }, 'payload typ not Bearer')
  }

  // Claims only ID tokens carry.
  for (const claim of ['at_hash', 'c_hash', 's_hash']) {
    if (payload[claim] !== undefined) throw idToken(`${claim} present`)
  }
  const accessMarker = explicitAccessToken || keycloakAccess || tokenUse === 'access'
  if (payload.nonce !== undefined && !accessMarker) throw idToken('nonce without an access-token marker')

  // After the checks that recognise an ID token, so that an ID token is named as one under
  // rfc9068 too; this refuses every other token without typ at+jwt.
  if (rules.profile === 'rfc9068' && !explicitAccessToken) {
    throw new AuthError('ERR_JWT_TYPE_INVALID', { typ, reason: `typ ${typ ?? 'absent'} under rfc9068` })
  }

  const missingMarker = rules.provider.accessTokenMarker?.(payload)
  if (missingMarker !== undefined) {
    throw new AuthError('ERR_ID_TOKEN_NOT_ACCESS_TOKEN', { missingMarker, reason: 'provider access-token marker missing' })
  }
}

/**
 * For a token whose signature verified but whose claims failed: the refusal saying that it is
 * an ID token or another kind of token when it is one, undefined otherwise. Whoever sends an ID
 * token needs to hear that, rather than that its `aud` names a client and not this API.
 */
export function notAnAccessToken(typ: string | undefined, payload: Record<string, unknown>, rules: TokenTypeRules): AuthError | undefined {
  try {
    checkAccessToken(typ, payload, rules)
  } catch (error) {
    if (error instanceof AuthError && (error.code === 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN' || error.code === 'ERR_NOT_ACCESS_TOKEN'))
      return error
  }
  return undefined
}
