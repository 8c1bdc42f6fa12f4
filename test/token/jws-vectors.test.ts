/**
 * Published JWS examples as data (test/fixtures/jws-vectors.json): RFC 7515 Appendix A,
 * RFC 7520 §4, RFC 8037 A.4 and RFC 7797 §4.2, verified by the project's JWS layer (decode →
 * check the header → import the key → verify the signature). The vectors carry no exp or aud,
 * so they stop before the claims step. Every stored copy is cross-checked with jose first: a
 * typo in the fixture fails there, not as a false "the project refuses a valid vector".
 */
import { readFileSync } from 'node:fs'
import { compactVerify, flattenedVerify, importJWK, jwtVerify } from 'jose'
import { afterAll, describe, expect, it } from 'vitest'
import { ASYMMETRIC_ALGS, ConfigError, HMAC_ALGS, loadConfig, type JwsAlg } from '../../src/config.js'
import { importJwk } from '../../src/keys/jwk-import.js'
import { decodeCompactJws } from '../../src/token/compact-jws.js'
import { isAuthError, type AuthErrorCode } from '../../src/errors.js'
import { checkHeader } from '../../src/token/jws-header.js'
import { verifyHmac, verifySignature } from '../../src/token/signature.js'
import { SignatureWorkers } from '../../src/token/signature-workers.js'
import { parseJsonObject } from '../../src/token/strict-json.js'

interface Vector {
  id: string
  source: string
  title: string
  alg: string
  /** True when the example must verify; false for those no access-token verifier may accept. */
  valid: boolean
  jwk?: Record<string, unknown>
  compact: string
  /** The JWS payload as UTF-8 text (the claims set, or the RFC's plain-text message). */
  payload: string
  /** The payload travels apart from the compact form (RFC 7515 Appendix F). */
  detached?: boolean
  /** RFC 7797: b64 false, the payload is not base64url-encoded. */
  unencodedPayload?: boolean
  note?: string
}

const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/jws-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }
const valid = vectors.filter((v) => v.valid)
const byId = (id: string): Vector => {
  const found = vectors.find((v) => v.id === id)
  if (found === undefined) throw new Error(`no vector ${id}`)
  return found
}

const EVERY_ALG = new Set<string>([...ASYMMETRIC_ALGS, ...HMAC_ALGS])

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value)
  } catch {
    return false
  }
}

interface JwsParts {
  header: Record<string, unknown>
  signingInput: Buffer
  signature: Buffer
}

/**
 * Step 2 of the pipeline. A JWT's payload is a JSON object, and decodeCompactJws refuses any
 * other; for the RFC examples whose payload is plain text ("Payload", RFC 7520's quotation) the
 * same split is made here, with the project's strict JSON parser for the header.
 */
function decode(compact: string): JwsParts {
  const [h = '', p = '', s = ''] = compact.split('.')
  if (isJsonObject(Buffer.from(p, 'base64url').toString('utf8'))) {
    const { header, signingInput, signature } = decodeCompactJws(compact)
    return { header, signingInput, signature }
  }
  return {
    header: parseJsonObject(Buffer.from(h, 'base64url')),
    signingInput: Buffer.from(`${h}.${p}`, 'ascii'),
    signature: Buffer.from(s, 'base64url')
  }
}

// the app's own signature-check threads (one, so that every vector goes through the same worker)
const signatures = new SignatureWorkers({ size: 1 })
afterAll(() => signatures.close())

/** Steps 3 to 5 under a policy that allows `allowed`: check the header, import the key, verify. */
async function verifyJws(vector: Vector, parts: JwsParts, allowed: ReadonlySet<string> = new Set([vector.alg])): Promise<void> {
  const { alg } = checkHeader(parts.header, allowed)
  const jwk = vector.jwk ?? {}
  if (alg.startsWith('HS')) {
    verifyHmac(Buffer.from(String(jwk.k), 'base64url'), alg, parts.signingInput, parts.signature)
    return
  }
  await verifySignature(signatures, [importJwk(jwk, allowed)], alg as JwsAlg, parts.signingInput, parts.signature)
}

/** The AuthError code a call ends with (undefined when it succeeds). */
async function refusal(run: () => unknown): Promise<AuthErrorCode | undefined> {
  try {
    await run()
    return undefined
  } catch (error) {
    if (!isAuthError(error)) throw error
    return error.code
  }
}

/** jose's verdict on a compact JWS with the vector's key: true when compactVerify accepts it. */
async function joseAccepts(vector: Vector, compact: string): Promise<boolean> {
  const key = await importJWK(vector.jwk ?? {}, vector.alg)
  return compactVerify(compact, key, { algorithms: [vector.alg] }).then(
    () => true,
    () => false
  )
}

/** One bit of the signature flipped. */
function flipSignatureBit(compact: string, byteIndex: (length: number) => number, bit: number): string {
  const [h, p, s = ''] = compact.split('.')
  const signature = Buffer.from(s, 'base64url')
  const at = byteIndex(signature.length)
  signature[at] = (signature[at] ?? 0) ^ (1 << bit)
  return `${h}.${p}.${signature.toString('base64url')}`
}

/** One character of the payload segment changed (not the last one, so the encoding stays canonical). */
function changePayloadChar(compact: string, at: number): string {
  const [h, p = '', s] = compact.split('.')
  const index = Math.min(at, p.length - 2)
  const replacement = p[index] === 'A' ? 'B' : 'A'
  return `${h}.${p.slice(0, index)}${replacement}${p.slice(index + 1)}.${s}`
}

describe('published JWS vectors: the stored copies', () => {
  it('hold what the RFCs publish: jose verifies every authentic signature in the fixture', async () => {
    expect(vectors.map((v) => v.id)).toEqual([
      'rfc7515-a1',
      'rfc7515-a2',
      'rfc7515-a3',
      'rfc7515-a4',
      'rfc7515-a5',
      'rfc7520-4.1',
      'rfc7520-4.2',
      'rfc7520-4.3',
      'rfc7520-4.4',
      'rfc7520-4.5',
      'rfc8037-a4',
      'rfc7797-4.2'
    ])
    for (const vector of vectors) {
      if (vector.alg === 'none') continue
      const key = await importJWK(vector.jwk ?? {}, vector.alg)
      const [h = '', p = '', s = ''] = vector.compact.split('.')
      let payload: Uint8Array
      if (vector.unencodedPayload === true) {
        payload = (await flattenedVerify({ protected: h, payload: vector.payload, signature: s }, key)).payload
      } else if (vector.detached === true) {
        payload = (
          await flattenedVerify({ protected: h, payload: Buffer.from(vector.payload, 'utf8').toString('base64url'), signature: s }, key)
        ).payload
      } else {
        payload = (await compactVerify(vector.compact, key)).payload
        expect(Buffer.from(p, 'base64url').toString('utf8'), vector.id).toBe(vector.payload)
      }
      expect(Buffer.from(payload).toString('utf8'), vector.id).toBe(vector.payload)
    }
  })
})

describe.each(valid)('$source ($alg): $title', (vector) => {
  it("is accepted by the project's JWS layer when the policy allows its algorithm", async () => {
    expect(await joseAccepts(vector, vector.compact)).toBe(true)
    const parts = decode(vector.compact)
    expect(parts.header.alg).toBe(vector.alg)
    expect(await refusal(() => verifyJws(vector, parts))).toBeUndefined()
    // also with every algorithm the project knows allowed: the key's type still decides
    expect(await refusal(() => verifyJws(vector, parts, EVERY_ALG))).toBeUndefined()
  })

  it('yields the published payload: a JSON claims set through decodeCompactJws, refused there when it is text', () => {
    if (isJsonObject(vector.payload)) {
      expect(decodeCompactJws(vector.compact).payload).toEqual(JSON.parse(vector.payload))
    } else {
      let code: AuthErrorCode | undefined
      try {
        decodeCompactJws(vector.compact)
      } catch (error) {
        code = isAuthError(error) ? error.code : undefined
      }
      expect(code, 'a JWT payload must be a JSON object').toBe('ERR_TOKEN_MALFORMED')
    }
  })

  it('is refused when the policy does not allow its algorithm', async () => {
    const others = new Set([...EVERY_ALG].filter((alg) => alg !== vector.alg))
    expect(await refusal(() => verifyJws(vector, decode(vector.compact), others))).toBe('ERR_JWS_ALG_NOT_ALLOWED')
  })

  const flips: Array<[name: string, at: (length: number) => number, bit: number]> = [
    ['first byte, bit 0', () => 0, 0],
    ['middle byte, bit 3', (length) => length >>> 1, 3],
    ['last byte, bit 7', (length) => length - 1, 7]
  ]
  it.each(flips)('is refused with one signature bit flipped (%s)', async (_name, at, bit) => {
    const tampered = flipSignatureBit(vector.compact, at, bit)
    expect(await joseAccepts(vector, tampered)).toBe(false)
    expect(await refusal(() => verifyJws(vector, decode(tampered)))).toBe('ERR_JWS_SIGNATURE_INVALID')
  })

  it.each([0, 5, 17])('is refused with one payload character changed (at %i)', async (at) => {
    const tampered = changePayloadChar(vector.compact, at)
    expect(tampered).not.toBe(vector.compact)
    expect(await joseAccepts(vector, tampered)).toBe(false)
    // the signature layer alone: the signing input differs by one character
    const parts = decode(vector.compact)
    const [h, p] = tampered.split('.')
    expect(await refusal(() => verifyJws(vector, { ...parts, signingInput: Buffer.from(`${h}.${p}`, 'ascii') }))).toBe(
      'ERR_JWS_SIGNATURE_INVALID'
    )
    // and the whole JWS layer, whatever step refuses (the JSON may no longer parse)
    expect(await refusal(async () => verifyJws(vector, decode(tampered)))).toMatch(/^ERR_(JWS_SIGNATURE_INVALID|TOKEN_MALFORMED)$/)
  })
})

describe('published vectors that must be refused', () => {
  it('RFC 7515 A.5 (alg "none"): refused at decoding, at the header check, and in the configuration', async () => {
    const vector = byId('rfc7515-a5')
    expect(await refusal(() => decodeCompactJws(vector.compact))).toBe('ERR_JWS_SIGNATURE_INVALID')
    const header = parseJsonObject(Buffer.from(vector.compact.split('.')[0] ?? '', 'base64url'))
    expect(header).toEqual({ alg: 'none' })
    expect(await refusal(() => checkHeader(header, EVERY_ALG))).toBe('ERR_JWS_ALG_NOT_ALLOWED')
    expect(() =>
      loadConfig({ AUTH_ISSUER: 'https://issuer.example', AUTH_AUDIENCE: 'https://api.example', AUTH_ALGORITHMS: 'RS256,none' })
    ).toThrow(ConfigError)
    // jose refuses it too, whatever key it is given
    const key = new Uint8Array(32)
    await expect(compactVerify(vector.compact, key)).rejects.toThrow()
    await expect(jwtVerify(vector.compact, key)).rejects.toThrow()
  })

  it('RFC 7520 4.5 (detached content): an empty payload segment is refused before any key is used', async () => {
    const vector = byId('rfc7520-4.5')
    expect(await refusal(() => decodeCompactJws(vector.compact))).toBe('ERR_TOKEN_MALFORMED')
    expect(await joseAccepts(vector, vector.compact)).toBe(false)
  })

  it('RFC 7797 4.2 (b64 false, crit b64): refused detached or with the payload attached', async () => {
    const vector = byId('rfc7797-4.2')
    expect(await refusal(() => decodeCompactJws(vector.compact))).toBe('ERR_TOKEN_MALFORMED')
    const [h = '', , s = ''] = vector.compact.split('.')
    const header = parseJsonObject(Buffer.from(h, 'base64url'))
    expect(header).toEqual({ alg: 'HS256', b64: false, crit: ['b64'] })
    expect(await refusal(() => checkHeader(header, EVERY_ALG))).toBe('ERR_JWS_CRIT_UNSUPPORTED')
    // the unencoded payload ("$.02") attached: refused at decoding (it is not base64url, and its dot makes four parts)
    expect(await refusal(() => decodeCompactJws(`${h}.${vector.payload}.${s}`))).toBe('ERR_TOKEN_MALFORMED')
    expect(await refusal(() => decodeCompactJws(`${h}.${Buffer.from(vector.payload).toString('base64url')}.${s}`))).toBe(
      'ERR_TOKEN_MALFORMED'
    )
    // jose refuses the detached form as a compact JWS (its signing input lacks the payload)
    expect(await joseAccepts(vector, vector.compact)).toBe(false)
  })
})
