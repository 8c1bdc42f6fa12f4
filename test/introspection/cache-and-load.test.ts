// Issue 9, item 4: answers reused up to AUTH_INTROSPECTION_CACHE_TTL and never past exp;
// concurrent lookups of one token merged; a bounded number of calls in flight, past which
// (and whenever the endpoint fails or hangs) the answer is 503 with Retry-After; a cache
// bounded in entries; metrics for calls, latency and failures.
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { activeAnswer, INTROSPECTION_CREDENTIALS, opaque } from '../helpers/introspection.js'
import { me, startTestApi, type TestApi, type TestApiOptions } from '../helpers/test-api.js'
import type { IntrospectionAnswer, IntrospectionRequest } from '../helpers/test-issuer.js'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

type Inject = Awaited<ReturnType<TestApi['app']['inject']>>

async function startOpaqueApi(env: Record<string, string> = {}, options: TestApiOptions = {}): Promise<TestApi> {
  return startTestApi({ ...options, env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS, ...env } })
}

/** Answers through `answer`, counting the calls the endpoint is working on at once. */
function instrument(
  api: TestApi,
  answer: (req: IntrospectionRequest) => IntrospectionAnswer,
  delayMs = 0
): { max: () => number; current: () => number } {
  let current = 0
  let max = 0
  api.issuer.onIntrospect = async (req) => {
    current++
    max = Math.max(max, current)
    try {
      if (delayMs > 0) await sleep(delayMs)
      return answer(req)
    } finally {
      current--
    }
  }
  return { max: () => max, current: () => current }
}

function expectUnavailable(res: Inject | Response): void {
  const status = 'statusCode' in res ? res.statusCode : res.status
  const header = (name: string): string | undefined =>
    'statusCode' in res ? (res.headers[name] as string | undefined) : (res.headers.get(name) ?? undefined)
  expect(status).toBe(503)
  expect(header('retry-after')).toMatch(/^[1-9]\d*$/)
  expect(header('content-type')).toMatch(/^application\/problem\+json/)
  expect(header('www-authenticate')).toBeUndefined()
}

describe('caching', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startOpaqueApi({}, { fakeClock: true })
  })
  afterAll(async () => {
    await api.close()
  })

  it('reuses an answer within AUTH_INTROSPECTION_CACHE_TTL (default 30 s) and asks again after it', async () => {
    const before = api.issuer.hits.introspection
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims(), { exp: api.now() + 3600 }) })
    const token = opaque()
    expect((await me(api, token)).statusCode).toBe(200)
    expect((await me(api, token)).statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(before + 1)
    api.advance(29_000)
    expect((await me(api, token)).statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(before + 1)
    api.advance(1_500)
    api.issuer.onIntrospect = () => ({ body: { active: false } }) // revoked meanwhile
    expect((await me(api, token)).statusCode).toBe(401)
    expect(api.issuer.hits.introspection).toBe(before + 2)
  })

  it("never reuses an answer past the token's exp, even within the TTL", async () => {
    const before = api.issuer.hits.introspection
    const exp = api.now() + 10
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims(), { exp }) })
    const token = opaque()
    expect((await me(api, token)).statusCode).toBe(200)
    api.advance(8_000) // a second of margin: the test clock is the real one plus an offset
    expect((await me(api, token)).statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(before + 1)
    api.advance(3_000) // past exp (still within the 5 s clock tolerance): ask again
    api.issuer.onIntrospect = () => ({ body: { active: false } })
    expect((await me(api, token)).statusCode).toBe(401)
    expect(api.issuer.hits.introspection).toBe(before + 2)
  })

  it('refuses a token whose exp is past the tolerance, even when the endpoint still calls it active', async () => {
    const exp = api.now() + 1
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims(), { exp }) })
    const token = opaque()
    expect((await me(api, token)).statusCode).toBe(200)
    api.advance(7_000)
    // the endpoint still says active with the old exp: the API refuses it on its own clock
    expect((await me(api, token)).statusCode).toBe(401)
  })

  it('reuses a negative answer too (the same unknown string twice is one call)', async () => {
    const before = api.issuer.hits.introspection
    api.issuer.onIntrospect = () => ({ body: { active: false } })
    const token = opaque()
    expect((await me(api, token)).statusCode).toBe(401)
    expect((await me(api, token)).statusCode).toBe(401)
    expect(api.issuer.hits.introspection).toBe(before + 1)
  })

  it('does not reuse a failure: the next request asks again', async () => {
    const before = api.issuer.hits.introspection
    api.issuer.onIntrospect = () => ({ status: 500, body: { error: 'server_error' } })
    const token = opaque()
    expectUnavailable(await me(api, token))
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()) })
    expect((await me(api, token)).statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(before + 2)
  })

  it('keys the cache by the whole token', async () => {
    const before = api.issuer.hits.introspection
    const token = opaque()
    api.issuer.onIntrospect = (req) => ({ body: req.token === token ? activeAnswer(api.claims()) : { active: false } })
    expect((await me(api, token)).statusCode).toBe(200)
    expect((await me(api, `${token}x`)).statusCode).toBe(401)
    expect((await me(api, token.slice(0, -1))).statusCode).toBe(401)
    expect(api.issuer.hits.introspection).toBe(before + 3)
  })
})

describe('AUTH_INTROSPECTION_CACHE_TTL', () => {
  it('bounds the reuse to the configured seconds', async () => {
    const api = await startOpaqueApi({ AUTH_INTROSPECTION_CACHE_TTL: '2' }, { fakeClock: true })
    try {
      api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()) })
      const token = opaque()
      await me(api, token)
      api.advance(1_500)
      await me(api, token)
      expect(api.issuer.hits.introspection).toBe(1)
      api.advance(1_000)
      await me(api, token)
      expect(api.issuer.hits.introspection).toBe(2)
    } finally {
      await api.close()
    }
  })

  it('0 turns the cache off', async () => {
    const api = await startOpaqueApi({ AUTH_INTROSPECTION_CACHE_TTL: '0' })
    try {
      api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()) })
      const token = opaque()
      for (let i = 0; i < 3; i++) expect((await me(api, token)).statusCode).toBe(200)
      expect(api.issuer.hits.introspection).toBe(3)
    } finally {
      await api.close()
    }
  })
})

describe('merging and bounding calls', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startOpaqueApi({ AUTH_INTROSPECTION_MAX_IN_FLIGHT: '2' })
  })
  afterAll(async () => {
    await api.close()
  })

  it('merges 20 concurrent lookups of one token into one call', async () => {
    const before = api.issuer.hits.introspection
    instrument(api, () => ({ body: activeAnswer(api.claims(), { sub: 'merged' }) }), 150)
    const token = opaque()
    const results = await Promise.all(Array.from({ length: 20 }, () => me(api, token)))
    expect(results.map((res) => res.statusCode)).toEqual(Array(20).fill(200))
    for (const res of results) expect(res.json()).toMatchObject({ sub: 'merged' })
    expect(api.issuer.hits.introspection).toBe(before + 1)
  })

  it('merges concurrent lookups that fail: one call, every request 503', async () => {
    const before = api.issuer.hits.introspection
    instrument(api, () => ({ status: 500, body: 'oops' }), 100)
    const results = await Promise.all(Array.from({ length: 20 }, () => me(api, 'same-failing-token')))
    for (const res of results) expectUnavailable(res)
    expect(api.issuer.hits.introspection).toBe(before + 1)
  })

  it('bounds the calls in flight: 10 distinct tokens at once with MAX_IN_FLIGHT=2 → at most 2 calls, the rest 503', async () => {
    const before = api.issuer.hits.introspection
    const load = instrument(api, () => ({ body: activeAnswer(api.claims()) }), 300)
    const results = await Promise.all(Array.from({ length: 10 }, () => me(api, opaque())))
    const ok = results.filter((res) => res.statusCode === 200)
    const shed = results.filter((res) => res.statusCode === 503)
    expect(ok.length + shed.length).toBe(10)
    expect(ok.length).toBeGreaterThanOrEqual(1)
    expect(ok.length).toBeLessThanOrEqual(2)
    expect(shed.length).toBeGreaterThanOrEqual(8)
    for (const res of shed) expectUnavailable(res)
    expect(load.max()).toBeLessThanOrEqual(2)
    expect(api.issuer.hits.introspection - before).toBeLessThanOrEqual(2)
  })

  it('gives the slots back: once the calls finished (answered or failed), new tokens are introspected', async () => {
    instrument(api, () => ({ status: 500, body: {} }), 50)
    await Promise.all([me(api, opaque()), me(api, opaque())])
    instrument(api, () => ({ body: activeAnswer(api.claims()) }))
    for (let i = 0; i < 4; i++) expect((await me(api, opaque())).statusCode).toBe(200)
  })

  it('bounds the calls in flight over real HTTP too', async () => {
    await api.app.listen({ port: 0, host: '127.0.0.1' }) // closed with the app
    const port = (api.app.server.address() as AddressInfo).port
    {
      const before = api.issuer.hits.introspection
      const load = instrument(api, () => ({ body: activeAnswer(api.claims()) }), 300)
      const results = await Promise.all(
        Array.from({ length: 10 }, () => fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${opaque()}` } }))
      )
      const statuses = results.map((res) => res.status)
      expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(2)
      expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(8)
      for (const res of results) {
        if (res.status === 503) expectUnavailable(res)
        await res.body?.cancel()
      }
      expect(load.max()).toBeLessThanOrEqual(2)
      expect(api.issuer.hits.introspection - before).toBeLessThanOrEqual(2)
    }
  })

  it('keeps a flood of random strings from reaching the endpoint more than the bound at a time', async () => {
    const before = api.issuer.hits.introspection
    const load = instrument(api, () => ({ body: { active: false } }), 100)
    const results = await Promise.all(Array.from({ length: 100 }, () => me(api, randomBytes(32).toString('hex'))))
    for (const res of results) expect([401, 503]).toContain(res.statusCode)
    expect(load.max()).toBeLessThanOrEqual(2)
    expect(api.issuer.hits.introspection - before).toBeLessThanOrEqual(2)
  })
})

describe('the endpoint fails: 503 with Retry-After, never 500, never a hang', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startOpaqueApi({ AUTH_INTROSPECTION_TIMEOUT_MS: '200' })
  })
  afterAll(async () => {
    await api.close()
  })

  const failures: Array<[string, () => IntrospectionAnswer]> = [
    ['500', () => ({ status: 500, body: { error: 'server_error' } })],
    ['502 with HTML', () => ({ status: 502, body: '<html>bad gateway</html>' })],
    ["401 (the API's credentials refused)", () => ({ status: 401, body: { error: 'invalid_client' } })],
    ['400', () => ({ status: 400, body: { error: 'invalid_request' } })],
    ['200 with a body that is not JSON', () => ({ body: 'active=true' })],
    ['200 with an empty body', () => ({ body: '' })],
    ['200 with a JSON array', () => ({ body: '[{"active":true}]' })],
    ['200 with JSON null', () => ({ body: 'null' })],
    ['200 with truncated JSON', () => ({ body: '{"active":true,"aud":' })],
    ['a hang', () => ({ hang: true, body: {} })],
    ['an answer slower than the timeout', () => ({ delayMs: 1_000, body: { active: true } })]
  ]
  it.each(failures)('answers 503 when the endpoint gives %s', async (_name, failure) => {
    api.issuer.onIntrospect = failure
    const token = opaque()
    const started = performance.now()
    const res = await me(api, token)
    expect(performance.now() - started).toBeLessThan(2_000)
    expectUnavailable(res)
    expect(res.json()).toMatchObject({ status: 503 })
    expect(res.body).not.toContain(token)
  })

  it('answers 503 when the connection is refused, and recovers when the endpoint is back', async () => {
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()) })
    await api.issuer.stop()
    try {
      const token = opaque()
      expectUnavailable(await me(api, token))
    } finally {
      await api.issuer.start()
    }
    expect((await me(api, opaque())).statusCode).toBe(200)
  })
})

describe('the cache is bounded in entries (AUTH_INTROSPECTION_CACHE_SIZE)', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startOpaqueApi({ AUTH_INTROSPECTION_CACHE_SIZE: '3' })
  })
  afterAll(async () => {
    await api.close()
  })

  it('evicts the oldest answer: an evicted token is introspected again, a kept one is not', async () => {
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()) })
    const [a, b, c, d] = [opaque(), opaque(), opaque(), opaque()] as [string, string, string, string]
    for (const token of [a, b, c, d]) await me(api, token)
    const hits = api.issuer.hits.introspection
    await me(api, d)
    await me(api, c)
    expect(api.issuer.hits.introspection).toBe(hits)
    await me(api, a) // evicted by d
    expect(api.issuer.hits.introspection).toBe(hits + 1)
  })

  it('a flood of distinct random strings keeps only the last few answers', async () => {
    api.issuer.onIntrospect = () => ({ body: { active: false } })
    const flood = Array.from({ length: 120 }, () => randomBytes(24).toString('base64url'))
    for (let i = 0; i < flood.length; i += 40) {
      await Promise.all(
        flood.slice(i, i + 40).map(async (token) => {
          // 40 at once: past the default in-flight bound (32) some are shed with 503, never cached
          const res = await me(api, token)
          expect([401, 503]).toContain(res.statusCode)
        })
      )
    }
    api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()) })
    const hits = api.issuer.hits.introspection
    // the first strings of the flood were evicted long ago: asked again, answered afresh
    expect((await me(api, flood[0] as string)).statusCode).toBe(200)
    expect((await me(api, flood[1] as string)).statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(hits + 2)
  })
})

describe('metrics', () => {
  it('counts calls by outcome and records their latency on /metrics', async () => {
    const api = await startOpaqueApi({ AUTH_INTROSPECTION_MAX_IN_FLIGHT: '1' }, { fakeClock: true })
    try {
      api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()), delayMs: 120 })
      expect((await me(api, opaque())).statusCode).toBe(200)
      api.issuer.onIntrospect = () => ({ status: 500, body: {} })
      expectUnavailable(await me(api, opaque()))
      api.issuer.onIntrospect = () => ({ body: activeAnswer(api.claims()), delayMs: 100 })
      const [first, second] = await Promise.all([me(api, opaque()), me(api, opaque())])
      expect([first?.statusCode, second?.statusCode].sort()).toEqual([200, 503])

      const res = await api.app.inject({ url: '/metrics' })
      expect(res.statusCode).toBe(200)
      const text = res.body
      const value = (line: RegExp): number => Number(line.exec(text)?.[1] ?? Number.NaN)
      expect(value(/^auth_introspections_total\{outcome="answered"\} (\d+)$/m)).toBe(2)
      expect(value(/^auth_introspections_total\{outcome="failed"\} (\d+)$/m)).toBe(1)
      expect(value(/^auth_introspections_total\{outcome="shed"\} (\d+)$/m)).toBe(1)
      expect(value(/^auth_introspection_duration_seconds_count (\d+)$/m)).toBe(3)
      expect(text).toMatch(/^auth_introspection_duration_seconds_bucket\{le="[^"]+"\} \d+$/m)
      // latency is wall time, even when the app's clock is a test clock
      expect(value(/^auth_introspection_duration_seconds_sum ([\d.e-]+)$/m)).toBeGreaterThanOrEqual(0.2)
      expect(text).toMatch(/^auth_refusals_total\{code="ERR_INTROSPECTION_UNAVAILABLE"\} 2$/m)
    } finally {
      await api.close()
    }
  })
})
