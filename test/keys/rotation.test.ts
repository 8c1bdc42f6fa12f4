/**
 * Unknown kids and key rotation through the API: a flood of random kids cannot make the API
 * hammer the issuer (one refetch per cooldown, for all kids together), a key rotated in is
 * accepted after that refetch by every request that carries it, and a key rotated out stops
 * verifying at once (the verified-token cache is cleared with it).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { makeKey, type TestKey } from '../helpers/keys.js'

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ fakeClock: true })
})
afterEach(async () => {
  await api.close()
})

function me(token: string): Promise<LightMyRequestResponse> {
  return api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
}

function randomKidToken(): string {
  return api.token({}, { kid: `flood-${Math.random().toString(36).slice(2)}` })
}

function expectNoMatchingKey(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(401)
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/)
  expect(res.json()).toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
}

/** A key whose material differs from every other test key (EC keys are never pooled). */
function newKey(kid?: string): TestKey {
  return makeKey('ES256', kid === undefined ? {} : { kid })
}

describe('a flood of unknown kids', () => {
  it('costs at most one JWKS refetch per cooldown, every request gets 401, valid tokens keep working', async () => {
    expect(api.issuer.hits.jwks).toBe(1)
    const flood = await Promise.all(Array.from({ length: 100 }, () => me(randomKidToken())))
    for (const res of flood) expectNoMatchingKey(res)
    expect(api.issuer.hits.jwks).toBe(2)

    for (let i = 0; i < 100; i++) expectNoMatchingKey(await me(randomKidToken()))
    expect(api.issuer.hits.jwks).toBe(2)
    expect((await me(api.token())).statusCode).toBe(200)

    // the app's clock is the real one plus an offset: leave the real time the test takes some slack
    api.advance(25_000)
    expectNoMatchingKey(await me(randomKidToken()))
    expect(api.issuer.hits.jwks).toBe(2)

    api.advance(5000) // 30 s (AUTH_JWKS_COOLDOWN) after the last unknown-kid refetch
    const again = await Promise.all(Array.from({ length: 100 }, () => me(randomKidToken())))
    for (const res of again) expectNoMatchingKey(res)
    expect(api.issuer.hits.jwks).toBe(3)
  })

  it('honours AUTH_JWKS_COOLDOWN', async () => {
    const short = await startTestApi({ fakeClock: true, env: { AUTH_JWKS_COOLDOWN: '5' } })
    try {
      const token = (): string => short.token({}, { kid: `flood-${Math.random()}` })
      const inject = (t: string): Promise<LightMyRequestResponse> =>
        short.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${t}` } })
      await inject(token())
      expect(short.issuer.hits.jwks).toBe(2)
      short.advance(3000)
      await inject(token())
      expect(short.issuer.hits.jwks).toBe(2)
      short.advance(2000)
      await inject(token())
      expect(short.issuer.hits.jwks).toBe(3)
    } finally {
      await short.close()
    }
  })
})

describe('rotation', () => {
  it('a key rotated in is accepted after the refetch, by every concurrent request that carries it', async () => {
    const next = newKey()
    api.issuer.setKeys([api.key, next])
    const responses = await Promise.all(Array.from({ length: 20 }, () => me(api.token({}, {}, next))))
    expect(responses.map((res) => res.statusCode)).toEqual(Array(20).fill(200))
    expect(api.issuer.hits.jwks).toBe(2)
    expect((await me(api.token())).statusCode).toBe(200) // the old key too, during the overlap
  })

  it('a key rotated in during the cooldown is accepted once the cooldown has passed', async () => {
    const second = newKey()
    api.issuer.setKeys([api.key, second])
    expect((await me(api.token({}, {}, second))).statusCode).toBe(200)
    const third = newKey()
    api.issuer.setKeys([api.key, second, third])
    api.advance(10_000)
    expectNoMatchingKey(await me(api.token({}, {}, third)))
    expect(api.issuer.hits.jwks).toBe(2)
    api.advance(20_000)
    expect((await me(api.token({}, {}, third))).statusCode).toBe(200)
    expect(api.issuer.hits.jwks).toBe(3)
  })

  it('a token signed by a key rotated out is refused after the refetch, though it was accepted (and cached) before', async () => {
    const old = api.token()
    expect((await me(old)).statusCode).toBe(200)
    expect((await me(old)).statusCode).toBe(200) // a second use admits it to the verified-token cache
    expect(api.app.verifier.cache.size).toBe(1)
    expect((await me(old)).statusCode).toBe(200) // served from the verified-token cache

    const next = newKey()
    api.issuer.setKeys([next])
    expect((await me(api.token({}, {}, next))).statusCode).toBe(200) // the unknown kid refetches; the old key is gone
    expectNoMatchingKey(await me(old))
  })

  it('a key rotated out by the background refresh stops verifying too', async () => {
    const old = api.token()
    expect((await me(old)).statusCode).toBe(200)
    expect((await me(old)).statusCode).toBe(200)
    expect(api.app.verifier.cache.size).toBe(1)
    api.issuer.setKeys([newKey()])
    await api.app.keyStore.refresh('test: background refresh')
    expect(api.app.verifier.cache.size).toBe(0)
    const res = await me(old)
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: expect.stringMatching(/^ERR_JWKS_NO_MATCHING_KEY$/) })
  })

  it('new key material under the same kid: the old token is refused, a token from the new key accepted', async () => {
    const old = api.token()
    expect((await me(old)).statusCode).toBe(200)
    const replacement = makeKey('RS256', { kid: api.key.kid, fresh: true })
    api.issuer.setKeys([replacement])
    await api.app.keyStore.refresh('test: background refresh')
    const refused = await me(old)
    expect(refused.statusCode).toBe(401)
    expect(refused.json()).toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' })
    expect((await me(api.token({}, {}, replacement))).statusCode).toBe(200)
  })

  it('a set that adds keys and drops none keeps the verified-token cache', async () => {
    const old = api.token()
    expect((await me(old)).statusCode).toBe(200)
    expect((await me(old)).statusCode).toBe(200)
    api.issuer.setKeys([api.key, newKey()])
    await api.app.keyStore.refresh('test: background refresh')
    expect(api.app.verifier.cache.size).toBe(1)
  })
})
