/**
 * Step 2: decode a compact JWS (RFC 7515 §7.1) strictly: three base64url segments with no
 * padding and canonical trailing bits, a JSON-object header and payload (no duplicate
 * members), a non-empty signature. Nothing here trusts the content yet.
 */
import { AuthError } from '../errors.js'
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
export function looksLikeCompactJws(token: string): boolean {
  const first = token.indexOf('.')
  if (first <= 0) return false
  const second = token.indexOf('.', first + 1)
  if (second === -1 || token.indexOf('.', second + 1) !== -1) return false
  // A JWS header is a JSON object: '{"' (base64url 'ey') nearly always, but JSON may start
  // with white space or '{' and a line break (jose reads those): the decoded header decides.
  if (token.charCodeAt(0) === 0x65 /* e */ && token.charCodeAt(1) === 0x79 /* y */) return true
  const header = Buffer.from(token.slice(0, Math.min(first, 64)), 'base64url').toString('latin1')
  return /^[ \t\r\n]*\{/.test(header)
}

/** Mask of the bits the last character may not use, by length % 4 (RFC 4648 §3.5): 2 → 4 bits, 3 → 2 bits. */
const UNUSED_BITS = [0, 0, 0b1111, 0b11]

/** The 6-bit value of a base64url character already known to be in the alphabet. */
function sextet(c: number): number {
  if (c >= 0x61) return c - 0x61 + 26 // a-z
  if (c >= 0x41) return c === 0x5f ? 63 : c - 0x41 // A-Z, '_'
  if (c >= 0x30) return c - 0x30 + 52 // 0-9
  return 62 // '-'
}

function segment(part: string, what: string): Buffer {
  if (!B64URL.test(part) || part.length % 4 === 1) {
    throw new AuthError('ERR_TOKEN_MALFORMED', { reason: `${what} is not base64url` })
  }
  // Reject non-canonical encodings (stray trailing bits): one token, one byte string. With
  // the alphabet checked and no padding, the last character's unused bits are the only
  // freedom, so checking them equals re-encoding and comparing, without a second string.
  if ((sextet(part.charCodeAt(part.length - 1)) & (UNUSED_BITS[part.length % 4] ?? 0)) !== 0) {
    throw new AuthError('ERR_TOKEN_MALFORMED', { reason: `${what} is not canonical base64url` })
  }
  return Buffer.from(part, 'base64url')
}

function json(bytes: Buffer, what: 'header' | 'payload'): Record<string, unknown> {
  try {
    return parseJsonObject(bytes)
  } catch (error) {
    const why = error instanceof StrictJsonError ? error.message : 'unreadable'
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: `${what} json`, reason: `${what}: ${why}` })
  }
}

/** The three segments of a compact JWS, with the checks every decoder makes first: three parts, a payload, a signature. */
function parts(token: string): { headerPart: string; payloadPart: string; signaturePart: string; signingInputEnd: number } {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second === -1 || token.indexOf('.', second + 1) !== -1) {
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: 'parts' })
  }
  const payloadPart = token.slice(first + 1, second)
  const signaturePart = token.slice(second + 1)
  if (payloadPart === '') {
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: 'empty payload' })
  }
  if (signaturePart === '') {
    throw new AuthError('ERR_JWS_SIGNATURE_INVALID', { unsigned: true, reason: 'empty signature (unsecured JWT)' })
  }
  return { headerPart: token.slice(0, first), payloadPart, signaturePart, signingInputEnd: second }
}

export function decodeCompactJws(token: string): DecodedJws {
  const { headerPart, payloadPart, signaturePart, signingInputEnd } = parts(token)
  const header = json(segment(headerPart, 'header'), 'header')
  const payload = json(segment(payloadPart, 'payload'), 'payload')
  const signature = segment(signaturePart, 'signature')
  return { header, payload, signingInput: Buffer.from(token.slice(0, signingInputEnd), 'latin1'), signature }
}

/**
 * decodeCompactJws without decoding the header: for a caller that keeps what it checked of a
 * header by the header segment's exact string (a DPoP proof's header is the same string on
 * every proof of one client) and found `token`'s header segment there, so that it was decoded
 * strictly and checked before. The same checks as decodeCompactJws on the parts, the payload
 * and the signature; the header segment itself is not looked at.
 */
export function decodeCompactJwsPayload(token: string): Omit<DecodedJws, 'header'> {
  const { payloadPart, signaturePart, signingInputEnd } = parts(token)
  const payload = json(segment(payloadPart, 'payload'), 'payload')
  const signature = segment(signaturePart, 'signature')
  return { payload, signingInput: Buffer.from(token.slice(0, signingInputEnd), 'latin1'), signature }
}
