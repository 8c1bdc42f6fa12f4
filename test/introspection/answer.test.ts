// Issue 9, item 3: which introspection answers make an opaque token acceptable: active true,
// exp (when present) in the future with the clock tolerance, iss (when present) the issuer,
// aud naming this API, no cnf with the Bearer scheme, scopes from `scope`, and the same
// request identity as for a JWT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { activeAnswer, INTROSPECTION_CREDENTIALS, opaque } from '../helpers/introspection.js'
import { AUDIENCE, startTestApi, type TestApi } from '../helpers/test-api.js'

type Inject = Awaited<ReturnType<TestApi['app']['inject']>>

/** Opaque tokens whose introspection answers the test chooses, one fresh token per answer. */
function answers(api: TestApi): (answer: Record<string, unknown>) => string {
  const table = new Map<string, Record<string, unknown>>()
  api.issuer.onIntrospect = (req) => ({ body: table.get(req.token) ?? { active: false } })
  return (answer) => {
    const token = opaque()
    table.set(token, answer)
    return token
  }
}

function get(api: TestApi, url: string, token: string): Promise<Inject> {
  return api.app.inject({ url, headers: { authorization: `Bearer ${token}` } })
}

function expectInvalidToken(res: Inject, token: string): void {
  expect(res.statusCode).toBe(401)
  expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/)
  expect(res.headers['www-authenticate']).toMatch(/error_description="[^"]+"/)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({ status: 401 })
  expect(res.body).not.toContain(token)
  expect(res.headers['www-authenticate']).not.toContain(token)
}

describe('validation of the introspection answer', () => {
  let api: TestApi
  let tokenFor: (answer: Record<string, unknown>) => string

  beforeAll(async () => {
    api = await startTestApi({ env: { AUTH_TOKEN_FORMATS: 'jwt,opaque', ...INTROSPECTION_CREDENTIALS } })
    tokenFor = answers(api)
  })
  afterAll(async () => {
    await api.close()
  })

  const refused: Array<[string, (api: TestApi) => Record<string, unknown>]> = [
    ['active false', () => ({ active: false })],
    ['active false with every other member', (a) => activeAnswer(a.claims(), { active: false })],
    ['active missing', (a) => activeAnswer(a.claims(), { active: undefined })],
    ['active "true" (a string)', (a) => activeAnswer(a.claims(), { active: 'true' })],
    ['active 1', (a) => activeAnswer(a.claims(), { active: 1 })],
    ['exp past beyond the tolerance', (a) => activeAnswer(a.claims(), { exp: a.now() - 6 })],
    ['exp long past', (a) => activeAnswer(a.claims(), { exp: a.now() - 3600 })],
    ['exp not a number', (a) => activeAnswer(a.claims(), { exp: String(a.now() + 300) })],
    ['nbf in the future beyond the tolerance', (a) => activeAnswer(a.claims(), { nbf: a.now() + 60 })],
    ['iss of another issuer', (a) => activeAnswer(a.claims(), { iss: 'https://evil.example.test' })],
    ['iss with a trailing slash added', (a) => activeAnswer(a.claims(), { iss: `${a.issuer.url}/` })],
    ['iss null', (a) => activeAnswer(a.claims(), { iss: null })],
    ['aud missing', (a) => activeAnswer(a.claims(), { aud: undefined })],
    ['aud of another API', (a) => activeAnswer(a.claims(), { aud: 'https://other.example.test' })],
    [
      'aud an array without this API',
      (a) => activeAnswer(a.claims(), { aud: ['https://other.example.test', 'https://third.example.test'] })
    ],
    ['aud an empty array', (a) => activeAnswer(a.claims(), { aud: [] })],
    ['aud a prefix of this API', (a) => activeAnswer(a.claims(), { aud: AUDIENCE.slice(0, -1) })],
    [
      'cnf with a DPoP key thumbprint',
      (a) => activeAnswer(a.claims(), { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' }, token_type: 'DPoP' })
    ],
    [
      'cnf with a certificate thumbprint',
      (a) => activeAnswer(a.claims(), { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } })
    ],
    ['token_type DPoP (sender-constrained) without cnf', (a) => activeAnswer(a.claims(), { token_type: 'DPoP' })],
    ['nbf not a number', (a) => activeAnswer(a.claims(), { nbf: 'yesterday' })],
    ['token_type refresh_token', (a) => activeAnswer(a.claims(), { token_type: 'refresh_token' })],
    ['token_type id_token', (a) => activeAnswer(a.claims(), { token_type: 'id_token' })]
  ]
  it.each(refused)('refuses an answer with %s: 401 invalid_token', async (_name, answer) => {
    const token = tokenFor(answer(api))
    const res = await get(api, '/api/me', token)
    expectInvalidToken(res, token)
  })

  it('explains a cnf-bound token sent as Bearer', async () => {
    const res = await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), { cnf: { jkt: 'abc' } })))
    expect(res.headers['www-authenticate']).toMatch(/error_description="[^"]*bound to a key/i)
  })

  it('explains an inactive token', async () => {
    const res = await get(api, '/api/me', tokenFor({ active: false }))
    expect(res.headers['www-authenticate']).toMatch(/error_description="[^"]*not active/i)
  })

  const accepted: Array<[string, (api: TestApi) => Record<string, unknown>]> = [
    ['every member', (a) => activeAnswer(a.claims())],
    ['exp past but within the clock tolerance', (a) => activeAnswer(a.claims(), { exp: a.now() - 2 })],
    ['no exp', (a) => activeAnswer(a.claims(), { exp: undefined })],
    ['no iss', (a) => activeAnswer(a.claims(), { iss: undefined })],
    ['aud an array containing this API', (a) => activeAnswer(a.claims(), { aud: ['https://other.example.test', AUDIENCE] })],
    ['nbf in the past', (a) => activeAnswer(a.claims(), { nbf: a.now() - 60 })],
    ['nbf slightly ahead, within the tolerance', (a) => activeAnswer(a.claims(), { nbf: a.now() + 2 })],
    ['token_type bearer in lower case', (a) => activeAnswer(a.claims(), { token_type: 'bearer' })],
    ['no token_type', (a) => activeAnswer(a.claims(), { token_type: undefined })],
    ['no cnf', (a) => activeAnswer(a.claims(), { cnf: undefined })],
    ['unknown extra members', (a) => activeAnswer(a.claims(), { ext: { tenant: 't1' }, username: 'alice' })]
  ]
  it.each(accepted)('accepts an answer with %s', async (_name, answer) => {
    const res = await get(api, '/api/me', tokenFor(answer(api)))
    expect(res.statusCode).toBe(200)
  })

  it('takes the scopes from scope: 200 with the scope, 403 insufficient_scope without', async () => {
    const reader = tokenFor(activeAnswer(api.claims(), { scope: 'read:messages' }))
    expect((await get(api, '/api/messages', reader)).statusCode).toBe(200)
    const write = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${reader}` },
      payload: { text: 'hi' }
    })
    expect(write.statusCode).toBe(403)
    expect(write.headers['www-authenticate']).toContain('error="insufficient_scope"')
    expect(write.headers['www-authenticate']).toContain('scope="write:messages"')

    const writer = tokenFor(activeAnswer(api.claims(), { scope: 'write:messages' }))
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${writer}` },
      payload: { text: 'hi' }
    })
    expect(created.statusCode).toBe(201)
    expect((await get(api, '/api/messages', writer)).statusCode).toBe(403)

    const none = tokenFor(activeAnswer(api.claims(), { scope: undefined }))
    expect((await get(api, '/api/messages', none)).statusCode).toBe(403)
    const meNone = await get(api, '/api/me', none)
    expect(meNone.statusCode).toBe(200)
    expect(meNone.json()).toMatchObject({ scopes: [] })
  })

  it('reads scope as a space-separated string, exactly (no prefix or case folding)', async () => {
    const res = await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), { scope: '  read:messages   profile read:messages ' })))
    expect(res.json()).toMatchObject({ scopes: ['read:messages', 'profile'] })
    const upper = tokenFor(activeAnswer(api.claims(), { scope: 'READ:MESSAGES read:messages:all' }))
    expect((await get(api, '/api/messages', upper)).statusCode).toBe(403)
  })

  it('exposes sub, client_id, scopes, issuer and expiresAt on /api/me exactly as for a JWT', async () => {
    const exp = api.now() + 600
    const claims = { sub: 'alice', client_id: 'spa-client', scope: 'read:messages write:messages', exp }
    const fromOpaque = await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), claims)))
    const fromJwt = await get(api, '/api/me', api.token(claims))
    expect(fromOpaque.statusCode).toBe(200)
    expect(fromJwt.statusCode).toBe(200)
    expect(fromOpaque.json()).toEqual(fromJwt.json())
    expect(fromOpaque.json()).toEqual({
      sub: 'alice',
      clientId: 'spa-client',
      scopes: ['read:messages', 'write:messages'],
      issuer: api.issuer.url,
      expiresAt: new Date(exp * 1000).toISOString()
    })
  })

  it('gives expiresAt null when the answer has no exp, and sub/clientId null when absent', async () => {
    const res = await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), { exp: undefined, sub: undefined, client_id: undefined })))
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      sub: null,
      clientId: null,
      scopes: ['read:messages', 'write:messages'],
      issuer: api.issuer.url,
      expiresAt: null
    })
  })

  it('reports the configured issuer even when the answer has no iss', async () => {
    const res = await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), { iss: undefined })))
    expect(res.json()).toMatchObject({ issuer: api.issuer.url })
  })

  it('gives the same owner to an opaque token and a JWT with the same sub', async () => {
    const opaqueToken = tokenFor(activeAnswer(api.claims(), { sub: 'bob' }))
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization: `Bearer ${opaqueToken}` },
      payload: { text: 'from an opaque token' }
    })
    expect(created.statusCode).toBe(201)
    const { id } = created.json<{ id: string }>()
    const viaJwt = await get(api, `/api/messages/${id}`, api.token({ sub: 'bob' }))
    expect(viaJwt.statusCode).toBe(200)
    expect(viaJwt.json()).toMatchObject({ text: 'from an opaque token' })
    const stranger = await get(api, `/api/messages/${id}`, tokenFor(activeAnswer(api.claims(), { sub: 'mallory' })))
    expect(stranger.statusCode).toBe(404)
  })
})

describe('validation with several audiences and AUTH_CLIENT_IDS', () => {
  let api: TestApi
  let tokenFor: (answer: Record<string, unknown>) => string

  beforeAll(async () => {
    api = await startTestApi({
      env: {
        AUTH_TOKEN_FORMATS: 'opaque',
        AUTH_AUDIENCE: `${AUDIENCE},urn:api:second`,
        AUTH_CLIENT_IDS: 'allowed-client,other-allowed',
        ...INTROSPECTION_CREDENTIALS
      }
    })
    tokenFor = answers(api)
  })
  afterAll(async () => {
    await api.close()
  })

  it('accepts any configured audience', async () => {
    expect(
      (await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), { aud: 'urn:api:second', client_id: 'allowed-client' })))).statusCode
    ).toBe(200)
    expect(
      (await get(api, '/api/me', tokenFor(activeAnswer(api.claims(), { aud: ['x', AUDIENCE], client_id: 'other-allowed' })))).statusCode
    ).toBe(200)
  })

  it('refuses a client that is not in AUTH_CLIENT_IDS, or no client_id at all', async () => {
    const other = tokenFor(activeAnswer(api.claims(), { client_id: 'someone-else' }))
    expectInvalidToken(await get(api, '/api/me', other), other)
    const missing = tokenFor(activeAnswer(api.claims(), { client_id: undefined }))
    expectInvalidToken(await get(api, '/api/me', missing), missing)
  })
})
