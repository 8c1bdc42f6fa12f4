/**
 * Step 1 of the pipeline: find the one access token of a request, sent as `Bearer` (RFC 6750
 * §2.1) or as `DPoP` with its one proof in the DPoP header (RFC 9449 §7.1), as AUTH_DPOP allows.
 * Only the Authorization header is a supported method; a token in the query or the body,
 * two credentials, or a scheme with no token are malformed requests (400 invalid_request).
 */
import type { DpopMode } from '../config.js'
import { AuthError } from '../errors.js'
import { looksLikeCompactJws } from './compact-jws.js'

export type AuthScheme = 'Bearer' | 'DPoP'

export interface Credentials {
  scheme: AuthScheme
  token: string
  /** The DPoP proof (the scheme DPoP only). */
  proof: string | undefined
}

/** Longer than any real access token, shorter than Node's default header limit. */
export const MAX_TOKEN_LENGTH = 12 * 1024

const QUERY_TOKEN = /(?:^|[?&])access_token(?:=|&|$)/
/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
/** An auth-scheme (RFC 9110 §11.1 token), short enough to name in a log line. */
const SCHEME_LIKE = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,19}$/

/** The values of every Authorization header, from Node's raw header list (duplicates kept). */
function authorizationHeaders(rawHeaders: readonly string[]): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    if (
      name !== undefined &&
      name.length === 13 &&
      (name === 'authorization' || name === 'Authorization' || name.toLowerCase() === 'authorization')
    ) {
      values.push(rawHeaders[i + 1] ?? '')
    }
  }
  return values
}

/** The value without leading and trailing SP and HTAB (RFC 9110 OWS): String.trim would also take NBSP and other spaces. */
function trimOws(value: string): string {
  let start = 0
  let end = value.length
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--
  return start === 0 && end === value.length ? value : value.slice(start, end)
}

/** A token in the query, by its name as any query parser decodes it (`access%5Ftoken` too). */
export function hasQueryToken(url: string): boolean {
  const q = url.indexOf('?')
  if (q === -1) return false
  const query = url.slice(q)
  return QUERY_TOKEN.test(query) || (query.includes('%') && new URLSearchParams(query.slice(1)).has('access_token'))
}

/** The values of every DPoP header (RFC 9449 §4.1), from Node's raw header list (duplicates kept). */
function dpopHeaders(rawHeaders: readonly string[]): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    if (name !== undefined && name.length === 4 && name.toLowerCase() === 'dpop') values.push(rawHeaders[i + 1] ?? '')
  }
  return values
}

/** The one proof of a request with the DPoP scheme (RFC 9449 §4.3 check 1): none, or two, is a refusal. */
function oneProof(rawHeaders: readonly string[]): string {
  const values = dpopHeaders(rawHeaders)
  if (values.length > 1) throw new AuthError('ERR_DPOP_MULTIPLE_PROOFS', { reason: `${values.length} DPoP headers` })
  const proof = trimOws(values[0] ?? '')
  if (proof === '') throw new AuthError('ERR_DPOP_PROOF_MISSING')
  // a list (two proofs folded into one field) is more than one proof; a JWS holds no comma
  if (proof.includes(',')) throw new AuthError('ERR_DPOP_MULTIPLE_PROOFS', { reason: 'a list in one DPoP header' })
  return proof
}

/**
 * The credentials of a request under AUTH_DPOP (`mode`), or throws:
 * - ERR_NO_CREDENTIALS (401, no error code) for no Authorization header or another scheme,
 *   ERR_DPOP_NOT_ACCEPTED for the DPoP scheme when DPoP is disabled;
 * - ERR_TOKEN_IN_QUERY / ERR_MULTIPLE_CREDENTIALS / ERR_EMPTY_CREDENTIALS (400 invalid_request);
 * - ERR_DPOP_REQUIRED for the Bearer scheme when DPoP is required;
 * - ERR_DPOP_PROOF_MISSING / ERR_DPOP_MULTIPLE_PROOFS for the DPoP scheme without exactly one proof.
 */
export function extractCredentials(rawHeaders: readonly string[], url: string, mode: DpopMode): Credentials {
  const { scheme, token } = schemeAndToken(rawHeaders, url, mode !== 'disabled')
  if (scheme === 'Bearer') {
    if (mode === 'required') throw new AuthError('ERR_DPOP_REQUIRED', { reason: 'Bearer scheme with AUTH_DPOP=required' })
    return { scheme, token, proof: undefined }
  }
  return { scheme, token, proof: oneProof(rawHeaders) }
}

/** The Bearer token of a request (the DPoP scheme is another scheme here); throws as extractCredentials does. */
export function extractBearerToken(rawHeaders: readonly string[], url: string): string {
  return schemeAndToken(rawHeaders, url, false).token
}

function schemeAndToken(rawHeaders: readonly string[], url: string, dpop: boolean): { scheme: AuthScheme; token: string } {
  const headers = authorizationHeaders(rawHeaders)
  if (hasQueryToken(url)) {
    throw headers.length > 0 ? new AuthError('ERR_MULTIPLE_CREDENTIALS', { where: 'query' }) : new AuthError('ERR_TOKEN_IN_QUERY')
  }
  if (headers.length === 0) {
    throw new AuthError('ERR_NO_CREDENTIALS')
  }
  if (headers.length > 1) {
    throw new AuthError('ERR_MULTIPLE_CREDENTIALS', { where: 'headers' })
  }
  // credentials = auth-scheme [ 1*SP token68 ] (RFC 9110 §11.4): only SP separates them
  const value = trimOws(headers[0] ?? '')
  const space = value.indexOf(' ')
  const scheme = space === -1 ? value : value.slice(0, space)
  const lower = scheme.toLowerCase()
  const named: AuthScheme | undefined = lower === 'bearer' ? 'Bearer' : lower === 'dpop' ? 'DPoP' : undefined
  if (named === 'DPoP' && !dpop) throw new AuthError('ERR_DPOP_NOT_ACCEPTED', { reason: 'DPoP scheme with AUTH_DPOP=disabled' })
  if (named === undefined) {
    // a value that is no scheme name may be a bare secret: only its length reaches the log
    throw new AuthError('ERR_NO_CREDENTIALS', {
      reason:
        scheme === ''
          ? 'empty Authorization header'
          : SCHEME_LIKE.test(scheme) && space !== -1
            ? `unsupported scheme ${scheme}`
            : `no scheme name (a value of ${value.length} characters)`
    })
  }
  const token = space === -1 ? '' : trimOws(value.slice(space + 1))
  if (token === '') {
    throw new AuthError('ERR_EMPTY_CREDENTIALS', { scheme: named })
  }
  return { scheme: named, token }
}

/**
 * The rest of the syntax check, for a token that is not a verified token already cached (a
 * cached token has passed decoding, so it holds neither): one token, not two, and not huge.
 * Kept apart so that a cache hit does not scan a 700-character token once more.
 */
export function checkSingleToken(token: string): void {
  if (/[\s,]/.test(token)) {
    throw new AuthError('ERR_MULTIPLE_CREDENTIALS', { where: 'token' })
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new AuthError('ERR_TOKEN_TOO_LARGE', { reason: `${token.length} characters` })
  }
  if (!B64TOKEN.test(token)) {
    throw new AuthError('ERR_TOKEN_MALFORMED', { reason: 'not an RFC 6750 b64token' })
  }
}

/**
 * Whether a token that is not cached may skip checkSingleToken and go straight to strict JWS
 * decoding (decodeJwsFirst): it is not too long and has the shape of a compact JWS. A token that
 * decodes is made of base64url characters and dots only, a narrower set than b64token's, with no
 * white space or comma: checkSingleToken would have passed it, so it is not scanned a second
 * time. One that does not decode gets checkSingleToken's refusal first, as if it had run first.
 */
export function jwsFirst(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && looksLikeCompactJws(token)
}

/**
 * `decode(token)` for a token that jwsFirst let through. When decoding fails, the refusal is
 * checkSingleToken's if it has one (two tokens, not a b64token), otherwise the decoding's: the
 * answer checking first would give.
 */
export function decodeJwsFirst<T>(token: string, decode: (token: string) => T): T {
  try {
    return decode(token)
  } catch (error) {
    checkSingleToken(token)
    throw error
  }
}
