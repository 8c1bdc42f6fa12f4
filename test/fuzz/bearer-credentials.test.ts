/**
 * Hostile Authorization headers (issue item 6), property-based: the RFC 6750 header parser,
 * directly and through the app. Whatever arrives, the answer is a token or a refusal with a
 * stable code (400 or 401), never a crash or a 5xx, and always quickly.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkSingleToken, extractBearerToken, MAX_TOKEN_LENGTH } from '../../src/token/bearer-credentials.js'
import { isAuthError } from '../../src/errors.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

/**
 * CPU milliseconds one parser call may take; one request through the app. Process CPU time
 * includes V8's GC and compiler threads, so the bounds catch runaway work (backtracking,
 * quadratic scans), not microseconds: timing targets live in the benchmark.
 */
const DIRECT_LIMIT_MS = 250
const INJECT_LIMIT_MS = 1_000
/** Wall-clock bound against hangs, loose enough for a loaded machine. */
const WALL_LIMIT_MS = 5_000

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n))
/** What Node's HTTP parser lets through in a header value: HTAB, SP, VCHAR and obs-text. */
const headerChar = fc
  .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09))
  .map((n) => String.fromCharCode(n))
const b64tokenChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'.split(''))
/** RFC 6750 b64token: its characters, then any "=" padding at the end only. */
const b64token = (maxLength: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.string({ unit: b64tokenChar, minLength: 1, maxLength }), fc.constantFrom('', '=', '=='))
    .map(([body, padding]) => body + padding)

const scheme = fc.constantFrom(
  'Bearer',
  'bearer',
  'BEARER',
  'bEaReR',
  'Basic',
  'DPoP',
  'Digest',
  'Bearer,',
  'Bearerx',
  '',
  'Token',
  'OAuth',
  'Bearer:'
)
const separator = fc.constantFrom(' ', '  ', '\t', ' \t ', '', ',', ', ')
const anyValue = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: headerChar, maxLength: 300 }),
  fc.tuple(scheme, separator, fc.string({ unit: headerChar, maxLength: 300 })).map(([s, sep, rest]) => `${s}${sep}${rest}`),
  fc.tuple(scheme, separator, fc.string({ unit: b64tokenChar, maxLength: 300 })).map(([s, sep, rest]) => `${s}${sep}${rest}`),
  fc.tuple(scheme, fc.integer({ min: MAX_TOKEN_LENGTH - 2, max: MAX_TOKEN_LENGTH * 4 })).map(([s, n]) => `${s} ${'a'.repeat(n)}`)
)
const anyUrl = fc.oneof(
  fc.constant('/api/me'),
  fc.string({ unit: headerChar, maxLength: 80 }).map((q) => `/api/me?${q}`),
  fc.constantFrom('/api/me?access_token=x', '/api/me?a=1&access_token', '/api/me?xaccess_token=1', '/api/me?access_tokens=1')
)

/**
 * Runs fn and measures it. Bounds are asserted on the CPU time this process spent (immune to
 * other processes loading the machine); wall time only has a loose bound, against hangs.
 */
function timed<T>(fn: () => T): { value?: T; error?: unknown; ms: number; wallMs: number } {
  const cpu = process.cpuUsage()
  const start = performance.now()
  let value: T | undefined
  let error: unknown
  try {
    value = fn()
  } catch (caught) {
    error = caught ?? new Error('threw a nullish value')
  }
  const used = process.cpuUsage(cpu)
  return { value, error, ms: (used.user + used.system) / 1000, wallMs: performance.now() - start }
}

/** The whole RFC 6750 parse: extraction, then the single-token check a cache miss adds. */
function parseBearer(rawHeaders: string[], url: string): string {
  const token = extractBearerToken(rawHeaders, url)
  checkSingleToken(token)
  return token
}

describe('extractBearerToken + checkSingleToken, directly', () => {
  it('returns one token or refuses with 400/401, for any header values and URL, quickly', () => {
    fc.assert(
      fc.property(fc.array(anyValue, { minLength: 0, maxLength: 3 }), anyUrl, (values, url) => {
        const rawHeaders = values.flatMap((value, i) => [i % 2 === 0 ? 'Authorization' : 'authorization', value])
        const outcome = timed(() => parseBearer(rawHeaders, url))
        expect(outcome.ms).toBeLessThan(DIRECT_LIMIT_MS)
        expect(outcome.wallMs).toBeLessThan(WALL_LIMIT_MS)
        if (outcome.error !== undefined) {
          expect(isAuthError(outcome.error), String(outcome.error)).toBe(true)
          if (isAuthError(outcome.error)) expect([400, 401]).toContain(outcome.error.status)
          return
        }
        const token = outcome.value as string
        expect(values).toHaveLength(1)
        expect(token.length).toBeGreaterThan(0)
        expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH)
        expect(token).not.toMatch(/[\s,]/)
        expect((values[0] ?? '').toLowerCase()).toContain('bearer')
      }),
      { numRuns: 600 }
    )
  })

  it('finds exactly the token after any casing of the scheme, spaces between (RFC 9110: 1*SP), and white space around', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('', ' ', '\t'),
        fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEArer'),
        fc.constantFrom(' ', '   ', ' \t'),
        b64token(500),
        fc.constantFrom('', ' ', '\t '),
        (leading, s, sep, token, trailing) => {
          expect(parseBearer(['Authorization', `${leading}${s}${sep}${token}${trailing}`], '/api/me')).toBe(token)
        }
      ),
      { numRuns: 300 }
    )
  })

  it('takes no tab, NBSP or other space for the separator or the white space around the token', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('\t', '\u00a0', '\u2003', '\u3000'),
        b64token(100),
        fc.constantFrom('before', 'after', 'instead'),
        (odd, token, where) => {
          if (odd === '\t' && where !== 'instead') return // HTAB is white space around a value (RFC 9110 OWS)
          const value =
            where === 'instead' ? `Bearer${odd}${token}` : where === 'before' ? `Bearer ${odd}${token}` : `Bearer ${token}${odd}`
          const outcome = timed(() => parseBearer(['Authorization', value], '/api/me'))
          expect((outcome.error as { code?: string } | undefined)?.code).toMatch(
            /^ERR_(NO_CREDENTIALS|MULTIPLE_CREDENTIALS|TOKEN_MALFORMED)$/
          )
        }
      ),
      { numRuns: 300 }
    )
  })

  it('refuses two Authorization headers, whatever they hold', () => {
    fc.assert(
      fc.property(anyValue, anyValue, (a, b) => {
        const outcome = timed(() => extractBearerToken(['Authorization', a, 'AUTHORIZATION', b], '/api/me'))
        expect(isAuthError(outcome.error) ? outcome.error.code : outcome.error).toBe('ERR_MULTIPLE_CREDENTIALS')
      }),
      { numRuns: 200 }
    )
  })
})

describe('the Authorization header through the app', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi()
  })
  afterAll(async () => {
    await api.close()
  })

  it('answers any header value that HTTP can carry with 400 or 401 problem+json, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: headerChar, maxLength: 400 }),
          fc.tuple(scheme, separator, fc.string({ unit: headerChar, maxLength: 400 })).map(([s, sep, rest]) => `${s}${sep}${rest}`),
          fc.tuple(scheme, separator, fc.string({ unit: b64tokenChar, maxLength: 400 })).map(([s, sep, rest]) => `${s}${sep}${rest}`),
          fc
            .tuple(
              fc.constantFrom('Bearer ', 'bearer '),
              fc.array(fc.string({ unit: b64tokenChar, maxLength: 200 }), { minLength: 3, maxLength: 3 })
            )
            .map(([s, parts]) => `${s}${parts.join('.')}`)
        ),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        async (value, method) => {
          const cpu = process.cpuUsage()
          const start = performance.now()
          const res = await api.app.inject({
            method,
            url: method === 'DELETE' ? '/api/messages/1' : '/api/messages',
            headers: { authorization: value, 'content-type': 'application/json' },
            payload: method === 'POST' ? '{"text": 5' : undefined
          })
          const used = process.cpuUsage(cpu)
          expect((used.user + used.system) / 1000).toBeLessThan(INJECT_LIMIT_MS)
          expect(performance.now() - start).toBeLessThan(WALL_LIMIT_MS)
          expect([400, 401], `${res.statusCode} ${res.body}`).toContain(res.statusCode)
          expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
          expect(res.json()).toMatchObject({ status: res.statusCode, code: expect.any(String) })
          if (res.statusCode === 401) expect(res.headers['www-authenticate']).toMatch(/^(Bearer realm="|DPoP algs=")/)
        }
      ),
      { numRuns: 200 }
    )
  })
})
