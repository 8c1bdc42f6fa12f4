import { constants, createHmac, createPublicKey, verify } from 'node:crypto'
import type { JsonWebKey, KeyObject } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { ALL_TEST_ALGS, jwks, makeKey } from './keys.js'
import type { TestAlg } from './keys.js'
import { b64url, publicPem, signJwt, signRaw, tamper, unsignedJwt } from './jwt-sign.js'
import { startTestIssuer } from './test-issuer.js'
import type { TestIssuer } from './test-issuer.js'
import { fixtureHeader, getFixture, providerFixtures } from '../fixtures/providers.js'
import type { FixtureContext } from '../fixtures/providers.js'

function decodePart(token: string, index: 0 | 1): Record<string, unknown> {
  const part = token.split('.')[index] ?? ''
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>
}

const HASH: Record<string, { name: string; bytes: number }> = {
  '256': { name: 'sha256', bytes: 32 },
  '384': { name: 'sha384', bytes: 48 },
  '512': { name: 'sha512', bytes: 64 }
}

/** Independent JOSE verification with node:crypto. */
function joseVerify(alg: string, publicKey: KeyObject, token: string): boolean {
  const [h, p, s] = token.split('.')
  const input = Buffer.from(`${h}.${p}`)
  const sig = Buffer.from(s ?? '', 'base64url')
  if (alg === 'EdDSA') return verify(null, input, publicKey, sig)
  const hash = HASH[alg.slice(2)]
  if (hash === undefined) throw new Error(alg)
  if (alg.startsWith('RS')) return verify(hash.name, input, publicKey, sig)
  if (alg.startsWith('PS')) {
    return verify(hash.name, input, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hash.bytes }, sig)
  }
  return verify(hash.name, input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)
}

const EC_SIG_BYTES: Partial<Record<TestAlg, number>> = { ES256: 64, ES384: 96, ES512: 132 }
const EC_CRV: Partial<Record<TestAlg, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }

describe('keys', () => {
  it.each(ALL_TEST_ALGS)('%s: publicJwk has kid, alg, use and the right key type', (alg) => {
    const key = makeKey(alg, { kid: `k-${alg}` })
    expect(key.publicJwk.kid).toBe(`k-${alg}`)
    expect(key.publicJwk.alg).toBe(alg)
    expect(key.publicJwk.use).toBe('sig')
    expect(key.publicJwk).not.toHaveProperty('d')
    if (alg === 'EdDSA') expect(key.publicJwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    else if (alg.startsWith('ES')) expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: EC_CRV[alg] })
    else {
      expect(key.publicJwk.kty).toBe('RSA')
      expect(key.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
    }
    // the JWK imports back to the same public key
    const imported = createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' })
    expect(imported.equals(key.publicKey)).toBe(true)
  })

  it('honours includeAlg, use, keyOps, modulusLength', () => {
    const k = makeKey('RS256', { includeAlg: false, use: null, keyOps: ['verify'], modulusLength: 1024 })
    expect(k.publicJwk).not.toHaveProperty('alg')
    expect(k.publicJwk).not.toHaveProperty('use')
    expect(k.publicJwk.key_ops).toEqual(['verify'])
    expect(k.publicKey.asymmetricKeyDetails?.modulusLength).toBe(1024)
    expect(makeKey('ES256', { use: 'enc' }).publicJwk.use).toBe('enc')
  })

  it('pools RSA material: 50 RS256 keys are fast, with distinct kids; fresh keys are new', () => {
    const started = Date.now()
    const keys = Array.from({ length: 50 }, () => makeKey('RS256'))
    expect(new Set(keys.map((k) => k.kid)).size).toBe(50)
    // the first pooled keys are distinct from each other
    expect(keys[0]?.publicKey.equals(keys[1]!.publicKey)).toBe(false)
    const fresh = makeKey('RS256', { fresh: true })
    expect(keys.some((k) => k.publicKey.equals(fresh.publicKey))).toBe(false)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('jwks() returns copies of the public JWKs', () => {
    const a = makeKey('ES256')
    const b = makeKey('EdDSA')
    const set = jwks(a, b)
    expect(set.keys.map((k) => k.kid)).toEqual([a.kid, b.kid])
    set.keys[0]!.kid = 'changed'
    expect(a.publicJwk.kid).not.toBe('changed')
  })
})

describe('jwt-sign', () => {
  it('b64url has no padding and URL-safe characters', () => {
    expect(b64url(Buffer.from([0xfb, 0xff, 0xfe]))).toBe('-__-')
    expect(b64url('a')).toBe('YQ')
  })

  it.each(ALL_TEST_ALGS)('%s: signature verifies with node:crypto (JOSE encoding)', (alg) => {
    const key = makeKey(alg)
    const token = signJwt(key, { sub: 'u1', n: 1 })
    expect(decodePart(token, 0)).toEqual({ alg, typ: 'at+jwt', kid: key.kid })
    expect(decodePart(token, 1)).toEqual({ sub: 'u1', n: 1 })
    expect(joseVerify(alg, key.publicKey, token)).toBe(true)
    // verification against the key imported from the published JWK
    const fromJwk = createPublicKey({ key: key.publicJwk as JsonWebKey, format: 'jwk' })
    expect(joseVerify(alg, fromJwk, token)).toBe(true)
    // another key does not verify it
    const other = makeKey(alg, { fresh: true })
    expect(joseVerify(alg, other.publicKey, token)).toBe(false)
    const sig = Buffer.from(token.split('.')[2]!, 'base64url')
    const ecBytes = EC_SIG_BYTES[alg]
    if (ecBytes !== undefined) {
      expect(sig.length).toBe(ecBytes) // r||s, not DER
      expect(sig[0]).not.toBe(undefined)
    }
    if (alg === 'EdDSA') expect(sig.length).toBe(64)
    if (alg.startsWith('RS') || alg.startsWith('PS')) expect(sig.length).toBe(256)
  })

  it('PS*: salt length is the hash length (fails with a mismatching salt length)', () => {
    const key = makeKey('PS384')
    const token = signJwt(key, { a: 1 })
    const [h, p, s] = token.split('.')
    const ok = (saltLength: number): boolean =>
      verify(
        'sha384',
        Buffer.from(`${h}.${p}`),
        { key: key.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
        Buffer.from(s!, 'base64url')
      )
    expect(ok(48)).toBe(true)
    expect(ok(32)).toBe(false)
  })

  it('RS*: PKCS#1 v1.5 signatures are deterministic', () => {
    const key = makeKey('RS512')
    expect(signJwt(key, { a: 1 })).toBe(signJwt(key, { a: 1 }))
  })

  it('header overrides and removes fields', () => {
    const key = makeKey('ES256')
    const t1 = signJwt(key, {}, { typ: 'JWT', cty: 'x' })
    expect(decodePart(t1, 0)).toEqual({ alg: 'ES256', typ: 'JWT', kid: key.kid, cty: 'x' })
    const t2 = signJwt(key, {}, { typ: undefined, kid: undefined })
    expect(decodePart(t2, 0)).toEqual({ alg: 'ES256' })
    // a misleading alg in the header: still signed with the key's own algorithm
    const t3 = signJwt(key, {}, { alg: 'RS256' })
    expect(decodePart(t3, 0).alg).toBe('RS256')
    expect(joseVerify('ES256', key.publicKey, t3)).toBe(true)
  })

  it.each(['HS256', 'HS384', 'HS512'] as const)('%s with a shared secret', (alg) => {
    const token = signJwt({ secret: 'shh', alg }, { sub: 'x' })
    expect(decodePart(token, 0)).toEqual({ alg, typ: 'at+jwt' })
    const [h, p, s] = token.split('.')
    const expected = createHmac(`sha${alg.slice(2)}`, 'shh')
      .update(`${h}.${p}`)
      .digest('base64url')
    expect(s).toBe(expected)
  })

  it('alg confusion: HS256 keyed with the public key PEM (secret form, and signRaw with a TestKey)', () => {
    const key = makeKey('RS256')
    const token = signJwt({ secret: publicPem(key.publicKey), alg: 'HS256' }, { sub: 'x' }, { kid: key.kid })
    expect(decodePart(token, 0)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
    const [h, p, s] = token.split('.')
    expect(s).toBe(createHmac('sha256', publicPem(key.publicKey)).update(`${h}.${p}`).digest('base64url'))
    const raw = signRaw(key, '{"alg":"HS256"}', '{}', 'HS256')
    expect(raw.split('.')[2]).toBe(
      createHmac('sha256', publicPem(key.publicKey)).update(raw.split('.').slice(0, 2).join('.')).digest('base64url')
    )
  })

  it('signRaw signs the exact strings', () => {
    const key = makeKey('EdDSA')
    const header = `{"alg":"EdDSA","kid":"${key.kid}",  "typ":"at+jwt"}`
    const payload = '{"sub":"a","sub":"b","name":"\u0000\ud83d\ude00"}'
    const token = signRaw(key, header, payload)
    const [h, p] = token.split('.')
    expect(Buffer.from(h!, 'base64url').toString('utf8')).toBe(header)
    expect(Buffer.from(p!, 'base64url').toString('utf8')).toBe(payload)
    expect(joseVerify('EdDSA', key.publicKey, token)).toBe(true)
  })

  it('unsignedJwt ends with an empty signature', () => {
    const token = unsignedJwt({ alg: 'none' }, { sub: 'x' })
    expect(token.endsWith('.')).toBe(true)
    expect(token.split('.')).toHaveLength(3)
    expect(decodePart(token, 0)).toEqual({ alg: 'none' })
  })

  it.each(['header', 'payload', 'signature'] as const)('tamper(%s) breaks only the signature check', (part) => {
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const key = makeKey(alg)
      const token = signJwt(key, { sub: 'user', scope: 'read:messages' })
      const bad = tamper(token, part)
      expect(bad).not.toBe(token)
      expect(bad.split('.')).toHaveLength(3)
      expect(() => decodePart(bad, 0)).not.toThrow()
      expect(() => decodePart(bad, 1)).not.toThrow()
      expect(decodePart(bad, 0).kid).toBe(key.kid)
      expect(Buffer.from(bad.split('.')[2]!, 'base64url').length).toBe(Buffer.from(token.split('.')[2]!, 'base64url').length)
      expect(joseVerify(alg, key.publicKey, bad)).toBe(false)
    }
  })
})

describe('test issuer', () => {
  const issuers: TestIssuer[] = []
  afterEach(async () => {
    await Promise.all(issuers.splice(0).map((i) => i.close()))
  })
  const start = async (opts: Parameters<typeof startTestIssuer>[0]): Promise<TestIssuer> => {
    const issuer = await startTestIssuer(opts)
    issuers.push(issuer)
    return issuer
  }
  const getJson = async (url: string): Promise<{ status: number; body: unknown; headers: Headers }> => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
    const text = await res.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, headers: res.headers }
  }

  it('serves both discovery documents, JWKS, counts hits', async () => {
    const key = makeKey('ES256')
    const issuer = await start({ keys: [key] })
    expect(issuer.url).toBe(`http://127.0.0.1:${issuer.port}`)
    const oidc = await getJson(`${issuer.url}/.well-known/openid-configuration`)
    expect(oidc.status).toBe(200)
    expect(oidc.body).toMatchObject({ issuer: issuer.url, jwks_uri: issuer.jwksUri, introspection_endpoint: issuer.introspectionUri })
    expect(oidc.body).toHaveProperty('token_endpoint')
    expect(oidc.body).toHaveProperty('authorization_endpoint')
    const oauth = await getJson(`${issuer.url}/.well-known/oauth-authorization-server`)
    expect(oauth.status).toBe(200)
    expect(oauth.body).toMatchObject({ issuer: issuer.url, jwks_uri: issuer.jwksUri })
    const set = await getJson(issuer.jwksUri)
    expect(set.status).toBe(200)
    expect(set.body).toEqual(jwks(key))
    expect(set.headers.get('cache-control')).toBeNull()
    expect(issuer.hits).toEqual({ openid: 1, oauth: 1, jwks: 1, introspection: 0 })
  })

  it.each([
    ['openid', 200, 404],
    ['oauth', 404, 200],
    ['none', 404, 404]
  ] as const)('discovery %s', async (mode, openidStatus, oauthStatus) => {
    const issuer = await start({ keys: [makeKey('EdDSA')], discovery: mode, issuerPath: '/realms/test' })
    expect(issuer.url).toBe(`http://127.0.0.1:${issuer.port}/realms/test`)
    expect((await getJson(`${issuer.url}/.well-known/openid-configuration`)).status).toBe(openidStatus)
    const oauthUrl = `http://127.0.0.1:${issuer.port}/.well-known/oauth-authorization-server/realms/test`
    expect(issuer.oauthMetadataUri).toBe(oauthUrl)
    const oauth = await getJson(oauthUrl)
    expect(oauth.status).toBe(oauthStatus)
    if (oauthStatus === 200) expect(oauth.body).toMatchObject({ issuer: issuer.url })
    expect(issuer.hits.openid).toBe(1)
    expect(issuer.hits.oauth).toBe(1)
  })

  it('issuer with a trailing slash (Auth0 style) and metadata overrides', async () => {
    const issuer = await start({ keys: [makeKey('ES256')], issuerPath: '/' })
    expect(issuer.url).toBe(`http://127.0.0.1:${issuer.port}/`)
    issuer.metadata.issuer = 'https://evil.example/'
    issuer.metadata.scopes_supported = ['read:messages']
    // both the spec form and the naive `${issuer}/.well-known/...` form resolve
    for (const url of [`${issuer.url}.well-known/openid-configuration`, `${issuer.url}/.well-known/openid-configuration`]) {
      const doc = await getJson(url)
      expect(doc.status).toBe(200)
      expect(doc.body).toMatchObject({ issuer: 'https://evil.example/', scopes_supported: ['read:messages'] })
    }
  })

  it('rotates keys and serves raw JWK objects as-is', async () => {
    const a = makeKey('ES256')
    const b = makeKey('ES384')
    const issuer = await start({ keys: [a] })
    expect(((await getJson(issuer.jwksUri)).body as { keys: unknown[] }).keys).toEqual([a.publicJwk])
    const raw = { kty: 'RSA', kid: 'private-leak', n: 'AQAB', e: 'AQAB', d: 'secret' }
    issuer.setKeys([b, raw])
    expect(((await getJson(issuer.jwksUri)).body as { keys: unknown[] }).keys).toEqual([b.publicJwk, raw])
    expect(issuer.hits.jwks).toBe(2)
  })

  it('faults: 500, custom body, headers, redirect, delay, Cache-Control, large body', async () => {
    const issuer = await start({ keys: [makeKey('ES256')] })
    issuer.setJwksFault({ status: 500 })
    expect((await getJson(issuer.jwksUri)).status).toBe(500)

    issuer.setJwksFault({ body: 'not json', headers: { 'content-type': 'text/plain' } })
    const notJson = await getJson(issuer.jwksUri)
    expect(notJson.status).toBe(200)
    expect(notJson.body).toBe('not json')
    expect(notJson.headers.get('content-type')).toBe('text/plain')

    issuer.setJwksFault({ redirectTo: 'http://127.0.0.1:1/elsewhere' })
    const redirected = await fetch(issuer.jwksUri, { redirect: 'manual' })
    expect(redirected.status).toBe(302)
    expect(redirected.headers.get('location')).toBe('http://127.0.0.1:1/elsewhere')

    issuer.setJwksFault({ delayMs: 150 })
    const t0 = Date.now()
    expect((await getJson(issuer.jwksUri)).status).toBe(200)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)

    issuer.setJwksFault({ body: 'x'.repeat(5 * 1024 * 1024) })
    const big = await fetch(issuer.jwksUri)
    expect((await big.arrayBuffer()).byteLength).toBe(5 * 1024 * 1024)

    issuer.setJwksFault(null)
    issuer.setCacheControl('max-age=600')
    expect((await getJson(issuer.jwksUri)).headers.get('cache-control')).toBe('max-age=600')

    issuer.setDiscoveryFault({ status: 503 })
    expect((await getJson(`${issuer.url}/.well-known/openid-configuration`)).status).toBe(503)
    expect((await getJson(`${issuer.url}/.well-known/oauth-authorization-server`)).status).toBe(503)
    issuer.setDiscoveryFault(null)
    expect((await getJson(`${issuer.url}/.well-known/openid-configuration`)).status).toBe(200)
    expect(issuer.hits.jwks).toBe(6)
  })

  it('hangs: a fetch with AbortSignal.timeout(200) aborts; close() ends the hanging socket', async () => {
    const issuer = await start({ keys: [makeKey('ES256')] })
    issuer.setJwksFault({ hang: true })
    const t0 = Date.now()
    await expect(fetch(issuer.jwksUri, { signal: AbortSignal.timeout(200) })).rejects.toThrow()
    expect(Date.now() - t0).toBeLessThan(2000)
    issuer.setDiscoveryFault({ hang: true })
    const pending = fetch(`${issuer.url}/.well-known/openid-configuration`).then(
      () => 'answered',
      () => 'failed'
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    await issuer.close()
    expect(await pending).toBe('failed')
    expect(issuer.hits.jwks).toBe(1)
    expect(issuer.hits.openid).toBe(1)
  })

  it('stop() refuses connections, start() answers again on the same port', async () => {
    const issuer = await start({ keys: [makeKey('ES256')] })
    const port = issuer.port
    expect((await getJson(issuer.jwksUri)).status).toBe(200)
    await issuer.stop()
    const err = await fetch(issuer.jwksUri).then(
      () => null,
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(Error)
    expect(String((err as Error & { cause?: unknown }).cause)).toMatch(/ECONNREFUSED/)
    await issuer.start()
    expect(issuer.port).toBe(port)
    expect((await getJson(issuer.jwksUri)).status).toBe(200)
  })

  it('starts on a requested port', async () => {
    const first = await start({ keys: [makeKey('ES256')] })
    const port = first.port
    await first.close()
    const again = await start({ keys: [makeKey('ES256')], port })
    expect(again.port).toBe(port)
    expect((await getJson(again.jwksUri)).status).toBe(200)
  })

  it('serves introspection through onIntrospect', async () => {
    const issuer = await start({ keys: [makeKey('ES256')] })
    const seen: unknown[] = []
    const post = (body: string): Promise<Response> =>
      fetch(issuer.introspectionUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic YXBpOnNlY3JldA==' },
        body
      })
    // default: inactive
    expect(await (await post('token=abc')).json()).toEqual({ active: false })
    issuer.onIntrospect = (req) => {
      seen.push(req)
      if (req.token === 'boom') return { status: 500, body: { error: 'server_error' } }
      return { body: { active: true, scope: 'read:messages', sub: 'u1' } }
    }
    const res = await post('token=opaque-1&token_type_hint=access_token')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ active: true, scope: 'read:messages', sub: 'u1' })
    expect(seen[0]).toMatchObject({ token: 'opaque-1', tokenTypeHint: 'access_token', authorization: 'Basic YXBpOnNlY3JldA==' })
    expect((await post('token=boom')).status).toBe(500)

    issuer.onIntrospect = () => ({ body: { active: true }, hang: true })
    await expect(fetch(issuer.introspectionUri, { method: 'POST', body: 'token=x', signal: AbortSignal.timeout(200) })).rejects.toThrow()
    issuer.onIntrospect = () => ({ body: '{"active":', delayMs: 50 })
    expect(await (await post('token=y')).text()).toBe('{"active":')
    expect(issuer.hits.introspection).toBe(5)
  })
})

describe('provider fixtures', () => {
  const ctx: FixtureContext = {
    issuer: 'https://tenant.example/',
    audience: 'https://api.example.com',
    clientId: 'client-123',
    now: 1_700_000_000
  }

  it('has unique names and covers every provider with both kinds', () => {
    expect(new Set(providerFixtures.map((f) => f.name)).size).toBe(providerFixtures.length)
    for (const provider of ['auth0', 'okta', 'entra', 'keycloak', 'cognito', 'oidc-provider']) {
      const kinds = new Set(providerFixtures.filter((f) => f.provider === provider).map((f) => f.kind))
      expect([...kinds].sort()).toEqual(['access', 'id'])
    }
  })

  it.each(providerFixtures.map((f) => [f.name, f] as const))('%s builds claims from the context', (_name, fixture) => {
    const claims = fixture.claims(ctx)
    expect(claims.iss).toBe(ctx.issuer)
    expect(claims.exp).toBe(ctx.now + 3600)
    expect(claims.iat).toBe(ctx.now - 10)
    expect(fixture.header).not.toHaveProperty('alg')
    expect(fixture.header).not.toHaveProperty('kid')
    expect(fixture.source.length).toBeGreaterThan(10)
    const aud = claims.aud
    const auds = aud === undefined ? [] : Array.isArray(aud) ? aud : [aud]
    if (fixture.kind === 'access') {
      expect(fixture.scopes?.length).toBeGreaterThan(0)
      expect(fixture.scopes).toContain('read:messages')
      if (fixture.provider === 'cognito') {
        expect(claims).not.toHaveProperty('aud')
        expect(claims.client_id).toBe(ctx.clientId)
        expect(claims.token_use).toBe('access')
      } else {
        expect(auds).toContain(ctx.audience)
      }
      expect(JSON.stringify(claims)).toContain('read:messages')
      for (const marker of ['at_hash', 'c_hash']) expect(claims).not.toHaveProperty(marker)
    } else {
      expect(fixture.scopes).toBeUndefined()
      expect(auds).toEqual([fixture.name === 'entra-v2-id-shared-registration' ? ctx.audience : ctx.clientId])
    }
  })

  it('carries the provider-specific shapes', () => {
    const c = (name: string): Record<string, unknown> => getFixture(name).claims(ctx)
    expect(getFixture('auth0-access-default').header).toEqual({ typ: 'JWT' })
    expect(c('auth0-access-default').aud).toEqual([ctx.audience, 'https://tenant.example/userinfo'])
    expect(c('auth0-access-default').permissions).toEqual(['read:messages', 'write:messages'])
    expect(getFixture('auth0-access-rfc9068').header).toEqual({ typ: 'at+jwt' })
    expect(c('auth0-access-rfc9068').client_id).toBe(ctx.clientId)
    expect(c('okta-access')).toMatchObject({ ver: 1, cid: ctx.clientId, scp: expect.arrayContaining(['read:messages']) })
    expect(String(c('okta-access').jti)).toMatch(/^AT\./)
    expect(c('entra-v1-access')).toMatchObject({ ver: '1.0', appid: ctx.clientId, scp: 'read:messages write:messages' })
    expect(c('entra-v2-access')).toMatchObject({ ver: '2.0', azp: ctx.clientId, azpacr: '0' })
    expect(c('entra-v2-access-app-only')).not.toHaveProperty('scp')
    expect(c('entra-v2-id')).not.toHaveProperty('azp')
    expect(c('entra-v2-id')).not.toHaveProperty('scp')
    expect(c('keycloak-access')).toMatchObject({ typ: 'Bearer', azp: ctx.clientId })
    expect(c('keycloak-access')).not.toHaveProperty('nonce')
    expect(c('keycloak-access-pre25')).toHaveProperty('nonce')
    expect(c('keycloak-access-pre25')).toHaveProperty('session_state')
    expect(c('keycloak-id')).toMatchObject({ typ: 'ID' })
    expect(c('cognito-id')).toMatchObject({ token_use: 'id', aud: ctx.clientId })
    expect(getFixture('oidc-provider-access').header).toEqual({ typ: 'at+jwt' })
    expect(() => getFixture('nope')).toThrow()
  })

  it('fixtures sign and verify end to end', () => {
    const key = makeKey('RS256')
    for (const fixture of providerFixtures) {
      const token = signJwt(key, fixture.claims(ctx), fixtureHeader(fixture))
      const header = decodePart(token, 0)
      expect(header.typ).toBe(fixture.header.typ)
      expect(joseVerify('RS256', key.publicKey, token)).toBe(true)
    }
  })
})
