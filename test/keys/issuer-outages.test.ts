/**
 * The issuer as the one remote dependency, seen from the API's HTTP surface: readiness,
 * cold-start concurrency, outages before and after warm-up (HTTP errors, refused
 * connections, hanging responses, junk), maxStale, recovery, and the metrics they leave.
 * The issuer is the controllable one on real loopback HTTP; time moves with the app's clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { LightMyRequestResponse } from 'fastify'
import { startTestApi, type TestApi, type TestApiOptions } from '../helpers/test-api.js'
import { makeKey } from '../helpers/keys.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { sample } from '../helpers/prometheus.js'

/** A short fetch timeout (and so a short request wait) for the tests of slow or hanging issuers. */
const FAST = { AUTH_JWKS_TIMEOUT_MS: '300' }

const opened: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close()
})

async function api(options: TestApiOptions = {}): Promise<TestApi> {
  const started = await startTestApi(options)
  opened.push(started)
  return started
}

function me(target: TestApi, token = target.token()): Promise<LightMyRequestResponse> {
  return target.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })
}

function readiness(target: TestApi): Promise<LightMyRequestResponse> {
  return target.app.inject({ url: '/health/ready' })
}

/** 503 with Retry-After, a problem body, no Bearer challenge: the client should retry, not re-authenticate. */
function expectKeysUnavailable(res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(503)
  expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/)
  expect(res.headers['www-authenticate']).toBeUndefined()
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({ status: 503, code: 'ERR_KEYS_UNAVAILABLE' })
}

async function metrics(target: TestApi): Promise<string> {
  const res = await target.app.inject({ url: '/metrics' })
  expect(res.statusCode).toBe(200)
  return res.body
}

type Fault = (issuer: TestIssuer) => Promise<void> | void

const FAULTS: Array<[string, Fault]> = [
  ['HTTP 500 from the JWKS', (issuer) => issuer.setJwksFault({ status: 500 })],
  ['HTTP 503 from discovery', (issuer) => issuer.setDiscoveryFault({ status: 503 })],
  ['refused connections', (issuer) => issuer.stop()],
  ['a hanging JWKS', (issuer) => issuer.setJwksFault({ hang: true })],
  ['a hanging discovery', (issuer) => issuer.setDiscoveryFault({ hang: true })],
  [
    'a JWKS that is not JSON',
    (issuer) => issuer.setJwksFault({ body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } })
  ],
  ['a redirected JWKS', (issuer) => issuer.setJwksFault({ status: 302, redirectTo: 'http://127.0.0.1:9/jwks' })],
  ['an oversized JWKS', (issuer) => issuer.setJwksFault({ body: JSON.stringify({ keys: [], padding: 'x'.repeat(600 * 1024) }) })]
]

describe('start-up', () => {
  it('readiness is 503 until the keys are loaded, 200 after; liveness is 200 throughout', async () => {
    const target = await api({ waitForKeys: false })
    const before = await readiness(target)
    expect(before.statusCode).toBe(503)
    expect(before.headers['retry-after']).toMatch(/^\d+$/)
    expect((await target.app.inject({ url: '/health/live' })).statusCode).toBe(200)
    await target.app.keyStore.start()
    const after = await readiness(target)
    expect(after.statusCode).toBe(200)
    expect(after.json()).toMatchObject({ status: 'ready', keys: 1 })
  })

  it.each([
    ['OpenID discovery', 'openid', { openid: 1, oauth: 0, jwks: 1 }],
    ['RFC 8414 discovery', 'oauth', { openid: 1, oauth: 1, jwks: 1 }],
    ['a configured AUTH_JWKS_URI', 'none', { openid: 0, oauth: 0, jwks: 1 }]
  ] as const)('a cold burst of 50 requests costs one fetch of each document (%s)', async (_name, discovery, hits) => {
    const target = await api({ waitForKeys: false, discovery })
    target.issuer.setJwksFault({ delayMs: 150 })
    const tokens = Array.from({ length: 50 }, () => target.token())
    const responses = await Promise.all(tokens.map((token) => me(target, token)))
    expect(responses.map((res) => res.statusCode)).toEqual(Array(50).fill(200))
    expect(target.issuer.hits).toMatchObject(hits)
  })

  it.each(FAULTS)('with %s before any key is loaded, requests get 503 + Retry-After, quickly', async (_name, fault) => {
    const target = await api({ waitForKeys: false, env: FAST })
    await fault(target.issuer)
    const started = performance.now()
    const responses = await Promise.all(Array.from({ length: 10 }, () => me(target)))
    expect(performance.now() - started).toBeLessThan(2000) // bounded by the 300 ms fetch timeout, never a hang
    for (const res of responses) expectKeysUnavailable(res)
    expect((await readiness(target)).statusCode).toBe(503)
  })

  it('recovers by itself once the issuer answers again, with no request needed', async () => {
    const target = await api({ waitForKeys: false })
    target.issuer.setJwksFault({ status: 500 })
    await target.app.keyStore.start()
    expect((await readiness(target)).statusCode).toBe(503)
    target.issuer.setJwksFault(null)
    // the background retry after the first failure comes 1 s later (real time)
    await vi.waitFor(
      async () => {
        expect((await readiness(target)).statusCode).toBe(200)
      },
      { timeout: 5000, interval: 50 }
    )
    expect((await me(target)).statusCode).toBe(200)
  })

  it('recovers on the next request once Retry-After has elapsed', async () => {
    const target = await api({ waitForKeys: false, fakeClock: true })
    await target.issuer.stop()
    const refused = await me(target)
    expectKeysUnavailable(refused)
    await target.issuer.start()
    target.advance(Number(refused.headers['retry-after']) * 1000)
    expect((await me(target)).statusCode).toBe(200)
    expect((await readiness(target)).statusCode).toBe(200)
  })
})

describe('after warm-up', () => {
  const JWKS_FAULTS = FAULTS.filter(([name]) => !name.includes('discovery'))

  it.each(JWKS_FAULTS)('with %s, cached keys are still served (200) past their lifetime, and readiness stays 200', async (_name, fault) => {
    // a fetch timeout (and request wait) of 2 s: a request that waited for the refresh would take that long
    const target = await api({ fakeClock: true, discovery: 'openid', env: { AUTH_JWKS_TIMEOUT_MS: '2000' } })
    expect((await me(target)).statusCode).toBe(200)
    await fault(target.issuer)
    target.advance(700_000) // the 600 s lifetime is over: a request starts a refresh, without waiting for it
    const started = performance.now()
    const res = await me(target)
    expect(performance.now() - started).toBeLessThan(1500)
    expect(res.statusCode).toBe(200)
    await expect(target.app.keyStore.refresh('test: the refresh fails')).rejects.toThrow()
    expect((await me(target)).statusCode).toBe(200)
    expect((await readiness(target)).statusCode).toBe(200)
    // the refresh was tried, and failed
    expect(sample(await metrics(target), 'auth_key_fetches_total', { kind: 'jwks', outcome: 'failure' })).toBeGreaterThanOrEqual(1)
  })

  it.each(FAULTS.filter(([name]) => name.includes('discovery')))(
    'with %s, refreshes go on: discovery is not repeated once known',
    async (_name, fault) => {
      const target = await api({ fakeClock: true, discovery: 'openid' })
      await fault(target.issuer)
      target.advance(700_000)
      expect((await me(target)).statusCode).toBe(200)
      await target.app.keyStore.refresh('test')
      expect(target.issuer.hits.openid).toBe(1)
      expect(target.issuer.hits.jwks).toBeGreaterThanOrEqual(2)
      expect((await readiness(target)).statusCode).toBe(200)
    }
  )

  it('an unknown kid while the issuer hangs is 401 within the fetch timeout, not 503', async () => {
    const target = await api({ env: FAST })
    target.issuer.setJwksFault({ hang: true })
    const started = performance.now()
    const res = await me(target, target.token({}, { kid: 'not-published' }))
    expect(performance.now() - started).toBeLessThan(2000)
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/)
  })

  it('past AUTH_JWKS_MAX_STALE the keys are no longer served: 503 and readiness 503, until the issuer is back', async () => {
    const target = await api({ fakeClock: true, env: { AUTH_JWKS_MAX_STALE: '3600' } })
    target.issuer.setJwksFault({ status: 500 })
    target.advance(3_590_000) // (the app's clock is the real one plus an offset: some slack for the test's own time)
    expect((await me(target)).statusCode).toBe(200)
    expect((await readiness(target)).statusCode).toBe(200)
    target.advance(11_000)
    expectKeysUnavailable(await me(target))
    expect((await readiness(target)).statusCode).toBe(503)
    target.issuer.setJwksFault(null)
    target.advance(30_000) // the longest backoff
    expect((await me(target)).statusCode).toBe(200)
    expect((await readiness(target)).statusCode).toBe(200)
  })

  it('a token signed by a key the issuer never published is 401 even while the issuer is down', async () => {
    const target = await api()
    await target.issuer.stop()
    const stranger = makeKey('RS256', { fresh: true, kid: target.key.kid })
    const res = await me(target, target.token({}, {}, stranger))
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'ERR_JWS_SIGNATURE_INVALID' })
  })
})

describe('metrics', () => {
  it('count JWKS fetches by outcome and refusals by code', async () => {
    const target = await api({ waitForKeys: false })
    target.issuer.setJwksFault({ status: 500 })
    expectKeysUnavailable(await me(target))
    let text = await metrics(target)
    expect(sample(text, 'auth_key_fetches_total', { kind: 'jwks', outcome: 'failure' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'auth_key_fetches_total', { kind: 'discovery', outcome: 'success' })).toBe(1)
    expect(sample(text, 'auth_refusals_total', { code: 'ERR_KEYS_UNAVAILABLE' })).toBe(1)
    expect(sample(text, 'http_requests_total', { route: '/api/me', status: '503' })).toBe(1)

    target.issuer.setJwksFault(null)
    await target.app.keyStore.refresh('test')
    expect((await me(target)).statusCode).toBe(200)
    expect((await me(target, target.token({}, { kid: 'unknown-kid' }))).statusCode).toBe(401)
    text = await metrics(target)
    expect(sample(text, 'auth_key_fetches_total', { kind: 'jwks', outcome: 'success' })).toBeGreaterThanOrEqual(1)
    expect(sample(text, 'auth_refusals_total', { code: 'ERR_JWKS_NO_MATCHING_KEY' })).toBe(1)
    expect(sample(text, 'http_requests_total', { route: '/api/me', status: '200' })).toBe(1)
    expect(sample(text, 'http_requests_total', { route: '/api/me', status: '401' })).toBe(1)
  })

  it('count a discovery failure as such', async () => {
    const target = await api({ waitForKeys: false })
    target.issuer.setDiscoveryFault({ status: 500 })
    expectKeysUnavailable(await me(target))
    const text = await metrics(target)
    expect(sample(text, 'auth_key_fetches_total', { kind: 'discovery', outcome: 'failure' })).toBe(1)
    expect(target.issuer.hits.jwks).toBe(0)
  })
})

describe('a second issuer', () => {
  it('is never contacted through a redirect', async () => {
    const elsewhere = await startTestIssuer({ keys: [makeKey('ES256')], discovery: 'both' })
    opened.push(elsewhere)
    const target = await api({ waitForKeys: false })
    target.issuer.setJwksFault({ status: 307, redirectTo: elsewhere.jwksUri })
    expectKeysUnavailable(await me(target))
    expect(elsewhere.hits.jwks).toBe(0)
  })
})
