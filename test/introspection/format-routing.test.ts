// Issue 9, item 1: a compact JWS goes to local verification, anything else is opaque.
// With AUTH_TOKEN_FORMATS=jwt (default) an opaque token gets 401 invalid_token that explains
// itself; a JWT-shaped token (valid, invalid or malformed) never reaches introspection.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeKey } from '../helpers/keys.js'
import { INTROSPECTION_CREDENTIALS, opaque } from '../helpers/introspection.js'
import { AUDIENCE, me, startTestApi, type TestApi } from '../helpers/test-api.js'

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** Strings that are not a compact JWS: what providers hand out as opaque access tokens, and a few odd ones. */
const OPAQUE_SHAPES = [
  opaque(),
  randomBytes(16).toString('hex'),
  'a8f3c2d1-6b7e-4f0a-9c1d-2e3f4a5b6c7d',
  'gho_16C7e42F292c6912E7710c838347Ae178B4a', // a GitHub-style token
  'v2.local.ZGVhZGJlZWY', // two dots but not starting with "ey"
  'abc.def.ghi', // three parts, no JWS header
  'eyJhbGciOiJSUzI1NiJ9', // one segment that merely starts like a header
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0', // two segments (a JWS has three)
  'eyJ.eyJ.eyJ.eyJ' // four segments (a JWE has five, neither is a JWS)
]

describe('AUTH_TOKEN_FORMATS=jwt (default): an opaque token is refused with an explanation', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi()
    // were anything sent to introspection, it would be accepted: the refusal must come first
    api.issuer.onIntrospect = () => ({ body: { active: true, aud: AUDIENCE, exp: api.now() + 300, sub: 'x' } })
  })
  afterAll(async () => {
    await api.close()
  })

  it.each(OPAQUE_SHAPES)('refuses %s with 401 invalid_token saying it is not a JWT and to request an audience', async (token) => {
    const res = await me(api, token)
    expect(res.statusCode).toBe(401)
    const challenge = res.headers['www-authenticate'] as string
    expect(challenge).toMatch(/^Bearer /)
    expect(challenge).toContain('error="invalid_token"')
    const description = /error_description="([^"]*)"/.exec(challenge)?.[1] ?? ''
    expect(description).toMatch(/not a JWT/i)
    expect(description).toMatch(/audience/i)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    const body = res.json<Record<string, unknown>>()
    expect(body).toMatchObject({ status: 401 })
    expect(body.detail).toMatch(/not a JWT/i)
    expect(body.detail).toMatch(/audience/i)
    expect(res.body).not.toContain(token)
    expect(api.issuer.hits.introspection).toBe(0)
  })

  it('needs no introspection credentials', async () => {
    const res = await me(api, api.token())
    expect(res.statusCode).toBe(200)
  })
})

describe('AUTH_TOKEN_FORMATS=jwt,opaque: JWTs are never sent to introspection', () => {
  let api: TestApi
  const stranger = makeKey('RS256')

  beforeAll(async () => {
    api = await startTestApi({ env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS } })
    // an introspection endpoint that would accept anything: a JWT refused here was verified locally
    api.issuer.onIntrospect = () => ({
      body: { active: true, iss: api.issuer.url, aud: AUDIENCE, exp: api.now() + 300, sub: 'introspected', scope: 'read:messages' }
    })
  })
  afterAll(async () => {
    await api.close()
  })

  it('verifies a valid JWT locally', async () => {
    const res = await me(api, api.token({ sub: 'jwt-user' }))
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'jwt-user' })
    expect(api.issuer.hits.introspection).toBe(0)
  })

  const invalid: Array<[string, (api: TestApi) => string]> = [
    ['signed by an unknown key', (a) => a.token({}, {}, stranger)],
    [
      'with a tampered payload',
      (a) => {
        const [h, , s] = a.token().split('.')
        return `${h}.${b64(a.claims({ sub: 'admin' }))}.${s}`
      }
    ],
    ['with a truncated signature', (a) => a.token().slice(0, -10)],
    ['expired', (a) => a.token({ exp: a.now() - 3600, iat: a.now() - 7200 })],
    ['for another audience', (a) => a.token({ aud: 'https://other.example.test' })],
    ['from another issuer', (a) => a.token({ iss: 'https://evil.example.test' })],
    ['without exp', (a) => a.token({ exp: undefined })],
    ['with alg none', (a) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(a.claims())}.`],
    ['with alg none and a fake signature', (a) => `${b64({ alg: 'none' })}.${b64(a.claims())}.${b64('sig')}`],
    ['an ID token', (a) => a.token({ nonce: 'n-0S6_WzA2Mj', at_hash: 'x' })]
  ]
  it.each(invalid)('refuses a JWT %s without asking the introspection endpoint', async (_name, make) => {
    const res = await me(api, make(api))
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
    expect(api.issuer.hits.introspection).toBe(0)
  })

  const malformed = [
    'eyJ.eyJ.eyJ',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.',
    'eyJhbGciOiJSUzI1NiJ9..c2ln',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
    'eyJub3QganNvbg.eyJzdWIiOiJ4In0.c2ln',
    'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln',
    `ey${randomBytes(30).toString('base64url')}.${randomBytes(30).toString('base64url')}.${randomBytes(30).toString('base64url')}`,
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0=.c2ln',
    'ey~~.ey~~.ey~~'
  ]
  it.each(malformed)('refuses the malformed JWT %s without asking the introspection endpoint', async (token) => {
    const res = await me(api, token)
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
    expect(api.issuer.hits.introspection).toBe(0)
  })

  it('does introspect an opaque token (the spy works)', async () => {
    const before = api.issuer.hits.introspection
    const res = await me(api, opaque())
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'introspected' })
    expect(api.issuer.hits.introspection).toBe(before + 1)
  })
})

describe('AUTH_TOKEN_FORMATS=opaque: JWT-shaped tokens are still never sent to introspection', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ env: { AUTH_TOKEN_FORMATS: 'opaque', ...INTROSPECTION_CREDENTIALS } })
    api.issuer.onIntrospect = () => ({
      body: { active: true, iss: api.issuer.url, aud: AUDIENCE, exp: api.now() + 300, sub: 'introspected' }
    })
  })
  afterAll(async () => {
    await api.close()
  })

  it.each([
    ['a malformed JWT', (): string => 'eyJ.eyJ.eyJ'],
    ['an expired JWT', (): string => api.token({ exp: api.now() - 3600 })],
    ['a JWT signed by an unknown key', (): string => api.token({}, {}, makeKey('RS256'))]
  ])('refuses %s with 401 and no introspection', async (_name, make) => {
    const res = await me(api, make())
    expect(res.statusCode).toBe(401)
    expect(api.issuer.hits.introspection).toBe(0)
  })

  it('never introspects a valid JWT either', async () => {
    await me(api, api.token())
    expect(api.issuer.hits.introspection).toBe(0)
  })

  it('refuses a valid JWT with 401 invalid_token when only opaque tokens are accepted', async () => {
    const res = await me(api, api.token())
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"')
    expect(res.json().code).toBe('ERR_JWT_NOT_ACCEPTED')
    expect(api.issuer.hits.introspection).toBe(0)
  })

  it('introspects an opaque token', async () => {
    const res = await me(api, opaque())
    expect(res.statusCode).toBe(200)
    expect(api.issuer.hits.introspection).toBe(1)
  })
})
