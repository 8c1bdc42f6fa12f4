/**
 * Several trusted issuers through the whole app (AUTH_ISSUERS_FILE), against real issuers on
 * loopback: each token is routed by its unverified `iss` to one configured issuer and checked
 * with that issuer's keys only. Cross-issuer confusion, an unconfigured issuer that must never
 * be fetched, one issuer's outage, ownership by (issuer, subject), and Entra-style tenants.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signJwt } from '../helpers/jwt-sign.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { AUDIENCE, buildTestApp, CLIENT_ID } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const dir = mkdtempSync(join(tmpdir(), 'issuers-file-'))

function issuersFile(name: string, content: unknown): string {
  const path = join(dir, name)
  writeFileSync(path, JSON.stringify(content))
  return path
}

function claims(iss: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000)
  return {
    iss,
    sub: 'user-1',
    aud: AUDIENCE,
    iat: now,
    exp: now + 300,
    client_id: CLIENT_ID,
    scope: 'read:messages write:messages',
    ...extra
  }
}

function bearer(app: FastifyInstance, token: string, url = '/api/me') {
  return app.inject({ url, headers: { authorization: `Bearer ${token}` } })
}

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('two exact issuers', () => {
  // the same kid in both sets, different key material
  const keyA = makeKey('ES256', { kid: 'shared-kid' })
  const keyB = makeKey('ES256', { kid: 'shared-kid' })
  const keyC = makeKey('ES256')
  let a: TestIssuer
  let b: TestIssuer
  let c: TestIssuer
  let app: FastifyInstance

  beforeAll(async () => {
    a = await startTestIssuer({ keys: [keyA] })
    b = await startTestIssuer({ keys: [keyB], issuerPath: '/tenant-b' })
    c = await startTestIssuer({ keys: [keyC] })
    const file = issuersFile('two.json', {
      issuers: [
        { issuer: a.url, jwksUri: a.jwksUri },
        { issuer: b.url } // discovered, from its own metadata
      ]
    })
    app = await buildTestApp({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE })
  })
  afterAll(async () => {
    await app?.close()
    await Promise.all([a?.close(), b?.close(), c?.close()])
  })

  it("accepts each issuer's own tokens; /api/me names the issuer", async () => {
    const fromA = await bearer(app, signJwt(keyA, claims(a.url)))
    expect(fromA.statusCode, fromA.body).toBe(200)
    expect(fromA.json()).toMatchObject({ sub: 'user-1', issuer: a.url })
    const fromB = await bearer(app, signJwt(keyB, claims(b.url)))
    expect(fromB.statusCode, fromB.body).toBe(200)
    expect(fromB.json()).toMatchObject({ sub: 'user-1', issuer: b.url })
  })

  it("a token signed by A's key claiming B (same kid in both sets) is refused: B's keys only", async () => {
    const res = await bearer(app, signJwt(keyA, claims(b.url)))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' })
    const other = await bearer(app, signJwt(keyB, claims(a.url)))
    expect(other.statusCode).toBe(401)
    expect(other.json()).toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' })
  })

  it('an unconfigured issuer with a valid-looking JWKS is refused before any network call: its keys are never fetched', async () => {
    const before = { ...c.hits }
    const res = await bearer(app, signJwt(keyC, claims(c.url), { jku: c.jwksUri }))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWT_ISSUER_INVALID' })
    expect(c.hits).toEqual(before)
    // the issuer string must match exactly: a trailing slash is another issuer
    expect((await bearer(app, signJwt(keyA, claims(`${a.url}/`)))).json()).toMatchObject({ code: 'ERR_JWT_ISSUER_INVALID' })
    // no iss at all
    expect((await bearer(app, signJwt(keyA, claims(a.url, { iss: undefined })))).json()).toMatchObject({ code: 'ERR_JWT_ISSUER_INVALID' })
  })

  it('ownership is (issuer, subject): the same sub at two issuers is two owners', async () => {
    const tokenA = signJwt(keyA, claims(a.url))
    const created = await app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
      payload: { text: 'from A' }
    })
    expect(created.statusCode, created.body).toBe(201)
    const id = created.json().id as string
    const tokenB = signJwt(keyB, claims(b.url))
    expect((await bearer(app, tokenB, `/api/messages/${id}`)).statusCode).toBe(404)
    expect((await bearer(app, tokenA, `/api/messages/${id}`)).statusCode).toBe(200)
  })

  it('RFC 9728 metadata lists every issuer', async () => {
    const res = await app.inject({ url: '/.well-known/oauth-protected-resource' })
    expect(res.json().authorization_servers).toEqual([a.url, b.url])
  })

  it("one issuer's outage refuses only its own tokens; readiness and metrics say which one", async () => {
    await b.stop()
    try {
      // B's cached keys stay usable while they are fresh: force B's store to refetch by an unknown kid, and fail
      const stranger = makeKey('ES256')
      const unknownKid = await bearer(app, signJwt(stranger, claims(b.url)))
      expect([401, 503]).toContain(unknownKid.statusCode)
      expect((await bearer(app, signJwt(keyA, claims(a.url)))).statusCode).toBe(200)
    } finally {
      await b.start()
    }
  })
})

describe('an issuer down from the start', () => {
  const keyA = makeKey('ES256')
  const keyB = makeKey('ES256')
  let a: TestIssuer
  let b: TestIssuer
  let app: FastifyInstance

  beforeAll(async () => {
    a = await startTestIssuer({ keys: [keyA] })
    b = await startTestIssuer({ keys: [keyB] })
    await b.stop()
    const file = issuersFile('down.json', { issuers: [{ issuer: a.url }, { issuer: b.url }] })
    app = await buildTestApp({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE, AUTH_JWKS_TIMEOUT_MS: '500' })
  })
  afterAll(async () => {
    await app?.close()
    await Promise.all([a?.close(), b?.close()])
  })

  it("B's tokens get 503 with Retry-After, A's pass; /health/ready is 200 and names B as not ready; the gauge says so", async () => {
    const fromB = await bearer(app, signJwt(keyB, claims(b.url)))
    expect(fromB.statusCode).toBe(503)
    expect(fromB.json()).toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE' })
    expect(fromB.headers['retry-after']).toMatch(/^\d+$/)
    expect((await bearer(app, signJwt(keyA, claims(a.url)))).statusCode).toBe(200)
    const ready = await app.inject({ url: '/health/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json().issuers).toEqual([
      { issuer: a.url, ready: true, keys: 1 },
      { issuer: b.url, ready: false, keys: 0 }
    ])
    const metrics = (await app.inject({ url: '/metrics' })).body
    expect(metrics).toContain(`issuer_keys_ready{issuer="${a.url}"} 1`)
    expect(metrics).toContain(`issuer_keys_ready{issuer="${b.url}"} 0`)
  })
})

describe('a tenant template (multi-tenant Entra ID style)', () => {
  const key: TestKey = makeKey('RS256')
  let common: TestIssuer
  let app: FastifyInstance
  let v2: (tid: string) => string
  const T1 = '11111111-1111-4111-8111-111111111111'
  const T2 = '22222222-2222-4222-8222-222222222222'

  beforeAll(async () => {
    // one server publishes the common keys; the template names issuers under its origin
    common = await startTestIssuer({ keys: [key] })
    const template = `${common.url}/{tenantid}/v2.0`
    v2 = (tid) => template.replace('{tenantid}', tid)
    const file = issuersFile('tenants.json', {
      issuers: [{ issuerTemplate: template, tenants: [T1], jwksUri: common.jwksUri, provider: 'entra' }]
    })
    app = await buildTestApp({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE })
  })
  afterAll(async () => {
    await app?.close()
    await common?.close()
  })

  const entra = (iss: string, tid: string | undefined): Record<string, unknown> =>
    claims(iss, { tid, azp: CLIENT_ID, scp: 'read:messages write:messages', scope: undefined, client_id: undefined })

  it('an allowed tenant whose iss is the template filled with its own tid: 200, the identity names that iss', async () => {
    const res = await bearer(app, signJwt(key, entra(v2(T1), T1)))
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ issuer: v2(T1) })
  })

  it.each([
    ['another tenant', () => entra(v2(T2), T2)],
    ['iss of one tenant, tid of another', () => entra(v2(T1), T2)],
    ['no tid', () => entra(v2(T1), undefined)],
    ['a v1 issuer on a v2 template', () => entra(`${common.url}/${T1}/`, T1)],
    ['a tid with a path in it', () => entra(v2(`${T1}/x`), `${T1}/x`)]
  ])('%s: 401 ERR_JWT_ISSUER_INVALID', async (_name, make) => {
    const res = await bearer(app, signJwt(key, make()))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWT_ISSUER_INVALID' })
  })

  it('RFC 9728 metadata lists the allowed tenant issuers', async () => {
    expect((await app.inject({ url: '/.well-known/oauth-protected-resource' })).json().authorization_servers).toEqual([v2(T1)])
  })
})
