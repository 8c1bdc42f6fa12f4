/**
 * One base error, one stable code per refusal (in the spirit of jose's ERR_*).
 * Callers switch on `code`, never on message text. `description` is safe to show to the
 * client (it never contains the token, a key or a stack); `reason` is for the logs.
 */

export type OAuthErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope'

export interface AuthErrorDefinition {
  status: 400 | 401 | 403 | 503
  /** RFC 6750 error code for WWW-Authenticate; undefined for "no credentials" and 503s. */
  oauthError: OAuthErrorCode | undefined
  title: string
}

export const AUTH_ERRORS = {
  ERR_NO_CREDENTIALS: { status: 401, oauthError: undefined, title: 'Authentication required' },
  ERR_MULTIPLE_CREDENTIALS: { status: 400, oauthError: 'invalid_request', title: 'Invalid request' },
  ERR_TOKEN_IN_QUERY: { status: 400, oauthError: 'invalid_request', title: 'Invalid request' },
  ERR_TOKEN_IN_BODY: { status: 400, oauthError: 'invalid_request', title: 'Invalid request' },
  ERR_EMPTY_CREDENTIALS: { status: 400, oauthError: 'invalid_request', title: 'Invalid request' },
  ERR_TOKEN_MALFORMED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_TOKEN_TOO_LARGE: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_TOKEN_NOT_JWT: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_NOT_ACCEPTED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWS_ALG_NOT_ALLOWED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWS_CRIT_UNSUPPORTED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWS_SIGNATURE_INVALID: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWKS_NO_MATCHING_KEY: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_CLAIM_MISSING: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_CLAIM_INVALID: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_ISSUER_INVALID: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_AUDIENCE_INVALID: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_EXPIRED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_NOT_YET_VALID: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_ISSUED_IN_FUTURE: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_JWT_TYPE_INVALID: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_ID_TOKEN_NOT_ACCESS_TOKEN: { status: 401, oauthError: 'invalid_token', title: 'ID token presented as an access token' },
  ERR_NOT_ACCESS_TOKEN: { status: 401, oauthError: 'invalid_token', title: 'Not an access token' },
  ERR_TOKEN_SENDER_CONSTRAINED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_CLIENT_NOT_ALLOWED: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_TOKEN_INACTIVE: { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' },
  ERR_INSUFFICIENT_SCOPE: { status: 403, oauthError: 'insufficient_scope', title: 'Insufficient scope' },
  ERR_KEYS_UNAVAILABLE: { status: 503, oauthError: undefined, title: 'Signing keys unavailable' },
  ERR_INTROSPECTION_UNAVAILABLE: { status: 503, oauthError: undefined, title: 'Token introspection unavailable' },
  ERR_SHUTTING_DOWN: { status: 503, oauthError: undefined, title: 'Shutting down' }
} as const satisfies Record<string, AuthErrorDefinition>

export type AuthErrorCode = keyof typeof AUTH_ERRORS

export interface AuthErrorExtra {
  /** For the logs only: what exactly failed (a claim name, a kid, a cause). Never the token. */
  reason?: string
  /** ERR_INSUFFICIENT_SCOPE: the scopes the route requires. */
  scope?: string
  /** 503s: seconds until a retry makes sense. */
  retryAfter?: number
  /** The claim concerned, when there is one. */
  claim?: string
}

export class AuthError extends Error {
  readonly code: AuthErrorCode
  readonly status: 400 | 401 | 403 | 503
  readonly oauthError: OAuthErrorCode | undefined
  readonly title: string
  /** Safe for the client: goes into error_description and the problem's detail. */
  readonly description: string
  readonly reason: string | undefined
  readonly scope: string | undefined
  readonly retryAfter: number | undefined
  readonly claim: string | undefined

  constructor (code: AuthErrorCode, description: string, extra: AuthErrorExtra = {}) {
    super(description)
    this.name = 'AuthError'
    const definition: AuthErrorDefinition = AUTH_ERRORS[code]
    this.code = code
    this.status = definition.status
    this.oauthError = definition.oauthError
    this.title = definition.title
    this.description = description
    this.reason = extra.reason
    this.scope = extra.scope
    this.retryAfter = extra.retryAfter
    this.claim = extra.claim
  }
}

export function isAuthError (value: unknown): value is AuthError {
  return value instanceof AuthError
}
