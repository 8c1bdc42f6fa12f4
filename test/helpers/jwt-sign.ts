/**
 * A minimal JWS (compact serialization) signer for tests, on node:crypto only.
 * Signatures are in JOSE form: ECDSA as r||s (ieee-p1363), RSA-PSS with salt length = hash
 * length, EdDSA (Ed25519) with crypto.sign(null, ...), HS* as HMAC.
 */
import { constants, createHmac, sign as cryptoSign } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { TestKey } from './keys.js'

export type HmacAlg = 'HS256' | 'HS384' | 'HS512'
export interface HmacKey {
  secret: Buffer | string
  alg: HmacAlg
}
export type SigningKey = TestKey | HmacKey

export function b64url(input: string | Buffer): string {
  return (typeof input === 'string' ? Buffer.from(input, 'utf8') : input).toString('base64url')
}

/** SPKI PEM of a public key (what an alg-confusion attacker uses as an HMAC secret). */
export function publicPem(publicKey: KeyObject): string {
  return publicKey.export({ format: 'pem', type: 'spki' }).toString()
}

function isHmacKey(key: SigningKey): key is HmacKey {
  return 'secret' in key
}

const HASH_BYTES: Record<string, number> = { '256': 32, '384': 48, '512': 64 }

function hashOf(alg: string): { name: string; bytes: number } {
  const bits = alg.slice(2)
  const bytes = HASH_BYTES[bits]
  if (bytes === undefined) throw new Error(`unsupported alg ${alg}`)
  return { name: `sha${bits}`, bytes }
}

/** Signs `input` with the JOSE algorithm `alg` (defaults to the key's own alg). */
export function signBytes(key: SigningKey, input: string | Buffer, alg?: string): Buffer {
  const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input
  const algorithm = alg ?? key.alg
  if (algorithm.startsWith('HS')) {
    // With a TestKey, HS* uses the public key's SPKI PEM as the HMAC secret: the classic
    // RS256 -> HS256 algorithm-confusion attack.
    const secret = isHmacKey(key) ? key.secret : publicPem(key.publicKey)
    return createHmac(hashOf(algorithm).name, secret).update(data).digest()
  }
  if (isHmacKey(key)) throw new Error(`an HMAC secret cannot sign ${algorithm}`)
  const privateKey = key.privateKey
  if (algorithm === 'EdDSA' || algorithm === 'Ed25519') return cryptoSign(null, data, privateKey)
  const hash = hashOf(algorithm)
  if (algorithm.startsWith('RS')) return cryptoSign(hash.name, data, privateKey)
  if (algorithm.startsWith('PS')) {
    return cryptoSign(hash.name, data, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash.bytes })
  }
  if (algorithm.startsWith('ES')) return cryptoSign(hash.name, data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
  throw new Error(`unsupported alg ${algorithm}`)
}

/**
 * Signs a JWT. Header defaults to { alg: key.alg, typ: 'at+jwt', kid: key.kid } (no kid for an
 * HMAC secret); given header fields override, and a field given as `undefined` is removed.
 * The signature is always made with the key's own algorithm, whatever the header says (so a
 * test can put a misleading `alg` in the header).
 */
export function signJwt(key: SigningKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const merged: Record<string, unknown> = { alg: key.alg, typ: 'at+jwt' }
  if (!isHmacKey(key)) merged.kid = key.kid
  for (const [name, value] of Object.entries(header)) {
    if (value === undefined) delete merged[name]
    else merged[name] = value
  }
  const input = `${b64url(JSON.stringify(merged))}.${b64url(JSON.stringify(payload))}`
  return `${input}.${b64url(signBytes(key, input))}`
}

/**
 * Signs the exact JSON strings given (duplicate members, odd whitespace, odd unicode, invalid
 * JSON...). `alg` chooses the signing algorithm (default: the key's).
 */
export function signRaw(key: SigningKey, headerJson: string, payloadJson: string, alg?: string): string {
  const input = `${b64url(headerJson)}.${b64url(payloadJson)}`
  return `${input}.${b64url(signBytes(key, input, alg))}`
}

/** An unsecured JWT ("h.p." with an empty signature), e.g. for alg none tests. */
export function unsignedJwt(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}.`
}

function flipByte(segment: string): string {
  const bytes = Buffer.from(segment, 'base64url')
  if (bytes.length === 0) return 'AAAA'
  bytes[0] = (bytes[0] ?? 0) ^ 0x01
  return bytes.toString('base64url')
}

/**
 * Changes one part of a compact JWS and keeps the old signature, so that only the signature
 * check can catch it. Header and payload stay valid JSON objects when they were (the header
 * gains a member, the payload's `sub` changes or gains a member); the signature keeps its
 * length (one bit flipped).
 */
export function tamper(token: string, part: 'header' | 'payload' | 'signature'): string {
  const parts = token.split('.')
  if (parts.length !== 3) throw new Error('tamper: not a compact JWS')
  const index = part === 'header' ? 0 : part === 'payload' ? 1 : 2
  const segment = parts[index] ?? ''
  if (part === 'signature') {
    parts[2] = flipByte(segment)
    return parts.join('.')
  }
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    decoded = undefined
  }
  if (decoded !== null && typeof decoded === 'object' && !Array.isArray(decoded)) {
    const obj = decoded as Record<string, unknown>
    if (part === 'payload' && typeof obj.sub === 'string') obj.sub = `${obj.sub}-tampered`
    else obj.tampered = true
    parts[index] = b64url(JSON.stringify(obj))
  } else {
    parts[index] = flipByte(segment)
  }
  return parts.join('.')
}
