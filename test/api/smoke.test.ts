import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

describe('smoke', () => {
  let api: TestApi
  beforeAll(async () => { api = await startTestApi() })
  afterAll(async () => { await api.close() })

  it('accepts a valid token on /api/me', async () => {
    const res = await api.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${api.token()}` } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ sub: 'user-1', clientId: 'test-client', scopes: ['read:messages', 'write:messages'] })
  })

  it('refuses no token', async () => {
    const res = await api.app.inject({ url: '/api/me' })
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm=/)
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/)
    console.log(res.headers['www-authenticate'], res.body)
  })
})
