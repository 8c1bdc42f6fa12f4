/**
 * Step 1 of the pipeline: find the one Bearer token of a request (RFC 6750 §2).
 * Only the Authorization header is a supported method; a token in the query or the body,
 * two credentials, or a scheme with no token are malformed requests (400 invalid_request).
 */
import { AuthError } from '../errors.js'

/** Longer than any real access token, shorter than Node's default header limit. */
export const MAX_TOKEN_LENGTH = 12 * 1024

const QUERY_TOKEN = /(?:^|[?&])access_token(?:=|&|$)/

/** The values of every Authorization header, from Node's raw header list (duplicates kept). */
function authorizationHeaders (rawHeaders: readonly string[]): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]
    if (name !== undefined && name.length === 13 && (name === 'authorization' || name === 'Authorization' || name.toLowerCase() === 'authorization')) {
      values.push(rawHeaders[i + 1] ?? '')
    }
  }
  return values
}

/** The index of the first space or tab (where the scheme ends), or -1; no regex on every request. */
function firstBlank (value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 0x20 || c === 0x09) return i
  }
  return -1
}

export function hasQueryToken (url: string): boolean {
  const q = url.indexOf('?')
  return q !== -1 && QUERY_TOKEN.test(url.slice(q))
}

/**
 * Returns the token, or throws:
 * - ERR_NO_CREDENTIALS (401, no error code) for no Authorization header or another scheme;
 * - ERR_TOKEN_IN_QUERY / ERR_MULTIPLE_CREDENTIALS / ERR_EMPTY_CREDENTIALS (400 invalid_request).
 */
export function extractBearerToken (rawHeaders: readonly string[], url: string): string {
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
  const value = (headers[0] ?? '').trim()
  const space = firstBlank(value)
  const scheme = space === -1 ? value : value.slice(0, space)
  if (scheme !== 'Bearer' && scheme.toLowerCase() !== 'bearer') {
    throw new AuthError('ERR_NO_CREDENTIALS', {
      reason: scheme === '' ? 'empty Authorization header' : `unsupported scheme ${scheme.slice(0, 20)}`
    })
  }
  const token = space === -1 ? '' : value.slice(space + 1).trim()
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
export function checkSingleToken (token: string): void {
  if (/[\s,]/.test(token)) {
    throw new AuthError('ERR_MULTIPLE_CREDENTIALS', { where: 'token' })
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new AuthError('ERR_TOKEN_TOO_LARGE', { reason: `${token.length} characters` })
  }
}
