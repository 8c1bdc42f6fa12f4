/**
 * A token that is not cached and has the shape of a compact JWS is checked by its strict
 * decoding, without a first scan of the whole token against RFC 6750's b64token
 * (bearer-credentials.ts, jwsFirst): a token that decodes is base64url and dots only, so that
 * scan would have passed it. Every refusal must still be the one that checking first gives:
 * two tokens, too long, not a b64token, then the decoding's own. Property-based over hostile
 * tokens, through the verifier of one issuer (both with the header segment unknown and with it
 * known from a verified token) and through the verifier of several issuers, which decodes once
 * to route; and an issuer that accepts no JWTs still refuses one that the router decoded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isAuthError } from '../../src/errors.js'
import { checkSingleToken, MAX_TOKEN_LENGTH } from '../../src/token/bearer-credentials.js'
import { decodeCompactJws, looksLikeCompactJws } from '../../src/token/compact-jws.js'
import type { TokenVerifier } from '../../src/issuers/multi-issuer-verifier.js'
import { b64url, signJwt } from '../helpers/jwt-sign.js'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, buildTestApp, CLIENT_ID, startTestApi, type TestApi } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

/** The refusal's code, or 'accepted'. */
async function outcome(verifier: TokenVerifier, token: string): Promise<string> {
  try {
    await verifier.verify(token)
    return 'accepted'
  } catch (error) {
    if (!isAuthError(error)) throw error
    return error.code
  }
}

/**
 * What checking the syntax first gives: checkSingleToken's refusal, then (no opaque tokens
 * here) ERR_TOKEN_NOT_JWT, then strict decoding's refusal; undefined for a token that decodes
 * (refused later, by its header, key or signature).
 */
function syntaxFirst(token: string): string | undefined {
  try {
    checkSingleToken(token)
    if (!looksLikeCompactJws(token)) return 'ERR_TOKEN_NOT_JWT'
    decodeCompactJws(token)
    return undefined
  } catch (error) {
    if (!isAuthError(error)) throw error
    return error.code
  }
}

/** Characters of every class the checks tell apart: base64url, b64token only, separators, others. */
const hostileChar = fc.constantFrom(...'AbZ09ey-_+/~.=,; \t!"{}%\u00e9\u0000\u2028'.split(''))
const b64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''))
const json = (value: unknown): string => b64url(JSON.stringify(value))

/** A segment: base64url of a JSON object, plain base64url (any length, so non-canonical too), or hostile characters. */
function segmentOf(good: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant(good),
    fc.jsonValue({ maxDepth: 2 }).map((value) => json(value)),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }).map((value) => json(value)),
    fc.string({ unit: b64urlChar, maxLength: 60 }),
    fc.string({ unit: hostileChar, maxLength: 30 }),
    // good with one hostile character put in or on it
    fc.tuple(fc.nat(), hostileChar).map(([at, c]) => {
      const i = at % (good.length + 1)
      return good.slice(0, i) + c + good.slice(i)
    })
  )
}

function hostileToken(header: string, payload: string, signature: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(segmentOf(header), segmentOf(payload), segmentOf(signature)).map((parts) => parts.join('.')) },
    // four parts, two, or one
    { weight: 1, arbitrary: fc.array(segmentOf(payload), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.')) },
    // a JWS with something after it
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(' ', ',', ', ', '\t', '=', '==', '.'), segmentOf(signature))
        .map(([sep, rest]) => `${header}.${payload}.${signature}${sep}${rest}`)
    },
    // too long, well formed or not
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('A', 'A,', 'A '), fc.boolean()).map(([unit, spaced]) => {
        const filler = unit.repeat(Math.ceil((MAX_TOKEN_LENGTH + 1) / unit.length))
        return spaced ? `${header}.${filler}.${signature}` : `${header}.${filler}`
      })
    }
  )
}

/**
 * Over hostile tokens built from the parts of `good` (a token the issuer signed): each refusal is
 * the one checking the syntax first gives, and nothing but `good` itself is accepted.
 */
async function holdsCheckFirstOrder(verifier: TokenVerifier, good: string, numRuns = 400): Promise<void> {
  const [header = '', payload = '', signature = ''] = good.split('.')
  await fc.assert(
    fc.asyncProperty(hostileToken(header, payload, signature), async (token) => {
      const expected = syntaxFirst(token)
      const got = await outcome(verifier, token)
      if (expected !== undefined) expect(got).toBe(expected)
      else if (token !== good) expect(got).not.toBe('accepted')
    }),
    { numRuns }
  )
}

describe('one issuer: syntax refusals are the same as checking first', () => {
  let api: TestApi
  /** A token the issuer signed; the generators put it together again now and then. */
  let good: string

  beforeAll(async () => {
    api = await startTestApi({ algs: ['RS256'] })
    good = api.token()
  })
  afterAll(async () => {
    await api.close()
  })

  it('with the header segment unknown', async () => {
    // a fresh app: no verified token yet, so no header segment is known
    await holdsCheckFirstOrder(api.app.verifier, good)
  })

  it('with the header segment known from a verified token', async () => {
    expect(await outcome(api.app.verifier, api.token())).toBe('accepted')
    await holdsCheckFirstOrder(api.app.verifier, good)
  })

  it('named cases, through the app', async () => {
    const [h, p, s] = good.split('.') as [string, string, string]
    const cases: Array<[string, string, number, string]> = [
      ['a comma inside the payload', `${h}.${p.slice(0, 10)},${p.slice(10)}.${s}`, 400, 'ERR_MULTIPLE_CREDENTIALS'],
      ['a character outside b64token in the signature', `${h}.${p}.${s.slice(0, 5)}!${s.slice(5)}`, 401, 'ERR_TOKEN_MALFORMED'],
      ['a "+" (b64token, not base64url) in the payload', `${h}.${p.slice(0, 10)}+${p.slice(10)}.${s}`, 401, 'ERR_TOKEN_MALFORMED'],
      ['padding after the signature', `${good}==`, 401, 'ERR_TOKEN_MALFORMED'],
      ['too long', `${h}.${'A'.repeat(MAX_TOKEN_LENGTH)}.${s}`, 401, 'ERR_TOKEN_TOO_LARGE'],
      // a payload that decodes to valid JSON: refused for its length, never decoded and checked further
      [
        'too long, with a payload that decodes',
        `${h}.${b64url(JSON.stringify({ x: 'A'.repeat(MAX_TOKEN_LENGTH) }))}.${s}`,
        401,
        'ERR_TOKEN_TOO_LARGE'
      ]
    ]
    for (const [name, token, status, code] of cases) {
      const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
      expect({ name, status: res.statusCode, code: res.json().code, detail: res.json().detail }).toMatchObject({ name, status, code })
      expect(syntaxFirst(token)).toBe(code)
    }
    expect((await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${good}` } })).statusCode).toBe(200)
  })
})

describe('several issuers: the token the router decodes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'syntax-by-decoding-'))
  const keyA = makeKey('ES256')
  const keyB = makeKey('ES256')
  const keyC = makeKey('RS256')
  let a: TestIssuer
  let b: TestIssuer
  let c: TestIssuer
  /** Two issuers of JWTs. */
  let jwtOnly: FastifyInstance
  /** An issuer of JWTs and one that accepts opaque tokens only. */
  let withOpaque: FastifyInstance

  function issuersFile(name: string, issuers: unknown[]): string {
    const file = join(dir, name)
    writeFileSync(file, JSON.stringify({ issuers }))
    return file
  }

  beforeAll(async () => {
    a = await startTestIssuer({ keys: [keyA] })
    b = await startTestIssuer({ keys: [keyB], issuerPath: '/opaque-only' })
    c = await startTestIssuer({ keys: [keyC], issuerPath: '/second' })
    const entryA = { issuer: a.url, jwksUri: a.jwksUri }
    jwtOnly = await buildTestApp({ AUTH_ISSUERS_FILE: issuersFile('jwt.json', [entryA, { issuer: c.url }]), AUTH_AUDIENCE: AUDIENCE })
    withOpaque = await buildTestApp({
      AUTH_ISSUERS_FILE: issuersFile('opaque.json', [
        entryA,
        { issuer: b.url, tokenFormats: ['opaque'], introspection: { clientId: 'api', clientSecret: 'not-used-here' } }
      ]),
      AUTH_AUDIENCE: AUDIENCE
    })
  })
  afterAll(async () => {
    await jwtOnly?.close()
    await withOpaque?.close()
    await Promise.all([a?.close(), b?.close(), c?.close()])
    rmSync(dir, { recursive: true, force: true })
  })

  function signed(iss: string, key = keyA): string {
    const now = Math.floor(Date.now() / 1000)
    return signJwt(key, { iss, sub: 'user-1', aud: AUDIENCE, iat: now, exp: now + 300, client_id: CLIENT_ID, scope: 'read:messages' })
  }

  it('refuses as checking first would', async () => {
    for (const [iss, key] of [
      [a.url, keyA],
      [c.url, keyC]
    ] as const) {
      await holdsCheckFirstOrder(jwtOnly.verifier, signed(iss, key), 300)
      expect(await outcome(jwtOnly.verifier, signed(iss, key))).toBe('accepted')
    }
  })

  it('an issuer that accepts no JWTs refuses a well-signed one that names it', async () => {
    expect(await outcome(withOpaque.verifier, signed(b.url, keyB))).toBe('ERR_JWT_NOT_ACCEPTED')
    expect(await outcome(withOpaque.verifier, signed(a.url))).toBe('accepted')
  })
})
