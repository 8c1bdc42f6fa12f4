/**
 * The key store on its own, over real loopback HTTP against the controllable issuer: what a
 * fetch accepts (timeout, no redirects, size cap, 200 + JSON object only), how long a set is
 * kept (Cache-Control within bounds, background refresh, backoff), the unknown-kid cooldown,
 * key hygiene, and converted keys kept per key. Time is a manual clock plus manual timers
 * (the store's `now` and `timers` options), so nothing here waits for a real refresh timer.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import {
  KeyStore,
  MAX_KEYS_WITHOUT_KID,
  type FetchEvent,
  type KeyStoreLogger,
  type KeyStoreOptions,
  type KeyStoreTimers
} from '../../src/keys/key-store.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const MAX_BYTES = 512 * 1024
const DEFAULTS = { fetchTimeoutMs: 1000, cacheTtl: 600, cooldown: 30, maxStale: 86_400, maxBytes: MAX_BYTES }
const ALGORITHMS = new Set(['RS256', 'PS256', 'ES256', 'EdDSA'])

/** The background timer, run by hand. */
class ManualTimers implements KeyStoreTimers {
  readonly pending = new Map<number, { callback: () => void; delayMs: number }>()
  #next = 0
  set(callback: () => void, delayMs: number): number {
    this.#next++
    this.pending.set(this.#next, { callback, delayMs })
    return this.#next
  }

  clear(handle: unknown): void {
    this.pending.delete(handle as number)
  }

  /** Delay of the one pending timer (the store keeps at most one). */
  get delay(): number | undefined {
    expect(this.pending.size).toBeLessThanOrEqual(1)
    return [...this.pending.values()][0]?.delayMs
  }

  fire(): void {
    const due = [...this.pending.values()]
    this.pending.clear()
    for (const timer of due) timer.callback()
  }
}

interface Harness {
  store: KeyStore
  issuer: TestIssuer
  key: TestKey
  timers: ManualTimers
  events: FetchEvent[]
  advance(ms: number): void
  /** Waits for the fetch in flight (started by a timer or a select), whatever its outcome. */
  settle(): Promise<void>
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function issuerWith(keys: TestKey[], discovery: 'openid' | 'none' = 'none'): Promise<TestIssuer> {
  const issuer = await startTestIssuer({ keys, discovery })
  cleanups.push(() => issuer.close())
  return issuer
}

async function harness(options: Partial<KeyStoreOptions> & { discovery?: 'openid' | 'none'; keys?: TestKey[] } = {}): Promise<Harness> {
  const keys = options.keys ?? [makeKey('ES256')]
  const issuer = await issuerWith(keys, options.discovery ?? 'none')
  let clock = Date.now()
  const timers = new ManualTimers()
  const events: FetchEvent[] = []
  const store = new KeyStore({
    issuer: issuer.url,
    jwksUri: options.discovery === 'openid' ? undefined : issuer.jwksUri,
    algorithms: ALGORITHMS,
    ...DEFAULTS,
    now: () => clock,
    timers,
    onFetch: (event) => events.push(event),
    ...options
  })
  cleanups.push(() => store.close())
  return {
    store,
    issuer,
    key: keys[0] as TestKey,
    timers,
    events,
    advance: (ms) => {
      clock += ms
    },
    settle: () => store.refresh('test: join the fetch in flight').catch(() => undefined)
  }
}

/** select() as a promise, whether it answers synchronously, throws or rejects. */
function selectAsync(store: KeyStore, kid: string | undefined, alg: string): Promise<unknown> {
  return Promise.resolve().then(() => store.select(kid, alg))
}

function randomKid(): string {
  return `flood-${Math.random().toString(36).slice(2)}`
}

interface LogLine {
  level: 'info' | 'warn'
  fields: Record<string, unknown>
  msg: string
}

/** A KeyStoreLogger that keeps every line. */
function recordingLog(): KeyStoreLogger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  return {
    lines,
    info: (fields, msg) => {
      lines.push({ level: 'info', fields: fields as Record<string, unknown>, msg })
    },
    warn: (fields, msg) => {
      lines.push({ level: 'warn', fields: fields as Record<string, unknown>, msg })
    }
  }
}

/** The public JWK of an RSA test key with its exponent replaced (base64url of the big-endian bytes). */
function rsaWithExponent(kid: string, e: bigint): Record<string, unknown> {
  let hex = e.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  return { ...makeKey('RS256').publicJwk, kid, e: Buffer.from(hex, 'hex').toString('base64url') }
}

/** A test key's private JWK, as an issuer that leaks it would publish it. */
function privateJwk(key: TestKey): Record<string, unknown> {
  return { ...(key.privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: key.kid, alg: key.alg, use: 'sig' }
}

describe('a fetch', () => {
  it('loads the keys on start, through OIDC discovery', async () => {
    const h = await harness({ discovery: 'openid' })
    expect(h.store.ready).toBe(false)
    await h.store.start()
    expect(h.store.ready).toBe(true)
    expect(h.store.keyCount).toBe(1)
    expect(h.issuer.hits).toMatchObject({ openid: 1, jwks: 1 })
    expect(h.events).toEqual([
      { kind: 'discovery', outcome: 'success' },
      { kind: 'jwks', outcome: 'success' }
    ])
    const selected = h.store.select(h.key.kid, 'ES256')
    expect(Array.isArray(selected)).toBe(true) // synchronous once loaded
  })

  it('is single-flight: 50 concurrent refreshes cost one discovery and one JWKS fetch', async () => {
    const h = await harness({ discovery: 'openid' })
    h.issuer.setJwksFault({ delayMs: 100 })
    await Promise.all(Array.from({ length: 50 }, (_, i) => h.store.refresh(`caller ${i}`)))
    expect(h.issuer.hits).toMatchObject({ openid: 1, jwks: 1 })
  })

  it.each([
    ['a hanging JWKS', (issuer: TestIssuer) => issuer.setJwksFault({ hang: true })],
    ['a slow JWKS', (issuer: TestIssuer) => issuer.setJwksFault({ delayMs: 3000 })],
    ['a hanging discovery', (issuer: TestIssuer) => issuer.setDiscoveryFault({ hang: true })]
  ])('fails after the fetch timeout on %s, never hangs', async (_name, fault) => {
    const h = await harness({ discovery: 'openid', fetchTimeoutMs: 200 })
    fault(h.issuer)
    const started = performance.now()
    await expect(h.store.refresh('test')).rejects.toThrow(/timed out after 200 ms/)
    // discovery tries two locations (the second one answers 404 at once here)
    expect(performance.now() - started).toBeLessThan(1500)
    expect(h.store.ready).toBe(false)
  })

  it.each([301, 302, 303, 307, 308])('does not follow a JWKS redirect (%i)', async (status) => {
    const elsewhere = await issuerWith([makeKey('ES256')])
    const h = await harness()
    h.issuer.setJwksFault({ status, redirectTo: elsewhere.jwksUri })
    await expect(h.store.refresh('test')).rejects.toThrow(/redirects are not followed/)
    expect(elsewhere.hits.jwks).toBe(0)
    expect(h.store.ready).toBe(false)
  })

  it('does not follow a discovery redirect', async () => {
    const elsewhere = await issuerWith([makeKey('ES256')], 'openid')
    const h = await harness({ discovery: 'openid' })
    h.issuer.setDiscoveryFault({ status: 302, redirectTo: elsewhere.openidConfigurationUri })
    await expect(h.store.refresh('test')).rejects.toThrow(/issuer discovery failed/)
    expect(elsewhere.hits.openid).toBe(0)
    expect(h.issuer.hits.jwks).toBe(0)
  })

  it('refuses a response larger than the cap (declared length)', async () => {
    const h = await harness()
    const padding = 'x'.repeat(MAX_BYTES)
    h.issuer.setJwksFault({ body: JSON.stringify({ keys: [h.key.publicJwk], padding }) })
    await expect(h.store.refresh('test')).rejects.toThrow(/exceeds 524288/)
    expect(h.store.ready).toBe(false)
  })

  it('refuses a streamed response that grows past the cap (no declared length)', async () => {
    const key = makeKey('ES256')
    let chunksSent = 0
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }) // chunked, no content-length
      res.write(`{"keys":[${JSON.stringify(key.publicJwk)}],"padding":"`)
      const chunk = 'x'.repeat(64 * 1024)
      const pump = (): void => {
        if (res.destroyed || chunksSent > 64) {
          res.end('"}')
          return
        }
        chunksSent++
        if (res.write(chunk)) setImmediate(pump)
        else res.once('drain', pump)
      }
      pump()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
    )
    const { port } = server.address() as AddressInfo
    const store = new KeyStore({
      issuer: `http://127.0.0.1:${port}`,
      jwksUri: `http://127.0.0.1:${port}/jwks`,
      algorithms: ALGORITHMS,
      ...DEFAULTS
    })
    cleanups.push(() => store.close())
    await expect(store.refresh('test')).rejects.toThrow(/response exceeds 524288 bytes/)
  })

  it.each([201, 203, 204, 304, 400, 404, 429, 500, 502, 503])('treats HTTP %i as a failure', async (status) => {
    const h = await harness()
    h.issuer.setJwksFault({ status })
    await expect(h.store.refresh('test')).rejects.toThrow()
    expect(h.store.ready).toBe(false)
    expect(h.events).toEqual([{ kind: 'jwks', outcome: 'failure' }])
  })

  it.each([
    ['not JSON', 'keys, surely'],
    ['HTML', '<html><body>maintenance</body></html>'],
    ['empty', ''],
    ['an array', '[]'],
    ['a string', '"keys"'],
    ['null', 'null'],
    ['no keys array', '{"keys":"none"}'],
    ['no usable key', '{"keys":[{"kty":"oct","k":"c2VjcmV0"},42,null]}']
  ])('treats %s as a failure', async (_name, body) => {
    const h = await harness()
    h.issuer.setJwksFault({ body })
    await expect(h.store.refresh('test')).rejects.toThrow()
    expect(h.store.ready).toBe(false)
    expect(h.events).toEqual([{ kind: 'jwks', outcome: 'failure' }])
  })

  it('treats refused connections as a failure', async () => {
    const h = await harness()
    await h.issuer.stop()
    await expect(h.store.refresh('test')).rejects.toThrow(/ECONNREFUSED/)
    expect(h.store.ready).toBe(false)
  })
})

describe('caching', () => {
  it.each([
    [null, 600],
    ['max-age=60', 60],
    ['public, max-age=120, must-revalidate', 120],
    ['max-age=1', 30], // floor: an issuer cannot make the API refetch every second
    ['no-cache', 30],
    ['no-store', 30],
    ['max-age=999999999', 86_400] // ceiling: a day
  ])('Cache-Control %s → lifetime %i s, refreshed in the background at 80 percent of it', async (cacheControl, lifetime) => {
    const h = await harness()
    h.issuer.setCacheControl(cacheControl)
    await h.store.start()
    expect(h.timers.delay).toBe(lifetime * 800)
  })

  it('serves the set for its lifetime, then the next select refreshes it without waiting', async () => {
    const h = await harness()
    h.issuer.setCacheControl('max-age=60')
    await h.store.start()
    h.advance(59_000)
    expect(Array.isArray(h.store.select(h.key.kid, 'ES256'))).toBe(true)
    expect(h.issuer.hits.jwks).toBe(1)
    h.advance(2000) // past the lifetime; the background timer did not run (suspended process, clock jump)
    expect(Array.isArray(h.store.select(h.key.kid, 'ES256'))).toBe(true) // still synchronous
    await h.settle()
    expect(h.issuer.hits.jwks).toBe(2)
  })

  it('the background refresh picks up a rotated-in key before any request needs it', async () => {
    const h = await harness()
    await h.store.start()
    const next = makeKey('ES256')
    h.issuer.setKeys([h.key, next])
    h.timers.fire()
    await h.settle()
    expect(h.issuer.hits.jwks).toBe(2)
    expect(h.store.select(next.kid, 'ES256')).toHaveLength(1) // synchronous, no unknown-kid refetch needed
    expect(h.timers.delay).toBe(600 * 800)
  })

  it('a failing background refresh keeps the keys and backs off (1 s, 2 s, 4 s … 30 s), then recovers', async () => {
    const h = await harness()
    await h.store.start()
    h.issuer.setJwksFault({ status: 500 })
    const delays: Array<number | undefined> = []
    for (let i = 0; i < 7; i++) {
      h.timers.fire()
      await h.settle()
      delays.push(h.timers.delay)
      expect(h.store.ready).toBe(true)
      expect(h.store.select(h.key.kid, 'ES256')).toHaveLength(1)
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
    h.issuer.setJwksFault(null)
    h.timers.fire()
    await h.settle()
    expect(h.timers.delay).toBe(600 * 800)
  })

  it('before the first success, a select during the backoff fails at once with Retry-After and costs no fetch', async () => {
    const h = await harness()
    h.issuer.setJwksFault({ status: 500 })
    await h.store.start()
    expect(h.issuer.hits.jwks).toBe(1)
    await expect(selectAsync(h.store, h.key.kid, 'ES256')).rejects.toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE', retryAfter: 1 })
    expect(h.issuer.hits.jwks).toBe(1)
    h.issuer.setJwksFault(null)
    h.advance(1000) // the backoff has elapsed: the next select fetches
    await expect(selectAsync(h.store, h.key.kid, 'ES256')).resolves.toHaveLength(1)
    expect(h.issuer.hits.jwks).toBe(2)
  })

  it('a request waits at most requestWaitMs for a fetch in flight, which goes on', async () => {
    const h = await harness({ fetchTimeoutMs: 3000, requestWaitMs: 150 })
    h.issuer.setJwksFault({ delayMs: 1000 })
    await expect(selectAsync(h.store, h.key.kid, 'ES256')).rejects.toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE' })
    expect(h.events).toEqual([]) // the request was answered before the fetch ended
    await h.settle()
    expect(h.store.ready).toBe(true)
  })

  it('keys older than maxStale are not served', async () => {
    const h = await harness({ maxStale: 3600 })
    await h.store.start()
    h.issuer.setJwksFault({ status: 500 })
    h.advance(3600_000)
    expect(h.store.ready).toBe(true)
    h.advance(1000)
    expect(h.store.ready).toBe(false)
    await expect(selectAsync(h.store, h.key.kid, 'ES256')).rejects.toMatchObject({ code: 'ERR_KEYS_UNAVAILABLE' })
  })
})

describe('unknown kids', () => {
  it('cause at most one refetch per cooldown, for all kids together', async () => {
    const h = await harness()
    await h.store.start()
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => selectAsync(h.store, randomKid(), 'ES256')))
    expect(results.every((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY')).toBe(true)
    expect(h.issuer.hits.jwks).toBe(2)
    for (let i = 0; i < 100; i++) {
      expect(() => h.store.select(randomKid(), 'ES256')).toThrow(expect.objectContaining({ code: 'ERR_JWKS_NO_MATCHING_KEY' }))
    }
    h.advance(29_000)
    expect(() => h.store.select(randomKid(), 'ES256')).toThrow(expect.objectContaining({ code: 'ERR_JWKS_NO_MATCHING_KEY' }))
    expect(h.issuer.hits.jwks).toBe(2)
    h.advance(1000) // 30 s after the last unknown-kid refetch
    await expect(selectAsync(h.store, randomKid(), 'ES256')).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
    expect(h.issuer.hits.jwks).toBe(3)
  })

  it('a kid known with another algorithm costs no refetch', async () => {
    const h = await harness()
    await h.store.start()
    expect(() => h.store.select(h.key.kid, 'RS256')).toThrow(expect.objectContaining({ code: 'ERR_JWKS_NO_MATCHING_KEY' }))
    expect(h.issuer.hits.jwks).toBe(1)
  })

  it('an unknown kid while the issuer is down gets "no matching key", not "unavailable"', async () => {
    const h = await harness()
    await h.store.start()
    await h.issuer.stop()
    await expect(selectAsync(h.store, randomKid(), 'ES256')).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
    expect(h.store.ready).toBe(true)
  })
})

describe('key hygiene', () => {
  it('ignores keys not meant for signatures, too weak, of the wrong type, or with a non-string kid', async () => {
    const good = makeKey('ES256', { kid: 'good' })
    const noUse = makeKey('ES256', { kid: 'no-use', use: null })
    const verifyOp = makeKey('ES256', { kid: 'verify-op', keyOps: ['verify'] })
    const noAlg = makeKey('RS256', { kid: 'no-alg', includeAlg: false })
    const rejected = {
      enc: makeKey('ES256', { kid: 'enc', use: 'enc' }).publicJwk,
      encryptOps: makeKey('ES256', { kid: 'encrypt-ops', keyOps: ['encrypt', 'wrapKey'] }).publicJwk,
      notAnArrayOps: { ...makeKey('ES256').publicJwk, kid: 'ops-string', key_ops: 'verify' },
      rsa1024: makeKey('RS256', { kid: 'rsa-1024', modulusLength: 1024, fresh: true }).publicJwk,
      ecAsRsa: { ...makeKey('ES256').publicJwk, kid: 'ec-as-rs256', alg: 'RS256' },
      rsaAsEc: { ...makeKey('RS256').publicJwk, kid: 'rsa-as-es256', alg: 'ES256' },
      p384AsEs256: { ...makeKey('ES384').publicJwk, kid: 'p384-as-es256', alg: 'ES256' },
      okpAsEs256: { ...makeKey('EdDSA').publicJwk, kid: 'okp-as-es256', alg: 'ES256' },
      numericKid: { ...makeKey('ES256').publicJwk, kid: 42 },
      objectKid: { ...makeKey('ES256').publicJwk, kid: { id: 'x' } },
      symmetric: { kty: 'oct', k: 'c2VjcmV0', kid: 'oct', alg: 'HS256' },
      notAccepted: makeKey('ES384', { kid: 'es384' }).publicJwk
    }
    const h = await harness({ keys: [good] })
    h.issuer.setKeys([good, noUse, verifyOp, noAlg, ...Object.values(rejected)])
    await h.store.start()
    expect(h.store.keyCount).toBe(4)
    expect(h.store.select('good', 'ES256')).toHaveLength(1)
    expect(h.store.select('no-use', 'ES256')).toHaveLength(1)
    expect(h.store.select('verify-op', 'ES256')).toHaveLength(1)
    // without alg: every accepted algorithm its type allows
    expect(h.store.select('no-alg', 'RS256')).toHaveLength(1)
    expect(h.store.select('no-alg', 'PS256')).toHaveLength(1)
    expect(() => h.store.select('no-alg', 'ES256')).toThrow(expect.objectContaining({ code: 'ERR_JWKS_NO_MATCHING_KEY' }))
    for (const kid of [
      'enc',
      'encrypt-ops',
      'ops-string',
      'rsa-1024',
      'ec-as-rs256',
      'rsa-as-es256',
      'p384-as-es256',
      'okp-as-es256',
      'oct',
      'es384'
    ]) {
      h.advance(31_000) // let each unknown kid refetch: the key is still not there afterwards
      await expect(selectAsync(h.store, kid, kid === 'rsa-1024' || kid === 'ec-as-rs256' ? 'RS256' : 'ES256')).rejects.toMatchObject({
        code: 'ERR_JWKS_NO_MATCHING_KEY'
      })
    }
    // a non-string kid never matches: a token's kid is a string, and the key is not kept without it
    expect(() => h.store.select('42', 'ES256')).toThrow(expect.objectContaining({ code: 'ERR_JWKS_NO_MATCHING_KEY' }))
  })

  it.each<[string, () => Record<string, unknown>]>([
    ['an RSA private key (d, p, q, dp, dq, qi)', () => privateJwk(makeKey('RS256', { fresh: true }))],
    ['an EC private key (d)', () => privateJwk(makeKey('ES256'))],
    ['an Ed25519 private key (d)', () => privateJwk(makeKey('EdDSA'))],
    ...['d', 'p', 'q', 'dp', 'dq', 'qi'].map((member): [string, () => Record<string, unknown>] => [
      `an RSA key with "${member}" alone`,
      () => ({ ...makeKey('RS256').publicJwk, [member]: 'AQAB' })
    ]),
    ['an RSA key with "oth"', () => ({ ...makeKey('RS256').publicJwk, oth: [{ r: 'AQAB', d: 'AQAB', t: 'AQAB' }] })],
    ['a public key that also carries "k"', () => ({ ...makeKey('ES256').publicJwk, k: 'c2VjcmV0' })]
  ])('refuses %s instead of using its public half, and logs it once as a warning', async (_name, leaky) => {
    const log = recordingLog()
    const good = makeKey('ES256', { kid: 'good' })
    const h = await harness({ keys: [good], log })
    h.issuer.setKeys([good, { ...leaky(), kid: 'leaky' }])
    await h.store.start()
    expect(h.store.keyCount).toBe(1)
    expect(h.store.select('good', 'ES256')).toHaveLength(1)
    for (const alg of ['RS256', 'ES256', 'EdDSA']) {
      await expect(selectAsync(h.store, 'leaky', alg)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
    }
    const ignored = log.lines.filter((line) => line.msg === 'issuer key ignored')
    expect(ignored).toEqual([
      {
        level: 'warn',
        msg: 'issuer key ignored',
        fields: { kid: 'leaky', why: expect.stringMatching(/^private or symmetric key material published \(/) }
      }
    ])
  })

  it.each([
    ['0', 0n, false],
    ['1', 1n, false],
    ['2', 2n, false],
    ['4', 4n, false],
    ['65536', 65_536n, false],
    ['65538', 65_538n, false],
    ['2^32', 2n ** 32n, false],
    ['2^32 + 1', 2n ** 32n + 1n, false],
    ['2^256 + 1', 2n ** 256n + 1n, false],
    ['3', 3n, true],
    ['17', 17n, true],
    ['65537', 65_537n, true],
    ['2^32 − 1', 2n ** 32n - 1n, true]
  ])('RSA public exponent %s: accepted %s (odd, 3 ≤ e < 2^32)', async (_name, e, accepted) => {
    const log = recordingLog()
    const good = makeKey('ES256', { kid: 'good' })
    const h = await harness({ keys: [good], log })
    h.issuer.setKeys([good, rsaWithExponent('rsa', e)])
    await h.store.start()
    expect(h.store.keyCount).toBe(accepted ? 2 : 1)
    if (accepted) {
      expect(h.store.select('rsa', 'RS256')).toHaveLength(1)
    } else {
      await expect(selectAsync(h.store, 'rsa', 'RS256')).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' })
      expect(log.lines.filter((line) => line.msg === 'issuer key ignored')).toEqual([
        {
          level: 'warn',
          msg: 'issuer key ignored',
          fields: { kid: 'rsa', why: expect.stringMatching(/^RSA public exponent .* \(odd, 3 ≤ e < 2\^32 required\)$/) }
        }
      ])
    }
  })

  it('logs each refused key once with its kid, not again at every refetch that still publishes it', async () => {
    const log = recordingLog()
    const good = makeKey('ES256', { kid: 'good' })
    const refused = [
      { ...privateJwk(makeKey('ES256')), kid: 'leaky' },
      rsaWithExponent('e-one', 1n),
      makeKey('RS256', { kid: 'rsa-1024', modulusLength: 1024, fresh: true }).publicJwk,
      makeKey('ES256', { kid: 'enc', use: 'enc' }).publicJwk
    ]
    const h = await harness({ keys: [good], log })
    h.issuer.setKeys([good, ...refused])
    const ignored = (): Array<[string, unknown]> =>
      log.lines.filter((line) => line.msg === 'issuer key ignored').map((line) => [line.level, line.fields.kid])
    await h.store.start()
    // unsafe keys are warnings; a key meant for encryption is merely not for us
    expect(ignored()).toEqual([
      ['warn', 'leaky'],
      ['warn', 'e-one'],
      ['warn', 'rsa-1024'],
      ['info', 'enc']
    ])
    for (let i = 0; i < 3; i++) await h.store.refresh('test')
    h.timers.fire()
    await h.settle()
    expect(h.issuer.hits.jwks).toBe(5)
    expect(ignored()).toHaveLength(4)
    expect(h.store.select('good', 'ES256')).toHaveLength(1)

    // a key published differently is another key: refused and logged once in turn
    const renamed = { ...refused[0], kid: 'leaky-2' }
    h.issuer.setKeys([good, renamed, ...refused.slice(1)])
    await h.store.refresh('test')
    await h.store.refresh('test')
    expect(ignored()).toEqual([
      ['warn', 'leaky'],
      ['warn', 'e-one'],
      ['warn', 'rsa-1024'],
      ['info', 'enc'],
      ['warn', 'leaky-2']
    ])
  })

  it('a set whose every key is refused logs them once, though each retry fails again', async () => {
    const log = recordingLog()
    const h = await harness({ log })
    h.issuer.setKeys([{ ...privateJwk(h.key), kid: 'leaky' }])
    for (let i = 0; i < 3; i++) {
      await expect(h.store.refresh('test')).rejects.toThrow(/no usable signing key/)
    }
    expect(log.lines.filter((line) => line.msg === 'issuer key ignored').map((line) => line.fields.kid)).toEqual(['leaky'])
    expect(log.lines.filter((line) => line.msg === 'issuer signing keys could not be fetched')).toHaveLength(3)
    expect(h.store.ready).toBe(false)
  })

  it('a set whose every key is refused is a failed fetch (the API is not ready)', async () => {
    const h = await harness()
    h.issuer.setKeys([makeKey('ES256', { use: 'enc' }), makeKey('RS256', { modulusLength: 1024, fresh: true })])
    await expect(h.store.refresh('test')).rejects.toThrow(/no usable signing key/)
    expect(h.store.ready).toBe(false)
  })
})

describe('converted keys', () => {
  it('are built once per key: the same object for every select and across refetches of an unchanged key', async () => {
    const h = await harness()
    await h.store.start()
    const first = h.store.select(h.key.kid, 'ES256') as unknown[]
    expect(h.store.select(h.key.kid, 'ES256')).toEqual(first)
    expect((h.store.select(h.key.kid, 'ES256') as unknown[])[0]).toBe(first[0])
    const added = makeKey('ES256')
    h.issuer.setKeys([h.key, added])
    await h.store.refresh('test')
    expect((h.store.select(h.key.kid, 'ES256') as unknown[])[0]).toBe(first[0])
    const addedKey = (h.store.select(added.kid, 'ES256') as unknown[])[0]
    await h.store.refresh('test')
    expect((h.store.select(added.kid, 'ES256') as unknown[])[0]).toBe(addedKey)
  })

  it('announce keys that disappear (rotation), and not keys that are added', async () => {
    const h = await harness()
    let removed = 0
    h.store.onKeysChanged(() => {
      removed++
    })
    await h.store.start()
    const next = makeKey('ES256')
    h.issuer.setKeys([h.key, next])
    await h.store.refresh('test')
    expect(removed).toBe(0)
    h.issuer.setKeys([next])
    await h.store.refresh('test')
    expect(removed).toBe(1)
  })
})

describe('key changes', () => {
  const rsa = makeKey('RS256', { kid: 'rsa' })
  const other = makeKey('ES256', { kid: 'other' })

  it.each([
    ['its alg', { ...rsa.publicJwk, alg: 'PS256' }],
    ['its alg left out', { ...rsa.publicJwk, alg: undefined }],
    ['its use (enc)', { ...rsa.publicJwk, use: 'enc' }],
    ['its key_ops (without verify)', { ...rsa.publicJwk, key_ops: ['encrypt'] }],
    ['its key_ops (with verify)', { ...rsa.publicJwk, key_ops: ['verify'] }],
    ['its kid', { ...rsa.publicJwk, kid: 'rsa-renamed' }],
    ['its material (same kid)', { ...makeKey('RS256', { fresh: true }).publicJwk, kid: 'rsa' }],
    ['private members added', { ...privateJwk(rsa), kid: 'rsa' }],
    ['removed', undefined]
  ])('a key that changes %s is announced once', async (_name, republished) => {
    const h = await harness({ keys: [rsa, other] })
    let changes = 0
    h.store.onKeysChanged(() => {
      changes++
    })
    await h.store.start()
    h.issuer.setKeys(republished === undefined ? [other] : [JSON.parse(JSON.stringify(republished)) as Record<string, unknown>, other])
    await h.store.refresh('test')
    expect(h.store.ready).toBe(true)
    expect(changes).toBe(1)
    await h.store.refresh('test') // the changed set, refetched unchanged
    expect(changes).toBe(1)
  })

  it('a set refetched unchanged, reordered, or with keys added is not announced', async () => {
    const h = await harness({ keys: [rsa, other] })
    let changes = 0
    h.store.onKeysChanged(() => {
      changes++
    })
    await h.store.start()
    await h.store.refresh('test')
    h.issuer.setKeys([other, rsa])
    await h.store.refresh('test')
    h.issuer.setKeys([other, rsa, makeKey('ES256'), makeKey('EdDSA')])
    await h.store.refresh('test')
    expect(h.store.keyCount).toBe(4)
    expect(changes).toBe(0)
  })

  it('a key pushed out of the ones a token without kid is tried against is announced', async () => {
    const [a, b, c] = [makeKey('ES256'), makeKey('ES256'), makeKey('ES256')]
    const h = await harness({ keys: [a, b, c] })
    let changes = 0
    h.store.onKeysChanged(() => {
      changes++
    })
    await h.store.start()
    const kids = (): unknown[] => (h.store.select(undefined, 'ES256') as Array<{ kid: unknown }>).map((key) => key.kid)
    expect(kids()).toEqual([a.kid, b.kid, c.kid])
    h.issuer.setKeys([a, b, c, makeKey('ES256')]) // added after them: the same three are tried
    await h.store.refresh('test')
    expect(changes).toBe(0)
    const first = makeKey('ES256')
    h.issuer.setKeys([first, a, b, c])
    await h.store.refresh('test')
    expect(kids()).toEqual([first.kid, a.kid, b.kid])
    expect(changes).toBe(1)
  })
})

describe('a token without kid', () => {
  it(`is tried against ${MAX_KEYS_WITHOUT_KID} keys at most, the first of its alg in the set`, async () => {
    expect(MAX_KEYS_WITHOUT_KID).toBe(3)
    const keys = Array.from({ length: 20 }, () => makeKey('ES256'))
    const h = await harness({ keys: [makeKey('EdDSA'), ...keys] })
    await h.store.start()
    expect(h.store.keyCount).toBe(21)
    const selected = h.store.select(undefined, 'ES256') as Array<{ kid: unknown }>
    expect(selected.map((key) => key.kid)).toEqual(keys.slice(0, 3).map((key) => key.kid))
    expect(h.store.select(keys[19]?.kid, 'ES256')).toHaveLength(1) // with its kid, any key is found
  })

  it('tries the keys published without kid first: only such a token can select them', async () => {
    const withKid = Array.from({ length: 5 }, () => makeKey('ES256'))
    const { kid: _kid, ...withoutKid } = makeKey('ES256').publicJwk
    const h = await harness({ keys: withKid })
    h.issuer.setKeys([...withKid, withoutKid])
    await h.store.start()
    const selected = h.store.select(undefined, 'ES256') as Array<{ kid: unknown }>
    expect(selected.map((key) => key.kid)).toEqual([undefined, withKid[0]?.kid, withKid[1]?.kid])
  })
})

describe('close', () => {
  it('aborts a fetch in flight and stops the background timer', async () => {
    const h = await harness({ fetchTimeoutMs: 10_000 })
    await h.store.start()
    expect(h.timers.pending.size).toBe(1)
    h.issuer.setJwksFault({ hang: true })
    const started = performance.now()
    const fetching = h.store.refresh('test')
    h.store.close()
    await expect(fetching).rejects.toThrow(/aborted/)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(h.timers.pending.size).toBe(0)
    await expect(h.store.refresh('after close')).rejects.toThrow(/closed/)
  })
})
