/**
 * Hostile tokens (issue item 6), property-based: the compact JWS decoder, the strict JSON
 * parser and the header check directly, then whole tokens through the app, unsigned and signed
 * by the trusted issuer (so that claims, classification and scopes see hostile values too).
 * Never a crash, never a 5xx, a refusal in bounded time; duplicate member names are refused.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeCompactJws } from '../../src/token/compact-jws.js'
import { isAuthError } from '../../src/errors.js'
import { checkHeader } from '../../src/token/jws-header.js'
import { MAX_JSON_DEPTH, parseJsonObject, StrictJsonError } from '../../src/token/strict-json.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { b64url, signRaw } from '../helpers/jwt-sign.js'

/**
 * CPU milliseconds one direct parser call may take; one request through the app. Process CPU
 * time includes V8's GC and compiler threads, so the bounds catch runaway work, not microseconds.
 */
const DIRECT_LIMIT_MS = 250
const INJECT_LIMIT_MS = 1_000
/** Wall-clock bound against hangs, loose enough for a loaded machine. */
const WALL_LIMIT_MS = 5_000
const ALLOWED = new Set(['RS256', 'PS256', 'ES256', 'EdDSA'])

// ------------------------------------------------------------------ arbitraries

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n))
const oddString = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-composite', maxLength: 20 }),
  fc.constantFrom(
    '',
    '\u0000',
    '\uFEFF',
    '\u202E',
    'e\u0301',
    '\u00e9',
    '\uD800',
    '\uDFFF',
    '\uD83D\uDE00',
    '__proto__',
    'constructor',
    'toString',
    'null'
  )
)
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
  oddString,
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1e308,
    -1e308,
    2 ** 53 + 1,
    0.5,
    [],
    {},
    [[]],
    { toString: 1 },
    { valueOf: null, toString: null },
    { typ: 'Bearer' }
  ),
  fc.array(oddString, { maxLength: 4 })
)
const b64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''))
const b64Segment = fc.string({ unit: b64urlChar, maxLength: 200 })

/** A JSON text with `a` nested `depth` levels deep, arrays or objects. */
function nested(depth: number, kind: 'array' | 'object' | 'mixed'): string {
  let open = ''
  let close = ''
  for (let i = 0; i < depth; i++) {
    const asObject = kind === 'object' || (kind === 'mixed' && i % 2 === 0)
    open += asObject ? '{"a":' : '['
    close = (asObject ? '}' : ']') + close
  }
  return `${open}1${close}`
}

/** A member name written with some characters escaped as \uXXXX (same name, other bytes). */
function escapeSome(name: string, mask: number): string {
  let out = ''
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    out += (mask >> (i % 31)) & 1 ? `\\u${code.toString(16).padStart(4, '0')}` : JSON.stringify(name[i]).slice(1, -1)
  }
  return out
}

/** A JSON object text whose member `name` appears twice (possibly inside a nested object). */
const duplicateObject = fc
  .record({
    name: fc.oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      oddString,
      fc.constantFrom('alg', 'kid', 'typ', 'aud', 'exp', '__proto__', 'a')
    ),
    first: fc.jsonValue({ maxDepth: 2 }),
    second: fc.jsonValue({ maxDepth: 2 }),
    others: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
    mask: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    depth: fc.integer({ min: 0, max: 4 })
  })
  .map(({ name, first, second, others, mask, depth }) => {
    const rest = Object.entries(others)
      .filter(([k]) => k !== name)
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
    let text = `{${[...rest, `"${escapeSome(name, mask)}":${JSON.stringify(first)}`, `${JSON.stringify(name)}:${JSON.stringify(second)}`].join(',')}}`
    for (let i = 0; i < depth; i++) text = i % 2 === 0 ? `{"n${i}":${text}}` : `{"l${i}":[1,${text}]}`
    return { name, text }
  })

// ------------------------------------------------------------------ helpers

/**
 * Runs fn and measures it. Bounds are asserted on the CPU time this process spent (immune to
 * other processes loading the machine); wall time only has a loose bound, against hangs.
 */
function timed(fn: () => unknown): { error?: unknown; ms: number; wallMs: number } {
  const cpu = process.cpuUsage()
  const start = performance.now()
  let error: unknown
  try {
    fn()
  } catch (caught) {
    error = caught ?? new Error('threw a nullish value')
  }
  const used = process.cpuUsage(cpu)
  return { error, ms: (used.user + used.system) / 1000, wallMs: performance.now() - start }
}

/** Either no error or an AuthError answering 401; in bounded time. */
function expectParsedOr401(fn: () => unknown): unknown {
  const outcome = timed(fn)
  expect(outcome.ms).toBeLessThan(DIRECT_LIMIT_MS)
  expect(outcome.wallMs).toBeLessThan(WALL_LIMIT_MS)
  if (outcome.error !== undefined) {
    expect(isAuthError(outcome.error), String(outcome.error)).toBe(true)
    if (isAuthError(outcome.error)) expect(outcome.error.status).toBe(401)
  }
  return outcome.error
}

const token = (header: string, payload: string, signature = 'c2ln'): string => `${b64url(header)}.${b64url(payload)}.${signature}`

// ------------------------------------------------------------------ direct

describe('decodeCompactJws, directly', () => {
  it('decodes or refuses (401) any string, quickly', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: codeUnit, maxLength: 300 }),
          fc.array(b64Segment, { minLength: 1, maxLength: 5 }).map((parts) => `ey${parts.join('.')}`),
          fc.tuple(b64Segment, b64Segment, b64Segment).map((parts) => parts.join('.'))
        ),
        (input) => {
          expectParsedOr401(() => decodeCompactJws(input))
        }
      ),
      { numRuns: 500 }
    )
  })

  it('decodes or refuses segments of random bytes (invalid UTF-8, overlong forms, BOMs, NULs)', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom(
        Uint8Array.from([0xc0, 0xaf]),
        Uint8Array.from([0xed, 0xa0, 0x80]),
        Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d]),
        Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xc3, 0x28, 0x7d]),
        Buffer.from('{"a":"\u0000"}'),
        Buffer.from('{"a":1}\u0000')
      )
    )
    fc.assert(
      fc.property(bytes, bytes, fc.uint8Array({ maxLength: 300 }), (h, p, s) => {
        const input = `${Buffer.from(h).toString('base64url')}.${Buffer.from(p).toString('base64url')}.${Buffer.from(s).toString('base64url')}`
        expectParsedOr401(() => decodeCompactJws(input))
      }),
      { numRuns: 400 }
    )
  })

  it('decodes or refuses JSON segments of every type, odd unicode and deep nesting', () => {
    const json = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }).map((v) => JSON.stringify(v)),
      fc.jsonValue({ maxDepth: 3, stringUnit: codeUnit }).map((v) => JSON.stringify(v)),
      fc
        .tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>)
        .map(([d, k]) => `{"x":${nested(d, k)}}`),
      fc.string({ unit: codeUnit, maxLength: 100 })
    )
    fc.assert(
      fc.property(json, json, (h, p) => {
        expectParsedOr401(() => decodeCompactJws(token(h, p)))
      }),
      { numRuns: 400 }
    )
  })

  it('refuses a header or payload with a duplicate member name, escaped or not, at any depth', () => {
    fc.assert(
      fc.property(duplicateObject, fc.boolean(), ({ text }, inHeader) => {
        const input = inHeader ? token(text, '{"iss":"x"}') : token('{"alg":"RS256"}', text)
        const error = expectParsedOr401(() => decodeCompactJws(input))
        expect(isAuthError(error) ? error.code : error).toBe('ERR_TOKEN_MALFORMED')
      }),
      { numRuns: 400 }
    )
  })

  it('refuses "a" and "\\u0061" as the same name', () => {
    for (const text of [
      '{"a":1,"\\u0061":2}',
      '{"\\u0061":1,"a":2}',
      '{"alg":"RS256","al\\u0067":"none"}',
      '{"x":{"b":1,"\\u0062":1}}',
      '{"x":[{"k":1},{"k":1,"\\u006b":2}]}',
      '{"__proto__":1,"__proto\\u005f_":2}'
    ]) {
      expect(() => parseJsonObject(Buffer.from(text)), text).toThrow(StrictJsonError)
    }
    // the same name in sibling objects is fine
    expect(parseJsonObject(Buffer.from('{"x":[{"k":1},{"k":2}],"k":3}'))).toEqual({ x: [{ k: 1 }, { k: 2 }], k: 3 })
  })
})

describe('parseJsonObject, directly', () => {
  it('reads every duplicate-free object exactly as JSON.parse does (no false refusals)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary', maxLength: 10 }), fc.jsonValue({ maxDepth: MAX_JSON_DEPTH - 2, stringUnit: codeUnit }), {
          maxKeys: 8
        }),
        (object) => {
          const text = JSON.stringify(object)
          expect(parseJsonObject(Buffer.from(text, 'utf8'))).toEqual(JSON.parse(text))
        }
      ),
      { numRuns: 300 }
    )
  })

  it('refuses every duplicate member, escaped or not, at any depth, and names it', () => {
    fc.assert(
      fc.property(duplicateObject, ({ name, text }) => {
        expect(() => parseJsonObject(Buffer.from(text, 'utf8'))).toThrow(new StrictJsonError(`duplicate member "${name.slice(0, 40)}"`))
      }),
      { numRuns: 300 }
    )
  })

  it('counts names per object: the same name in different objects, __proto__ and numeric names are no duplicates', () => {
    for (const text of [
      '{"a":{"a":1},"b":[{"a":2},{"a":3}]}',
      '{"__proto__":1,"a":{"__proto__":{"__proto__":2}}}',
      '{"1":{"x":1},"b":{"x":2},"0":[{"x":3}]}',
      '{"constructor":1,"toString":2,"hasOwnProperty":3}'
    ]) {
      expect(parseJsonObject(Buffer.from(text)), text).toEqual(JSON.parse(text))
    }
    for (const text of ['{"__proto__":1,"__proto__":2}', '{"1":1,"01":2,"1":3}', '{"a":[{"x":1,"\\u0078":2}]}', '{"a":1,"b":{},"a":{}}']) {
      expect(() => parseJsonObject(Buffer.from(text)), text).toThrow(/^duplicate member/)
    }
  })

  it('refuses nesting deeper than MAX_JSON_DEPTH, and in bounded time however deep', () => {
    expect(() => parseJsonObject(Buffer.from(`{"x":${nested(MAX_JSON_DEPTH - 1, 'array')}}`))).not.toThrow()
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_JSON_DEPTH, max: 200_000 }),
        fc.constantFrom('array', 'object', 'mixed') as fc.Arbitrary<'array' | 'object' | 'mixed'>,
        (depth, kind) => {
          const bytes = Buffer.from(`{"x":${nested(depth, kind)}}`) // up to 1.4 MB
          const outcome = timed(() => parseJsonObject(bytes))
          expect(outcome.error).toBeInstanceOf(StrictJsonError)
          expect(outcome.ms).toBeLessThan(DIRECT_LIMIT_MS)
        }
      ),
      { numRuns: 40 }
    )
  })

  it('handles huge flat objects and long strings in bounded time', () => {
    const wide = `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`
    const long = `{"s":"${'\\u0061'.repeat(100_000)}"}`
    const manyEscapedKeys = `{${Array.from({ length: 5_000 }, (_, i) => `"\\u0061${i}":1`).join(',')}}`
    for (const text of [wide, long, manyEscapedKeys]) {
      const outcome = timed(() => parseJsonObject(Buffer.from(text))) // 100 to 250 kB each
      expect(outcome.error).toBeUndefined()
      expect(outcome.ms).toBeLessThan(DIRECT_LIMIT_MS * 2)
    }
    expect(() => parseJsonObject(Buffer.from(`${wide.slice(0, -1)},"k7":1}`))).toThrow(StrictJsonError)
  })

  it('refuses anything but one object: arrays, scalars, trailing data', () => {
    for (const text of ['[]', '1', '"x"', 'null', 'true', '{}{}', '{"a":1}x', '{"a":1,}', "{'a':1}", '{"a":01}', '', ' ']) {
      expect(() => parseJsonObject(Buffer.from(text)), text).toThrow(StrictJsonError)
    }
  })
})

describe('checkHeader, directly', () => {
  it('returns an allowed alg and string kid/typ, or refuses with 401, for any member types', () => {
    const member = fc.option(hostileValue, { nil: undefined })
    fc.assert(
      fc.property(
        fc.record(
          {
            alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'none', 'HS256', 'rs256', 'RS256 '), hostileValue),
            kid: member,
            typ: member,
            crit: fc.option(hostileValue, { nil: undefined }),
            b64: fc.option(hostileValue, { nil: undefined })
          },
          { requiredKeys: [] }
        ),
        (header) => {
          let checked: ReturnType<typeof checkHeader> | undefined
          expectParsedOr401(() => {
            checked = checkHeader(header, ALLOWED)
          })
          if (checked !== undefined) {
            expect(ALLOWED.has(checked.alg)).toBe(true)
            expect(checked.kid === undefined || typeof checked.kid === 'string').toBe(true)
            expect(checked.typ === undefined || typeof checked.typ === 'string').toBe(true)
            expect(header.crit).toBeUndefined()
          }
        }
      ),
      { numRuns: 400 }
    )
  })
})

// ------------------------------------------------------------------ through the app

describe('tokens through the app', () => {
  const presets = ['generic', 'auth0', 'okta', 'entra', 'keycloak', 'cognito'] as const
  const apis = new Map<string, TestApi>()
  const api = (name: string): TestApi => apis.get(name) as TestApi

  beforeAll(async () => {
    await Promise.all(
      presets.map(async (preset) => {
        apis.set(
          preset,
          await startTestApi({
            algs: ['ES256'],
            env: { AUTH_PROVIDER: preset, ...(preset === 'cognito' ? { AUTH_CLIENT_IDS: 'test-client' } : {}) }
          })
        )
      })
    )
  })
  afterAll(async () => {
    await Promise.all([...apis.values()].map((each) => each.close()))
  })

  async function send(t: TestApi, value: string): Promise<{ status: number; code: unknown }> {
    const cpu = process.cpuUsage()
    const start = performance.now()
    const res = await t.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${value}` } })
    const used = process.cpuUsage(cpu)
    expect((used.user + used.system) / 1000).toBeLessThan(INJECT_LIMIT_MS)
    expect(performance.now() - start).toBeLessThan(WALL_LIMIT_MS)
    expect(res.statusCode, res.body).toBeLessThan(500)
    expect(res.headers['content-type']).toMatch(/^application\/(problem\+)?json/)
    return { status: res.statusCode, code: res.json<{ code?: unknown }>().code }
  }

  it('refuses (400/401) random and malformed tokens, never a 5xx', async () => {
    const t = api('generic')
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: b64urlChar, minLength: 1, maxLength: 400 }),
          fc.array(b64Segment, { minLength: 2, maxLength: 5 }).map((parts) => `ey${parts.join('.')}`),
          fc
            .tuple(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), b64Segment)
            .map(([h, p, s]) => token(JSON.stringify(h), JSON.stringify(p), s)),
          fc.integer({ min: 1, max: 2500 }).map((d) => token('{"alg":"ES256"}', `{"x":${nested(d, 'mixed')}}`)),
          fc.integer({ min: 1, max: 2500 }).map((d) => token(`{"alg":"ES256","x":${nested(d, 'object')}}`, '{}')),
          fc.integer({ min: 12_000, max: 40_000 }).map((n) => token('{"alg":"ES256"}', `{"s":"${'x'.repeat(n)}"}`)),
          duplicateObject.map(({ text }) => token(text, '{}')),
          fc
            .record({ alg: hostileValue, kid: hostileValue, typ: hostileValue }, { requiredKeys: [] })
            .map((h) => token(JSON.stringify(h), '{"iss":"x"}'))
        ),
        async (value) => {
          const { status } = await send(t, value)
          expect([400, 401]).toContain(status)
        }
      ),
      { numRuns: 150 }
    )
  })

  it('refuses issuer-signed tokens whose header members have the wrong type (kid array, alg object, typ number...)', async () => {
    const t = api('generic')
    const headerMember = fc.constantFrom('kid', 'typ', 'alg', 'crit', 'b64')
    await fc.assert(
      fc.asyncProperty(headerMember, hostileValue, async (name, value) => {
        const header = { alg: t.key.alg, typ: 'at+jwt', kid: t.key.kid, [name]: value }
        const { status } = await send(t, signRaw(t.key, JSON.stringify(header), JSON.stringify(t.claims())))
        // a string typ may still name an access token ("JWT" under auto): 200 is right then
        if (name === 'typ' && typeof value === 'string') expect([200, 401]).toContain(status)
        else expect(status).toBe(401)
      }),
      { numRuns: 120 }
    )
  })

  it('refuses issuer-signed tokens whose standard claims have the wrong type (exp string, aud number...)', async () => {
    const t = api('generic')
    const claim = fc.constantFrom('iss', 'aud', 'exp', 'nbf', 'iat', 'sub', 'client_id', 'jti', 'scope', 'azp')
    const wrong = hostileValue.filter(
      (v) => typeof v !== 'string' && typeof v !== 'number' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))
    )
    await fc.assert(
      fc.asyncProperty(claim, wrong, async (name, value) => {
        const { status, code } = await send(t, t.token({ [name]: value }))
        expect(status, String(code)).toBe(401)
      }),
      { numRuns: 120 }
    )
    for (const [name, value] of [
      ['exp', String(t.now() + 300)],
      ['aud', 42],
      ['iat', '0'],
      ['nbf', [0]],
      ['iss', [t.issuer.url]],
      ['sub', 7]
    ] as const) {
      expect((await send(t, t.token({ [name]: value }))).status, `${name} = ${JSON.stringify(value)}`).toBe(401)
    }
    // numbers JSON can write but a double cannot hold: exp 1e400 reads as Infinity
    const header = JSON.stringify({ alg: t.key.alg, typ: 'at+jwt', kid: t.key.kid })
    for (const exp of ['1e400', '-1e400', '1E+999']) {
      const payload = JSON.stringify(t.claims({ exp: 0 })).replace('"exp":0', `"exp":${exp}`)
      expect((await send(t, signRaw(t.key, header, payload))).status, `exp ${exp}`).toBe(401)
    }
  })

  it('never crashes on hostile values in the claims that classification and scopes read, under every preset', async () => {
    const claim = fc.constantFrom(
      'typ',
      'token_use',
      'nonce',
      'at_hash',
      'cnf',
      'scope',
      'scp',
      'permissions',
      'roles',
      'realm_access',
      'resource_access',
      'cid',
      'appid',
      'azp',
      'client_id',
      '__proto__',
      'constructor'
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...presets),
        fc.dictionary(claim, hostileValue, { maxKeys: 4 }),
        fc.constantFrom('at+jwt', 'JWT', undefined, 'AT+JWT', 'dpop+jwt', '__proto__', 'constructor'),
        async (preset, extra, typ) => {
          const t = api(preset)
          const claims: Record<string, unknown> = { ...t.claims(), ...extra }
          const payload = JSON.stringify(claims)
          const header = JSON.stringify({ alg: t.key.alg, kid: t.key.kid, ...(typ === undefined ? {} : { typ }) })
          const { status, code } = await send(t, signRaw(t.key, header, payload))
          expect([200, 401], String(code)).toContain(status)
          for (const idOnly of ['at_hash', 'nonce', 'cnf']) {
            const marked = typ === 'at+jwt' || typ === 'AT+JWT' || claims.typ === 'Bearer' || claims.token_use === 'access'
            if (idOnly in extra && (idOnly !== 'nonce' || !marked)) expect(status, `${idOnly} ${String(code)}`).toBe(401)
          }
        }
      ),
      { numRuns: 150 }
    )
  })

  it('refuses __proto__ and constructor tricks in signed tokens', async () => {
    const t = api('keycloak')
    const base = JSON.stringify(t.claims()).slice(1, -1)
    const header = JSON.stringify({ alg: t.key.alg, kid: t.key.kid, typ: 'JWT' })
    // a __proto__ member is an own member after JSON.parse: it must not supply typ: Bearer
    expect((await send(t, signRaw(t.key, header, `{${base},"__proto__":{"typ":"Bearer"}}`))).status).toBe(401)
    // nor duplicate what it hides
    expect((await send(t, signRaw(t.key, header, `{${base},"typ":"Bearer","__proto__":1,"__proto__":2}`))).status).toBe(401)
    // resource_access naming Object.prototype members grants nothing
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: {
        authorization: `Bearer ${signRaw(t.key, header, `{${base.replace(/"scope":"[^"]*"/, '"scope":"openid"')},"typ":"Bearer","resource_access":{"constructor":{"roles":["write:messages"]},"__proto__":{"roles":["write:messages"]}}}`)}`
      },
      payload: { text: 'x' }
    })
    expect(res.statusCode).toBe(403)
  })
})
