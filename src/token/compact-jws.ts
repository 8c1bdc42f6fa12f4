/**
 * Step 2: decode a compact JWS (RFC 7515 §7.1) strictly: three base64url segments with no
 * padding and canonical trailing bits, a JSON-object header and payload (no duplicate
 * members), a non-empty signature. Nothing here trusts the content yet.
 */
import { AuthError } from './errors.js'
import { parseJsonObject, StrictJsonError } from './strict-json.js'

export interface DecodedJws {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  /** ASCII bytes of "header.payload", what the signature covers. */
  signingInput: Buffer
  signature: Buffer
}

const B64URL = /^[A-Za-z0-9_-]+$/

/** True for three dot-separated base64url segments: the shape of a JWS (or a malformed one). */
export function looksLikeCompactJws (token: string): boolean {
  const first = token.indexOf('.')
  if (first <= 0) return false
  const second = token.indexOf('.', first + 1)
  if (second === -1 || token.indexOf('.', second + 1) !== -1) return false
  // A JWS header always starts with '{"' (or '{ '), base64url 'ey'.
  return token.charCodeAt(0) === 0x65 /* e */ && token.charCodeAt(1) === 0x79 /* y */
}

function segment (part: string, what: string): Buffer {
  if (!B64URL.test(part) || part.length % 4 === 1) {
    throw new AuthError('ERR_TOKEN_MALFORMED', 'The access token is malformed.', { reason: `${what} is not base64url` })
  }
  const bytes = Buffer.from(part, 'base64url')
  // Reject non-canonical encodings (stray trailing bits): one token, one byte string.
  if (bytes.toString('base64url') !== part) {
    throw new AuthError('ERR_TOKEN_MALFORMED', 'The access token is malformed.', { reason: `${what} is not canonical base64url` })
  }
  return bytes
}

function json (bytes: Buffer, what: string): Record<string, unknown> {
  try {
    return parseJsonObject(bytes)
  } catch (error) {
    const why = error instanceof StrictJsonError ? error.message : 'unreadable'
    throw new AuthError('ERR_TOKEN_MALFORMED', `The access token is malformed: its ${what} is not a valid JSON object.`, { reason: `${what}: ${why}` })
  }
}

export function decodeCompactJws (token: string): DecodedJws {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second === -1 || token.indexOf('.', second + 1) !== -1) {
    throw new AuthError('ERR_TOKEN_MALFORMED', 'The access token is malformed: a JWT has three dot-separated parts.')
  }
  const headerPart = token.slice(0, first)
  const payloadPart = token.slice(first + 1, second)
  const signaturePart = token.slice(second + 1)
  if (payloadPart === '') {
    throw new AuthError('ERR_TOKEN_MALFORMED', 'The access token is malformed: its payload is empty.')
  }
  if (signaturePart === '') {
    throw new AuthError('ERR_JWS_SIGNATURE_INVALID', 'The access token is not signed.', { reason: 'empty signature (unsecured JWT)' })
  }
  const header = json(segment(headerPart, 'header'), 'header')
  const payload = json(segment(payloadPart, 'payload'), 'payload')
  const signature = segment(signaturePart, 'signature')
  return {
    header,
    payload,
    signingInput: Buffer.from(token.slice(0, second), 'latin1'),
    signature
  }
}
