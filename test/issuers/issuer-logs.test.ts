/**
 * Logs name the issuer, never the token: with several issuers, a refusal by the issuer a token
 * was routed to carries that issuer's id in its log line (`auth.issuer`); a token the router
 * refuses names no configured issuer (its reason quotes the `iss`, bounded); no part of any
 * token reaches the logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthError } from '../../src/errors.js'
import { MultiIssuerVerifier } from '../../src/issuers/multi-issuer-verifier.js'
import type { TrustedIssuer } from '../../src/issuers/issuers-file.js'
import type { AccessTokenVerifier } from '../../src/token/access-token-verifier.js'
import { signJwt } from '../helpers/jwt-sign.js'
import { makeKey } from '../helpers/keys.js'
import { AUDIENCE, buildTestApp, CLIENT_ID } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const dir = mkdtempSync(join(tmpdir(), 'issuer-logs-'))

function claims(iss: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return { iss, sub: 'user-1', aud: AUDIENCE, iat: now, exp: now + 300, client_id: CLIENT_ID, scope: 'read:messages', ...extra }
}

interface Refusal {
  msg: string
  auth: { code: string; reason?: string; issuer?: string }
}

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('refusal logs with two issuers', () => {
  const keyA = makeKey('ES256')
  const keyB = makeKey('ES256')
  const lines: string[] = []
  let a: TestIssuer
  let b: TestIssuer
  let app: FastifyInstance

  beforeAll(async () => {
    a = await startTestIssuer({ keys: [keyA] })
    b = await startTestIssuer({ keys: [keyB], issuerPath: '/b' })
    const file = join(dir, 'issuers.json')
    writeFileSync(file, JSON.stringify({ issuers: [{ issuer: a.url }, { issuer: b.url }] }))
    app = await buildTestApp(
      { AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE, LOG_LEVEL: 'info' },
      { logStream: { write: (line: string) => void lines.push(line) } }
    )
  })
  afterAll(async () => {
    await app?.close()
    await Promise.all([a?.close(), b?.close()])
  })

  it("names the routed issuer on each of its refusals, no issuer for an unconfigured one, and never a token's part", async () => {
    const now = Math.floor(Date.now() / 1000)
    const tokens = {
      // routed to A, signed by B's key (a kid A never published)
      forgedForA: signJwt(keyB, claims(a.url)),
      // routed to B, expired
      expiredAtB: signJwt(keyB, claims(b.url, { exp: now - 600 })),
      // names no configured issuer
      unconfigured: signJwt(keyA, claims('https://elsewhere.example/')),
      // accepted
      valid: signJwt(keyA, claims(a.url))
    }
    for (const token of Object.values(tokens)) await app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })

    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    const refusals = entries.filter((entry) => entry.msg === 'request refused') as unknown as Refusal[]
    expect(refusals.map(({ auth }) => [auth.code, auth.issuer])).toEqual([
      ['ERR_JWKS_NO_MATCHING_KEY', a.url],
      ['ERR_JWT_EXPIRED', b.url],
      ['ERR_JWT_ISSUER_INVALID', undefined]
    ])
    expect(refusals[2]?.auth.reason).toContain('"https://elsewhere.example/" is not a configured issuer')

    const all = lines.join('\n')
    for (const token of Object.values(tokens)) for (const part of token.split('.')) expect(all).not.toContain(part)
  })
})

describe('MultiIssuerVerifier', () => {
  const issuer = (id: string): TrustedIssuer => ({ kind: 'exact', id, issuer: id, index: 0, auth: { formats: ['jwt'] } }) as never
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt' })).toString('base64url')
  const tokenFor = (iss: string): string => `${header}.${Buffer.from(JSON.stringify({ iss })).toString('base64url')}.c2ln`
  const emptyCache = { size: 0, get: () => undefined, clear: () => undefined }

  function verifierThat(verify: () => unknown): AccessTokenVerifier {
    return { verify, cache: emptyCache } as unknown as AccessTokenVerifier
  }

  it("marks its issuers' refusals, thrown or rejected, with the issuer's id; leaves other errors alone", async () => {
    const a = issuer('https://a.example')
    const b = issuer('https://b.example')
    const multi = new MultiIssuerVerifier([
      {
        issuer: a,
        verifier: verifierThat(() => {
          throw new AuthError('ERR_JWT_EXPIRED')
        })
      },
      { issuer: b, verifier: verifierThat(() => Promise.reject(new AuthError('ERR_JWS_SIGNATURE_INVALID'))) }
    ])
    const thrown = (() => {
      try {
        multi.verify(tokenFor(a.id))
      } catch (error) {
        return error
      }
      return undefined
    })()
    expect(thrown).toBeInstanceOf(AuthError)
    expect((thrown as AuthError).issuer).toBe(a.id)
    await expect(multi.verify(tokenFor(b.id))).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID', issuer: b.id })
    expect(() => multi.verify(tokenFor('https://c.example'))).toThrow(AuthError)
    try {
      multi.verify(tokenFor('https://c.example'))
    } catch (error) {
      expect((error as AuthError).issuer).toBeUndefined()
    }
    const plain = new Error('boom')
    const failing = new MultiIssuerVerifier([
      {
        issuer: a,
        verifier: verifierThat(() => {
          throw plain
        })
      }
    ])
    expect(() => failing.verify(tokenFor(a.id))).toThrow(plain)
    expect(Object.hasOwn(plain, 'issuer')).toBe(false)
  })
})
