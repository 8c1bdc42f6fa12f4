/**
 * The verified-token cache never answers what a fresh verification would not: when the issuer
 * republishes a key with other metadata (alg, use, key_ops, kid), other material, or leaks it,
 * or when a key leaves the few a token without kid is tried against, the cache is cleared at
 * the refetch, and a token served from it a moment before is refused. Keys added alone keep it.
 */
import { sign } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { importJwk, type Verifier } from '../../src/keys/jwk-import.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { defaultWorkerCount } from '../../src/token/signature-workers.js'

let api: TestApi
afterEach(async () => {
  await api.close()
})

function me(token: string): Promise<LightMyRequestResponse> {
  return api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
}

/** Verified twice (the second admits it to the cache), then served from the cache. */
async function cached(token: string): Promise<void> {
  expect((await me(token)).statusCode).toBe(200)
  expect((await me(token)).statusCode).toBe(200)
  expect(api.app.verifier.cache.size).toBe(1)
  expect((await me(token)).statusCode).toBe(200)
}

function expectRefused(res: LightMyRequestResponse, code: string): void {
  expect(res.statusCode).toBe(401)
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/)
  expect(res.json()).toMatchObject({ code })
}

describe('a cached token', () => {
  it.each([
    ['another alg', (jwk: Record<string, unknown>) => ({ ...jwk, alg: 'PS256' }), 'ERR_JWKS_NO_MATCHING_KEY'],
    ['use: enc', (jwk: Record<string, unknown>) => ({ ...jwk, use: 'enc' }), 'ERR_JWKS_NO_MATCHING_KEY'],
    ['key_ops without verify', (jwk: Record<string, unknown>) => ({ ...jwk, key_ops: ['encrypt'] }), 'ERR_JWKS_NO_MATCHING_KEY'],
    ['another kid', (jwk: Record<string, unknown>) => ({ ...jwk, kid: 'renamed' }), 'ERR_JWKS_NO_MATCHING_KEY'],
    [
      'other material under the same kid',
      (jwk: Record<string, unknown>) => ({ ...makeKey('RS256', { fresh: true }).publicJwk, kid: jwk.kid }),
      'ERR_JWS_SIGNATURE_INVALID'
    ]
  ])('is refused once the issuer republishes its key with %s', async (_name, republish, code) => {
    // a second key keeps the set usable whatever happens to the first
    api = await startTestApi({ algs: ['RS256', 'ES256'] })
    const [key, other] = api.keys as [TestKey, TestKey]
    const token = api.token()
    await cached(token)

    api.issuer.setKeys([republish(key.publicJwk), other])
    await api.app.keyStore.refresh('test: the issuer republished its keys')
    expect(api.app.verifier.cache.size).toBe(0)
    expectRefused(await me(token), code)
    expect((await me(api.token({}, {}, other))).statusCode).toBe(200)
  })

  it('is refused once the issuer publishes the private half of its key', async () => {
    api = await startTestApi({ algs: ['RS256', 'ES256'] })
    const [key, other] = api.keys as [TestKey, TestKey]
    const token = api.token()
    await cached(token)

    const leaked = { ...(key.privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: key.kid, alg: key.alg, use: 'sig' }
    api.issuer.setKeys([leaked, other])
    await api.app.keyStore.refresh('test')
    expectRefused(await me(token), 'ERR_JWKS_NO_MATCHING_KEY')
  })

  it('without kid, is refused once another key is published ahead of its key and pushes it out of the keys tried', async () => {
    api = await startTestApi({ algs: ['ES256', 'ES256', 'ES256'] })
    const token = api.token({}, { kid: undefined }, api.keys[2])
    await cached(token)

    api.issuer.setKeys([makeKey('ES256'), ...api.keys])
    await api.app.keyStore.refresh('test')
    expect(api.app.verifier.cache.size).toBe(0)
    expectRefused(await me(token), 'ERR_JWS_SIGNATURE_INVALID')
  })

  it('stays cached when the set is refetched unchanged or keys are only added', async () => {
    api = await startTestApi({ algs: ['RS256', 'ES256'] })
    const token = api.token()
    await cached(token)
    await api.app.keyStore.refresh('test')
    api.issuer.setKeys([...api.keys, makeKey('ES256'), makeKey('EdDSA')])
    await api.app.keyStore.refresh('test')
    expect(api.app.keyStore.keyCount).toBe(4)
    expect(api.app.verifier.cache.size).toBe(1)
    expect((await me(token)).statusCode).toBe(200)
  })

  it('is not stored by verifications that began with the old keys and ended after they changed', async () => {
    api = await startTestApi({ algs: ['RS256', 'ES256'] })
    const [key, other] = api.keys as [TestKey, TestKey]
    const token = api.token()
    expect((await me(token)).statusCode).toBe(200) // seen once: remembered, not cached

    // Signature checks run on the app's signature-check threads: one long batch on each of them
    // (each sent in its own turn, so each to an idle thread) keeps the next two checks queued
    // behind it while the key set changes under them. While the threads are busy the event loop
    // would take some checks back and make them itself: here every check goes to a thread.
    api.app.signatures.shareChecks = false
    const holder = makeKey('RS256')
    const verifier = importJwk(holder.publicJwk, new Set(['RS256'])).verifiers.get('RS256') as Verifier
    const data = Buffer.from('hold the signature-check threads')
    const signature = sign('sha256', data, holder.privateKey)
    let released = 0
    const holding: Promise<void>[] = []
    for (let thread = 0; thread < defaultWorkerCount(); thread++) {
      const batch = Array.from({ length: 40_000 }, () => api.app.signatures.verify(verifier, data, signature))
      holding.push(
        Promise.all(batch).then((answers) => {
          expect(answers.every((ok) => ok)).toBe(true)
          released++
        })
      )
      await new Promise((resolve) => setImmediate(resolve))
    }
    let answered = 0
    const inFlight = [me(token), me(token)].map((res) =>
      res.finally(() => {
        answered++
      })
    )
    api.issuer.setKeys([{ ...key.publicJwk, alg: 'PS256' }, other])
    api.issuer.setJwksFault({ delayMs: 20 }) // the two requests have selected the old key by then
    await api.app.keyStore.refresh('test')
    expect(released).toBe(0) // the precondition: the keys changed while the checks still waited
    expect(answered).toBe(0)

    await Promise.all(holding)
    // verified with the key as it was published when they began: correct answers then...
    expect((await Promise.all(inFlight)).map((res) => res.statusCode)).toEqual([200, 200])
    // ...but not stored, or the cache would serve the token past the change
    expect(api.app.verifier.cache.size).toBe(0)
    expectRefused(await me(token), 'ERR_JWKS_NO_MATCHING_KEY')
  })
})
