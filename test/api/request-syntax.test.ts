/**
 * RFC 6750 request syntax and the contract's error table: which status, which challenge,
 * which problem body, for every way a request can carry (or fail to carry) a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

// PUBLIC_URL defaults to the audience (https://api.example.test), never the request's Host
// with DPoP accepted (AUTH_DPOP=allowed, the default), its challenge follows Bearer's (RFC 9449 §7.1)
const DPOP_CHALLENGE =
  ', DPoP algs="ES256 EdDSA RS256 PS256", resource_metadata="https://api.example.test/.well-known/oauth-protected-resource"'
const CHALLENGE_NO_ERROR = new RegExp(
  `^Bearer realm="[^"]+", resource_metadata="https://api\\.example\\.test/\\.well-known/oauth-protected-resource"${DPOP_CHALLENGE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`
)

describe('request syntax and errors', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi()
  })
  afterAll(async () => {
    await api.close()
  })

  const get = (headers: Record<string, string | string[]>, url = '/api/me') => api.app.inject({ url, headers })

  it('no credentials → 401 with a challenge but no error code', async () => {
    const res = await get({})
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toMatch(CHALLENGE_NO_ERROR)
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(res.json()).toEqual({
      type: expect.any(String),
      title: expect.any(String),
      status: 401,
      detail: expect.stringContaining('Bearer'),
      code: 'ERR_NO_CREDENTIALS'
    })
  })

  it.each(['Basic dXNlcjpwYXNz', 'Digest username="a"', 'Token abc'])('another scheme (%s) → 401 without error', async (value) => {
    const res = await get({ authorization: value })
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toMatch(CHALLENGE_NO_ERROR)
  })

  it.each(['bearer', 'BEARER', 'BeArEr'])('the scheme name is case-insensitive (%s)', async (scheme) => {
    expect((await get({ authorization: `${scheme} ${api.token()}` })).statusCode).toBe(200)
  })

  it.each(['Bearer', 'Bearer ', 'Bearer    '])('scheme but no token (%j) → 400 invalid_request', async (value) => {
    const res = await get({ authorization: value })
    expect(res.statusCode).toBe(400)
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="[^"]+", error="invalid_request", error_description="[^"]+", resource_metadata="[^"]+", DPoP algs="[^"]+", resource_metadata="[^"]+"$/
    )
    expect(res.json().status).toBe(400)
  })

  it('two Authorization headers → 400 invalid_request', async () => {
    const res = await api.app.inject({
      url: '/api/me',
      headers: { authorization: [`Bearer ${api.token()}`, `Bearer ${api.token()}`] } as unknown as Record<string, string>
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('ERR_MULTIPLE_CREDENTIALS')
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"')
  })

  it('two tokens in one header → 400 invalid_request', async () => {
    const res = await get({ authorization: `Bearer ${api.token()} ${api.token()}` })
    expect(res.statusCode).toBe(400)
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"')
  })

  it('token in the query → 400 invalid_request, even when valid', async () => {
    const res = await get({}, `/api/me?access_token=${api.token()}`)
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('ERR_TOKEN_IN_QUERY')
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"')
  })

  it('token in the query and the header → 400', async () => {
    const res = await get({ authorization: `Bearer ${api.token()}` }, `/api/me?x=1&access_token=${api.token()}`)
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('ERR_MULTIPLE_CREDENTIALS')
  })

  it('token in a form body → 400 invalid_request', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `access_token=${api.token()}&text=hi`
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('ERR_TOKEN_IN_BODY')
    expect(res.headers['www-authenticate']).toContain('error="invalid_request"')
  })

  it('a form body without a token and no header → 401', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'text=hi'
    })
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('ERR_NO_CREDENTIALS')
  })

  it('token in a form body and the header → 400', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${api.token()}` },
      payload: `access_token=${api.token()}`
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('ERR_MULTIPLE_CREDENTIALS')
  })

  it('authenticates before parsing: a bad body without a token gets 401, not 400', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { 'content-type': 'application/json' },
      payload: '{not json'
    })
    expect(res.statusCode).toBe(401)
    const invalid = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { 'content-type': 'application/json', authorization: 'Bearer nope' },
      payload: '{"text": 42}'
    })
    expect(invalid.statusCode).toBe(401)
  })

  it('missing scope → 403 insufficient_scope naming the required scope', async () => {
    const token = api.token({ scope: 'read:messages' })
    const res = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${token}` },
      payload: { text: 'x' }
    })
    expect(res.statusCode).toBe(403)
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer realm="[^"]+", error="insufficient_scope", error_description="[^"]+", scope="write:messages", resource_metadata="[^"]+", DPoP algs="[^"]+", resource_metadata="[^"]+"$/
    )
    expect(res.json()).toMatchObject({ status: 403, code: 'ERR_INSUFFICIENT_SCOPE' })
  })

  it.each([
    ['scp as an array (Okta)', { scope: undefined, scp: ['read:messages'] }, 200],
    ['scp as a string (Entra)', { scope: undefined, scp: 'openid read:messages' }, 200],
    ['scope matched exactly, not by prefix', { scope: 'read:messages:all' }, 403],
    ['scope matched exactly, case-sensitive', { scope: 'READ:MESSAGES' }, 403],
    ['no scope at all', { scope: undefined }, 403]
  ])('scopes: %s', async (_name, claims, status) => {
    const res = await get({ authorization: `Bearer ${api.token(claims)}` }, '/api/messages')
    expect(res.statusCode).toBe(status)
  })

  it('an unknown route gets a problem 404, with or without a token', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }] as Array<Record<string, string>>) {
      const res = await get(headers, '/api/nothing-here')
      expect(res.statusCode).toBe(404)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ type: 'about:blank', title: 'Not Found', status: 404, code: 'ERR_ROUTE_NOT_FOUND' })
    }
  })

  it('error_description carries no quote or backslash', async () => {
    const res = await get({ authorization: 'Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IlwiXFwifQ.e30.c2ln' })
    expect(res.statusCode).toBe(401)
    const description = /error_description="([^"]*)"/.exec(res.headers['www-authenticate'] as string)?.[1]
    expect(description).toBeDefined()
    expect(description).not.toMatch(/["\\]/)
  })
})
