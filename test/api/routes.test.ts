/**
 * The API behind the gate: /api/me, per-user messages with ownership, health, RFC 9728
 * metadata, CORS and metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUDIENCE, CLIENT_ID, startTestApi, type TestApi } from '../helpers/test-api.js'

describe('routes', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ env: { CORS_ORIGINS: 'http://127.0.0.1:5173,https://app.example.test' } })
  })
  afterAll(async () => {
    await api.close()
  })

  const as = (sub: string, scope = 'read:messages write:messages') => ({ authorization: `Bearer ${api.token({ sub, scope })}` })

  it('/api/me describes the caller', async () => {
    const exp = api.now() + 120
    const res = await api.app.inject({
      url: '/api/me',
      headers: { authorization: `Bearer ${api.token({ sub: 'alice', exp, scope: 'read:messages' })}` }
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      sub: 'alice',
      clientId: CLIENT_ID,
      scopes: ['read:messages'],
      issuer: api.issuer.url,
      expiresAt: new Date(exp * 1000).toISOString()
    })
  })

  it('messages: create, list, read, delete, each user sees only their own', async () => {
    const created = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: as('alice'),
      payload: { text: 'hello from alice' }
    })
    expect(created.statusCode).toBe(201)
    const message = created.json()
    expect(message).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), text: 'hello from alice', createdAt: expect.any(String) })
    expect(created.headers.location).toBe(`/api/messages/${message.id}`)

    const aliceList = await api.app.inject({ url: '/api/messages', headers: as('alice') })
    expect(aliceList.json()).toEqual([message])
    const bobList = await api.app.inject({ url: '/api/messages', headers: as('bob') })
    expect(bobList.statusCode).toBe(200)
    expect(bobList.json()).toEqual([])

    expect((await api.app.inject({ url: `/api/messages/${message.id}`, headers: as('alice') })).json()).toEqual(message)
    const bobRead = await api.app.inject({ url: `/api/messages/${message.id}`, headers: as('bob') })
    expect(bobRead.statusCode).toBe(404)
    expect(bobRead.headers['content-type']).toMatch(/^application\/problem\+json/)
    const missing = await api.app.inject({ url: '/api/messages/00000000-0000-0000-0000-000000000000', headers: as('bob') })
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual(bobRead.json()) // no existence leak

    expect((await api.app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('bob') })).statusCode).toBe(404)
    const deleted = await api.app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('alice') })
    expect(deleted.statusCode).toBe(204)
    expect(deleted.body).toBe('')
    expect((await api.app.inject({ method: 'DELETE', url: `/api/messages/${message.id}`, headers: as('alice') })).statusCode).toBe(404)
  })

  it('messages: ownership is typed, so a user whose sub reads "client:x" never sees client x\'s messages, nor x theirs', async () => {
    const client = { authorization: `Bearer ${api.token({ sub: undefined, client_id: 'x' })}` }
    const lookalike = { authorization: `Bearer ${api.token({ sub: 'client:x', client_id: 'other' })}` }
    const created = await api.app.inject({ method: 'POST', url: '/api/messages', headers: client, payload: { text: 'from client x' } })
    expect(created.statusCode).toBe(201)
    const { id } = created.json() as { id: string }
    expect((await api.app.inject({ url: '/api/messages', headers: lookalike })).json()).toEqual([])
    expect((await api.app.inject({ url: `/api/messages/${id}`, headers: lookalike })).statusCode).toBe(404)
    expect((await api.app.inject({ method: 'DELETE', url: `/api/messages/${id}`, headers: lookalike })).statusCode).toBe(404)
    const mine = await api.app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: lookalike,
      payload: { text: 'from the user client:x' }
    })
    expect((await api.app.inject({ url: '/api/messages', headers: client })).json()).toEqual([created.json()])
    expect((await api.app.inject({ url: '/api/messages', headers: lookalike })).json()).toEqual([mine.json()])
  })

  it('messages: a token with neither sub nor client id owns nothing (401), while /api/me still describes it', async () => {
    const headers = { authorization: `Bearer ${api.token({ sub: undefined, client_id: undefined })}` }
    expect((await api.app.inject({ url: '/api/me', headers })).statusCode).toBe(200)
    const res = await api.app.inject({ url: '/api/messages', headers })
    expect(res.statusCode).toBe(401)
    expect(res.json().code).toBe('ERR_JWT_CLAIM_MISSING')
  })

  it('messages: scopes per route', async () => {
    const readOnly = as('carol', 'read:messages')
    const writeOnly = as('carol', 'write:messages')
    expect((await api.app.inject({ url: '/api/messages', headers: readOnly })).statusCode).toBe(200)
    expect((await api.app.inject({ url: '/api/messages', headers: writeOnly })).statusCode).toBe(403)
    expect((await api.app.inject({ method: 'POST', url: '/api/messages', headers: readOnly, payload: { text: 'x' } })).statusCode).toBe(403)
    expect((await api.app.inject({ method: 'POST', url: '/api/messages', headers: writeOnly, payload: { text: 'x' } })).statusCode).toBe(
      201
    )
    expect((await api.app.inject({ method: 'DELETE', url: '/api/messages/x', headers: readOnly })).statusCode).toBe(403)
  })

  it.each([
    [{}, 'missing text'],
    [{ text: '' }, 'empty text'],
    [{ text: 'x'.repeat(1001) }, 'text over 1000 characters'],
    [{ text: 42 }, 'text not a string'],
    [{ text: 'ok', extra: true }, 'unknown member']
  ] as Array<[Record<string, unknown>, string]>)(
    'messages: a bad body from an authorised caller is a problem 400 (%j, %s)',
    async (payload) => {
      const res = await api.app.inject({ method: 'POST', url: '/api/messages', headers: as('dave'), payload })
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ status: 400, title: 'Bad Request' })
    }
  )

  it('a text of exactly 1000 characters is accepted', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/api/messages', headers: as('dave'), payload: { text: 'y'.repeat(1000) } })
    expect(res.statusCode).toBe(201)
  })

  it('health: live and ready are public', async () => {
    expect((await api.app.inject({ url: '/health/live' })).statusCode).toBe(200)
    const ready = await api.app.inject({ url: '/health/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'ready', keys: 1 })
  })

  it('RFC 9728 metadata', async () => {
    const res = await api.app.inject({ url: '/.well-known/oauth-protected-resource' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      resource: AUDIENCE,
      authorization_servers: [api.issuer.url],
      // every scope some protected route of the table requires, each once
      scopes_supported: [...new Set(api.app.routeTable.flatMap((route) => route.scopes))],
      bearer_methods_supported: ['header']
    })
  })

  it('CORS: a preflight from an allowed origin allows Authorization', async () => {
    const res = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/messages',
      headers: {
        origin: 'http://127.0.0.1:5173',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type'
      }
    })
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe('http://127.0.0.1:5173')
    expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization')
    expect(String(res.headers['access-control-allow-methods'])).toContain('POST')
  })

  it('CORS: a 401 to an allowed origin carries the CORS headers and exposes WWW-Authenticate', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { origin: 'https://app.example.test' } })
    expect(res.statusCode).toBe(401)
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.test')
    expect(String(res.headers['access-control-expose-headers']).toLowerCase()).toContain('www-authenticate')
  })

  it('CORS: another origin gets no CORS headers', async () => {
    const res = await api.app.inject({
      url: '/api/me',
      headers: { origin: 'https://evil.example', authorization: `Bearer ${api.token()}` }
    })
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    const preflight = await api.app.inject({
      method: 'OPTIONS',
      url: '/api/me',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' }
    })
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('metrics: public Prometheus text with requests and refusals', async () => {
    await api.app.inject({ url: '/api/me' })
    const res = await api.app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toMatch(/http_requests_total\{method="GET",route="\/api\/me",status="401"\} \d+/)
    expect(res.body).toMatch(/auth_refusals_total\{code="ERR_NO_CREDENTIALS"\} \d+/)
    expect(res.body).toMatch(/auth_key_fetches_total\{kind="jwks",outcome="success"\} 1/)
  })
})

describe('without CORS_ORIGINS and with METRICS_ENABLED=false', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi({ env: { METRICS_ENABLED: 'false' } })
  })
  afterAll(async () => {
    await api.close()
  })

  it('sends no CORS headers', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { origin: 'http://127.0.0.1:5173' } })
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('serves no /metrics', async () => {
    expect((await api.app.inject({ url: '/metrics' })).statusCode).toBe(404)
  })
})

describe('readiness before keys', () => {
  it('is 503 until the keys are loaded, then 200', async () => {
    const api = await startTestApi({ waitForKeys: false })
    try {
      const before = await api.app.inject({ url: '/health/ready' })
      expect(before.statusCode).toBe(503)
      expect(before.headers['content-type']).toMatch(/^application\/problem\+json/)
      await api.app.keyStore.start()
      expect((await api.app.inject({ url: '/health/ready' })).statusCode).toBe(200)
    } finally {
      await api.close()
    }
  })
})
