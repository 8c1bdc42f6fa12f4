/**
 * The error catalogue, in the spirit of jose's errors module: every code a client can meet,
 * once, with its HTTP status, its problem title and its client-facing sentence. A throw site
 * names a code and gives only the variable parts (`new AuthError('ERR_JWT_EXPIRED', { claim:
 * 'exp', reason })`); where a sentence has variable parts, the table holds the function that
 * words them. Callers switch on `code`, never on the text.
 *
 * Sentences are safe for the client: they never contain the token, a key or a stack. `reason`
 * (on AuthError) is for the logs only.
 *
 * Errors that never reach a client as such (a refused issuer key, a failed fetch, JSON that is
 * not strict, a bad configuration variable) have a name and a code too, given once in their
 * class: KeyRejected (src/keys/jwk-import.ts), FetchFailed (src/remote/fetch-json.ts),
 * StrictJsonError (src/token/strict-json.ts), ConfigError (src/config.ts).
 */

import type { TokenFormat } from './config.js'

export type OAuthErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce'

interface ErrorDefinition {
  status: number
  /** The problem body's `title`. */
  title: string
  /**
   * Present on the refusals of the credentials (AuthError codes): the RFC 6750 error code of
   * the WWW-Authenticate challenge, undefined for "no credentials" and for 503s.
   */
  oauthError?: OAuthErrorCode | undefined
  /** The client-facing sentence (the problem's `detail`, the challenge's `error_description`), or the function that words it. */
  detail: string | ((parts: never) => string)
}

const INVALID_TOKEN = { status: 401, oauthError: 'invalid_token', title: 'Invalid access token' } as const
const INVALID_REQUEST = { status: 400, oauthError: 'invalid_request', title: 'Invalid request' } as const
const UNAVAILABLE = { status: 503, oauthError: undefined, title: 'Service Unavailable' } as const
/** RFC 9449 §7.1: a DPoP proof that fails a check of §4.3. */
const INVALID_PROOF = { status: 401, oauthError: 'invalid_dpop_proof', title: 'Invalid DPoP proof' } as const

const ID_TOKEN_SENTENCE =
  'An ID token was presented where an access token is required. The ID token tells the app who the user is and is never sent to an API; send the access token instead.'

const SEND_IN_HEADER = 'send the token in the Authorization header as "Bearer <token>".'

/** ERR_MULTIPLE_CREDENTIALS: where the second credential was found. */
const MULTIPLE_CREDENTIALS = {
  query:
    'The request carries an access token both in the Authorization header and in the query string; send it in the Authorization header only.',
  body: 'The request carries an access token both in the Authorization header and in the body; send it in the Authorization header only.',
  headers: 'The request carries more than one Authorization header; send exactly one Bearer token.',
  token: 'The Authorization header must carry exactly one Bearer token.'
} as const

/** ERR_TOKEN_MALFORMED: what is wrong with the token's structure (without one: the general sentence). */
const MALFORMED = {
  parts: 'The access token is malformed: a JWT has three dot-separated parts.',
  'empty payload': 'The access token is malformed: its payload is empty.',
  'header json': 'The access token is malformed: its header is not a valid JSON object.',
  'payload json': 'The access token is malformed: its payload is not a valid JSON object.',
  'no alg': 'The access token is malformed: its header has no "alg".',
  'kid type': 'The access token is malformed: its "kid" is not a string.',
  'typ type': 'The access token is malformed: its "typ" is not a string.',
  b64: 'The access token uses an unencoded payload, which this API does not accept.'
} as const

/** ERR_JWT_CLAIM_INVALID: what a claim's value should have been. */
const EXPECTED = {
  string: 'a string',
  strings: 'a string or an array of strings',
  'numeric date': 'a NumericDate',
  date: 'a valid date (a NumericDate from 1970 to the year 9999)'
} as const

/** What a header `typ` (normalised) names. */
const OTHER_TYPES: Readonly<Record<string, string>> = {
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

/** A claim value inside a sentence: strings as they are, anything else as JSON, bounded. */
function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  return text.slice(0, 20)
}

/**
 * ERR_NOT_ACCESS_TOKEN: what marked the token as another kind of token: its header `typ`
 * (normalised), a Cognito `token_use`, a Keycloak payload `typ`, or an introspection answer's
 * `token_type`.
 */
export type OtherToken = { typ: string } | { tokenUse: unknown } | { claimTyp: unknown } | { tokenType: string }

function otherTokenName(token: OtherToken): string {
  if ('typ' in token) {
    // own properties only: a typ such as "constructor" or "__proto__" must not find Object.prototype's
    return (Object.hasOwn(OTHER_TYPES, token.typ) ? OTHER_TYPES[token.typ] : undefined) ?? `a token of type "${token.typ.slice(0, 40)}"`
  }
  if ('tokenUse' in token) return `a token with token_use "${printable(token.tokenUse)}"`
  if ('tokenType' in token) return `a token of type "${token.tokenType.slice(0, 30)}"`
  const typ = typeof token.claimTyp === 'string' ? token.claimTyp.toLowerCase() : undefined
  if (typ === 'refresh') return 'a refresh token'
  if (typ === 'logout') return 'a logout token'
  return `a token with "typ" claim "${printable(token.claimTyp)}"`
}

export const ERRORS = {
  // ---- refusals of the credentials (AuthError): RFC 6750 §3 ----
  ERR_NO_CREDENTIALS: {
    status: 401,
    oauthError: undefined,
    title: 'Authentication required',
    detail: 'This route requires a Bearer access token in the Authorization header.'
  },
  ERR_MULTIPLE_CREDENTIALS: {
    ...INVALID_REQUEST,
    detail: ({ where }: { where: keyof typeof MULTIPLE_CREDENTIALS }) => MULTIPLE_CREDENTIALS[where]
  },
  ERR_TOKEN_IN_QUERY: { ...INVALID_REQUEST, detail: `Access tokens in the query string are not accepted; ${SEND_IN_HEADER}` },
  ERR_TOKEN_IN_BODY: { ...INVALID_REQUEST, detail: `Access tokens in the request body are not accepted; ${SEND_IN_HEADER}` },
  ERR_EMPTY_CREDENTIALS: {
    ...INVALID_REQUEST,
    detail: (parts?: { scheme?: 'Bearer' | 'DPoP' }) =>
      `The Authorization header names the ${parts?.scheme ?? 'Bearer'} scheme but carries no token.`
  },
  ERR_TOKEN_MALFORMED: {
    ...INVALID_TOKEN,
    detail: (parts?: { flaw?: keyof typeof MALFORMED }) =>
      parts?.flaw === undefined ? 'The access token is malformed.' : MALFORMED[parts.flaw]
  },
  ERR_TOKEN_TOO_LARGE: { ...INVALID_TOKEN, detail: 'The access token is too large.' },
  ERR_TOKEN_NOT_JWT: {
    ...INVALID_TOKEN,
    detail:
      "The access token is not a JWT, and this API accepts only JWT access tokens. An opaque token usually means it was requested without this API as its audience: request the token with audience (or resource) set to this API's identifier."
  },
  ERR_JWT_NOT_ACCEPTED: {
    ...INVALID_TOKEN,
    detail: 'The access token is a JWT, and this API accepts only opaque access tokens (AUTH_TOKEN_FORMATS).'
  },
  ERR_JWS_ALG_NOT_ALLOWED: {
    ...INVALID_TOKEN,
    detail: (parts?: { alg?: string }) =>
      `The access token is signed with an algorithm this API does not accept${parts?.alg === undefined ? '' : ` (${parts.alg.slice(0, 16)})`}.`
  },
  ERR_JWS_CRIT_UNSUPPORTED: {
    ...INVALID_TOKEN,
    detail: 'The access token requires header extensions ("crit") this API does not understand.'
  },
  ERR_JWS_SIGNATURE_INVALID: {
    ...INVALID_TOKEN,
    detail: (parts?: { unsigned?: true }) =>
      parts?.unsigned === true ? 'The access token is not signed.' : "The access token's signature is invalid."
  },
  ERR_JWKS_NO_MATCHING_KEY: { ...INVALID_TOKEN, detail: 'The access token is signed with a key the issuer does not publish.' },
  ERR_JWT_CLAIM_MISSING: {
    ...INVALID_TOKEN,
    /** `ownership`: the token names no owner for the data a route keeps (src/messages/owner.ts). */
    detail: ({ claim, ownership }: { claim: string; ownership?: true }) =>
      ownership === true
        ? 'The access token names neither a subject (sub) nor a client (client_id), so it cannot own data.'
        : `The access token has no "${claim}" claim.`
  },
  ERR_JWT_CLAIM_INVALID: {
    ...INVALID_TOKEN,
    // an introspection answer's members are not "claims" in its sentences
    detail: ({ claim, expected, format }: { claim: string; expected: keyof typeof EXPECTED; format: TokenFormat }) =>
      `The access token's "${claim}"${format === 'jwt' ? ' claim' : ''} is not ${EXPECTED[expected]}.`
  },
  ERR_JWT_ISSUER_INVALID: { ...INVALID_TOKEN, detail: 'The access token was not issued by an issuer this API trusts.' },
  ERR_JWT_AUDIENCE_INVALID: {
    ...INVALID_TOKEN,
    detail: ({ format }: { format: TokenFormat }) =>
      `The access token is not meant for this API (its ${format === 'jwt' ? '"aud" claim' : 'audience'} does not name this API).`
  },
  ERR_JWT_EXPIRED: { ...INVALID_TOKEN, detail: 'The access token has expired.' },
  ERR_JWT_NOT_YET_VALID: { ...INVALID_TOKEN, detail: 'The access token is not valid yet (nbf).' },
  ERR_JWT_ISSUED_IN_FUTURE: { ...INVALID_TOKEN, detail: 'The access token was issued in the future (iat).' },
  ERR_JWT_TYPE_INVALID: {
    ...INVALID_TOKEN,
    detail: ({ typ }: { typ: string | undefined }) =>
      `A token whose header "typ" is ${typ === undefined ? 'absent' : `"${typ}"`} was presented where an access token is required: this API accepts only RFC 9068 access tokens, whose header "typ" is "at+jwt" (is it an ID token?).`
  },
  ERR_ID_TOKEN_NOT_ACCESS_TOKEN: {
    ...INVALID_TOKEN,
    title: 'ID token presented as an access token',
    /** `missingMarker`: the provider's access-token marker the token lacks (providers.ts). */
    detail: (parts?: { missingMarker?: string }) =>
      parts?.missingMarker === undefined
        ? ID_TOKEN_SENTENCE
        : `${ID_TOKEN_SENTENCE} (This token is not an access token: ${parts.missingMarker}.)`
  },
  ERR_NOT_ACCESS_TOKEN: {
    ...INVALID_TOKEN,
    title: 'Not an access token',
    detail: (token: OtherToken) => {
      const name = otherTokenName(token)
      return `${name[0]?.toUpperCase()}${name.slice(1)} was presented where an access token is required; send the access token instead.`
    }
  },
  ERR_TOKEN_SENDER_CONSTRAINED: {
    ...INVALID_TOKEN,
    detail: 'This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used with the Bearer scheme.'
  },
  // ---- DPoP (RFC 9449): the DPoP scheme and its proof ----
  ERR_DPOP_REQUIRED: {
    ...INVALID_TOKEN,
    detail: 'This API accepts only DPoP-bound access tokens: send "Authorization: DPoP <token>" with a DPoP proof (RFC 9449).'
  },
  ERR_DPOP_NOT_ACCEPTED: {
    status: 401,
    oauthError: undefined,
    title: 'Authentication required',
    detail: 'This API does not accept the DPoP scheme; send the access token as "Bearer <token>".'
  },
  ERR_DPOP_TOKEN_NOT_BOUND: {
    ...INVALID_TOKEN,
    detail: 'The access token is not bound to a key ("cnf" with "jkt"), so it cannot be used with the DPoP scheme; send it as Bearer.'
  },
  ERR_DPOP_PROOF_MISSING: { ...INVALID_PROOF, detail: 'The DPoP scheme needs exactly one DPoP header holding a proof; there is none.' },
  ERR_DPOP_MULTIPLE_PROOFS: { ...INVALID_PROOF, detail: 'The request carries more than one DPoP proof; send exactly one DPoP header.' },
  ERR_DPOP_PROOF_MALFORMED: {
    ...INVALID_PROOF,
    detail: (parts?: { what?: string }) =>
      `The DPoP proof is not a well-formed JWT${parts?.what === undefined ? '' : ` (${parts.what.slice(0, 60)})`}.`
  },
  ERR_DPOP_PROOF_TYPE: { ...INVALID_PROOF, detail: 'The DPoP proof\'s header "typ" is not "dpop+jwt".' },
  ERR_DPOP_PROOF_ALG: {
    ...INVALID_PROOF,
    detail: (parts?: { algs?: string }) =>
      `The DPoP proof is signed with an algorithm this API does not accept${parts?.algs === undefined ? '' : ` (accepted: ${parts.algs})`}.`
  },
  ERR_DPOP_PROOF_JWK: {
    ...INVALID_PROOF,
    detail: 'The DPoP proof\'s header "jwk" is missing, is not a public key, or does not suit the proof\'s "alg".'
  },
  ERR_DPOP_PROOF_SIGNATURE: { ...INVALID_PROOF, detail: 'The DPoP proof\'s signature does not verify with its "jwk".' },
  ERR_DPOP_PROOF_HTM: { ...INVALID_PROOF, detail: 'The DPoP proof\'s "htm" is not the method of this request.' },
  ERR_DPOP_PROOF_HTU: {
    ...INVALID_PROOF,
    detail: 'The DPoP proof\'s "htu" is not the URI of this request (scheme, host and path at this API\'s public URL, without query).'
  },
  ERR_DPOP_PROOF_IAT: {
    ...INVALID_PROOF,
    detail: 'The DPoP proof\'s "iat" is missing or outside the accepted window; make a fresh proof for each request.'
  },
  ERR_DPOP_PROOF_JTI: { ...INVALID_PROOF, detail: 'The DPoP proof has no usable "jti" (a unique string).' },
  ERR_DPOP_PROOF_REPLAYED: {
    ...INVALID_PROOF,
    detail: 'This DPoP proof was used before; make a fresh proof (new "jti") for each request.'
  },
  ERR_DPOP_PROOF_ATH: {
    ...INVALID_PROOF,
    detail: 'The DPoP proof\'s "ath" is missing or is not the hash of the access token sent with it.'
  },
  ERR_DPOP_KEY_MISMATCH: {
    ...INVALID_PROOF,
    detail: 'The DPoP proof is signed with a key other than the one the access token is bound to ("cnf" "jkt").'
  },
  ERR_DPOP_NONCE_REQUIRED: {
    status: 401,
    oauthError: 'use_dpop_nonce',
    title: 'DPoP nonce required',
    detail: 'The DPoP proof must carry the server nonce given in the DPoP-Nonce response header; make a new proof with it.'
  },
  ERR_DPOP_REPLAY_CHECK_UNAVAILABLE: {
    ...UNAVAILABLE,
    detail: 'DPoP proofs cannot be checked for replay right now; try again later.'
  },
  ERR_CLIENT_NOT_ALLOWED: { ...INVALID_TOKEN, detail: 'The access token was issued to a client this API does not accept.' },
  ERR_TOKEN_INACTIVE: { ...INVALID_TOKEN, detail: 'The access token is not active (it is unknown, expired or revoked).' },
  ERR_INSUFFICIENT_SCOPE: {
    status: 403,
    oauthError: 'insufficient_scope',
    title: 'Insufficient scope',
    /** `scope`: the route's required scopes, space-separated (scope names hold no space, RFC 6749 §3.3). */
    detail: ({ scope }: { scope: string }) => `This request requires the scope${scope.includes(' ') ? 's' : ''} ${scope}.`
  },
  ERR_KEYS_UNAVAILABLE: { ...UNAVAILABLE, detail: "The issuer's signing keys cannot be obtained right now; try again later." },
  ERR_INTROSPECTION_UNAVAILABLE: {
    ...UNAVAILABLE,
    detail: 'The authorization server could not be asked about this token right now; try again later.'
  },
  ERR_SHUTTING_DOWN: { ...UNAVAILABLE, detail: 'The server is shutting down; retry the request.' },

  // ---- every other error body: routes, bodies, limits, readiness, internal errors ----
  ERR_VALIDATION: {
    status: 400,
    title: 'Bad Request',
    /** `message`: the validator's description of the schema the request failed. */
    detail: (parts?: { message?: string }) => parts?.message ?? "The request does not match the operation's schema."
  },
  ERR_MALFORMED_BODY: { status: 400, title: 'Bad Request', detail: 'The request body is not valid JSON.' },
  ERR_BAD_REQUEST: { status: 400, title: 'Bad Request', detail: 'The request is malformed.' },
  // never the request's path: it may hold a token pasted where a segment goes
  ERR_ROUTE_NOT_FOUND: {
    status: 404,
    title: 'Not Found',
    detail: (parts?: { method: string }) =>
      parts?.method === undefined ? 'No such route.' : `No route serves ${parts.method} at this path.`
  },
  ERR_INVALID_CURSOR: {
    status: 400,
    title: 'Bad Request',
    detail: 'The cursor is not one this API issued; start again from the first page (no cursor).'
  },
  ERR_MESSAGE_NOT_FOUND: { status: 404, title: 'Not Found', detail: 'No such message.' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method Not Allowed', detail: 'The route does not accept this method.' },
  ERR_NOT_ACCEPTABLE: { status: 406, title: 'Not Acceptable', detail: 'The route cannot answer in a media type the request accepts.' },
  ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request Timeout', detail: 'The request was not received in time.' },
  ERR_MESSAGE_LIMIT: {
    status: 409,
    title: 'Conflict',
    /** `max`: the number of messages a caller may hold. */
    detail: (parts?: { max?: number }) =>
      parts?.max === undefined
        ? 'The caller holds as many messages as allowed; delete one first.'
        : `at most ${parts.max} messages per user`
  },
  ERR_BODY_TOO_LARGE: { status: 413, title: 'Content Too Large', detail: 'The request body is larger than this route accepts.' },
  ERR_URI_TOO_LONG: { status: 414, title: 'URI Too Long', detail: 'The request URI (or one of its path parameters) is too long.' },
  ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported Media Type',
    detail: 'The route does not accept a body of this content type.'
  },
  ERR_TOO_MANY_REQUESTS: { status: 429, title: 'Too Many Requests', detail: 'Too many requests; retry later.' },
  ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request Header Fields Too Large', detail: 'The request headers are too large.' },
  /** Any other 4xx: the body carries the error's own status (and its standard title). */
  ERR_CLIENT_ERROR: { status: 400, title: 'Client Error', detail: 'The request cannot be answered.' },
  ERR_INTERNAL: { status: 500, title: 'Internal Server Error', detail: 'The server could not complete the request.' },
  ERR_NOT_READY: { status: 503, title: 'Service Unavailable', detail: "The issuer's signing keys are not loaded yet." },
  ERR_DATABASE_UNAVAILABLE: {
    status: 503,
    title: 'Service Unavailable',
    detail: 'The database cannot be reached right now; try again later.'
  }
} as const satisfies Record<string, ErrorDefinition>

/** Every code an error body can carry. */
export type ErrorCode = keyof typeof ERRORS

/** The codes of the refusals of the credentials (those with a challenge's `oauthError`, possibly undefined). */
export type AuthErrorCode = { [C in ErrorCode]: 'oauthError' extends keyof (typeof ERRORS)[C] ? C : never }[ErrorCode]

type DetailOf<C extends ErrorCode> = (typeof ERRORS)[C]['detail']

/** What a code's sentence needs after the code: nothing, its variable parts, or optionally some. */
export type DetailArgs<C extends ErrorCode> = DetailOf<C> extends (...args: infer A) => string ? A : []

/** The sentence of a code, worded with its variable parts. */
export function sentenceOf<C extends ErrorCode>(code: C, ...args: DetailArgs<C>): string {
  const { detail, title }: ErrorDefinition = ERRORS[code]
  if (typeof detail === 'string') return detail
  // `{}` when no parts are given: an optional part is then absent. A code whose parts are
  // required (the types see to it, unless the code is only known as ErrorCode) says its title
  // rather than throw inside an error handler.
  try {
    const sentence: unknown = (detail as (parts: unknown) => unknown)(args[0] ?? {})
    return typeof sentence === 'string' ? sentence : title
  } catch {
    return title
  }
}

export function isAuthErrorCode(code: string): code is AuthErrorCode {
  return Object.hasOwn(ERRORS, code) && 'oauthError' in ERRORS[code as ErrorCode]
}

/** Every error this service defines: a `name`, and a literal `code` to switch on (never the message). */
export abstract class CodedError extends Error {
  abstract readonly code: string
}

/** An error a client sees as it is: a catalogue code, and the sentence the body's `detail` carries. */
export interface ClientError {
  readonly code: ErrorCode
  /** Safe for the client. */
  readonly description: string
}

export interface AuthErrorExtra {
  /** For the logs only: what exactly failed (a claim name, a kid, a cause). Never the token. */
  reason?: string
  /** ERR_INSUFFICIENT_SCOPE: the scopes the route requires. */
  scope?: string
  /** 503s: seconds until a retry makes sense. */
  retryAfter?: number
  /** The claim concerned, when there is one. */
  claim?: string
  /** The scheme the request named, where the code alone does not tell (the challenge that carries the error). */
  scheme?: 'Bearer' | 'DPoP' | undefined
  /** For the logs: the configured issuer (its id) a token was routed to, with several issuers (src/issuers/multi-issuer-verifier.ts). */
  issuer?: string | undefined
}

/** After the code: the sentence's variable parts (when it has any) and the extras, in one object. */
type AuthErrorArgs<C extends AuthErrorCode> =
  DetailArgs<C> extends []
    ? [extra?: AuthErrorExtra]
    : [] extends DetailArgs<C>
      ? [extra?: NonNullable<DetailArgs<C>[0]> & AuthErrorExtra]
      : [extra: DetailArgs<C>[0] & AuthErrorExtra]

/** A refusal of the credentials: 400, 401, 403 or 503, with a Bearer challenge where RFC 6750 asks for one. */
export class AuthError<C extends AuthErrorCode = AuthErrorCode> extends CodedError implements ClientError {
  override readonly name = 'AuthError'
  readonly code: C
  readonly status: (typeof ERRORS)[AuthErrorCode]['status']
  readonly oauthError: OAuthErrorCode | undefined
  readonly title: string
  /** Safe for the client: goes into error_description and the problem's detail. */
  readonly description: string
  readonly reason: string | undefined
  readonly scope: string | undefined
  readonly retryAfter: number | undefined
  readonly claim: string | undefined
  readonly scheme: 'Bearer' | 'DPoP' | undefined
  /** The configured issuer the token was routed to, for the logs; set by the multi-issuer verifier when it rethrows. */
  issuer: string | undefined

  constructor(code: C, ...args: AuthErrorArgs<C>) {
    const extra: AuthErrorExtra = args[0] ?? {}
    const description = sentenceOf(code, ...([extra] as unknown as DetailArgs<C>))
    super(description)
    const definition = ERRORS[code] as (typeof ERRORS)[AuthErrorCode]
    this.code = code
    this.status = definition.status
    this.oauthError = definition.oauthError
    this.title = definition.title
    this.description = description
    this.reason = extra.reason
    this.scope = extra.scope
    this.retryAfter = extra.retryAfter
    this.claim = extra.claim
    this.scheme = extra.scheme
    this.issuer = extra.issuer
  }
}

export function isAuthError(value: unknown): value is AuthError {
  return value instanceof AuthError
}

/** An error meant for the client as it is: a coded error whose code the catalogue holds, with its sentence. */
export function isClientError(value: unknown): value is CodedError & ClientError & { readonly retryAfter?: number } {
  return value instanceof CodedError && Object.hasOwn(ERRORS, value.code) && typeof (value as Partial<ClientError>).description === 'string'
}
