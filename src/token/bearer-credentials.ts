/**
 * Step 1 of the pipeline: find the one Bearer token of a request (RFC 6750 §2).
 * Only the Authorization header is a supported method; a token in the query or the body,
 * two credentials, or a scheme with no token are malformed requests (400 invalid_request).
 */
import { AuthError } from '../errors.js'

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

/**
 * Returns the token, or throws:
 * - ERR_NO_CREDENTIALS (401, no error code) for no Authorization header or another scheme;
 * - ERR_TOKEN_IN_QUERY / ERR_MULTIPLE_CREDENTIALS / ERR_EMPTY_CREDENTIALS (400 invalid_request).
 */
export function extractBearerToken(rawHeaders: readonly string[], url: string): string {
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
  if (scheme !== 'Bearer' && scheme.toLowerCase() !== 'bearer') {
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
    throw new AuthError('ERR_EMPTY_CREDENTIALS')
  }
  return token
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
