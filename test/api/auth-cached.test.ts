/**
 * request.authCached: true exactly when the gate took the caller from the verified-token cache
 * (the token's third request on: the cache admits a token on its second verification), and then
 * `auth` is the same object as on the token's earlier cached requests. /api/me memoizes its
 * reply by that object only then, and answers the same body either way.
 */
import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLIENT_ID, startTestApi, type TestApi } from '../helpers/test-api.js'

describe('request.authCached', () => {
  let api: TestApi
  const seen: Array<{ cached: boolean; auth: unknown }> = []
  beforeAll(async () => {
    api = await startTestApi({
      instrument: (app) => {
        app.get('/test/cached', { config: { scopes: [] } }, async (request: FastifyRequest) => {
          seen.push({ cached: request.authCached, auth: request.auth })
          return { cached: request.authCached }
        })
        app.get('/test/public', { config: { public: true } }, async (request: FastifyRequest) => ({ cached: request.authCached }))
      }
    })
  })
  afterAll(async () => {
    await api.close()
  })

  const get = async (url: string, token?: string) =>
    await api.app.inject({ url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })

  it('is false while a token is verified in full, then true with the same identity object', async () => {
    const token = api.token({ sub: 'carol' })
    const answers = []
    for (let i = 0; i < 4; i++) {
      const res = await get('/test/cached', token)
      expect(res.statusCode).toBe(200)
      answers.push(res.json().cached)
    }
    expect(answers).toEqual([false, false, true, true])
    expect(seen).toHaveLength(4)
    expect(seen[0]?.auth).not.toBe(seen[1]?.auth) // two full verifications: two identities
    expect(seen[2]?.auth).toBe(seen[3]?.auth) // from the cache: one
    // another token starts over
    expect((await get('/test/cached', api.token({ sub: 'dave' }))).json()).toEqual({ cached: false })
  })

  it('is false on a public route, with or without a token', async () => {
    expect((await get('/test/public')).json()).toEqual({ cached: false })
    const token = api.token({ sub: 'erin' })
    for (let i = 0; i < 3; i++) await get('/test/cached', token)
    expect((await get('/test/public', token)).json()).toEqual({ cached: false })
  })

  it('/api/me answers the same body whether its caller was verified in full or taken from the cache', async () => {
    const exp = api.now() + 300
    const token = api.token({ sub: 'frank', exp, scope: 'read:messages' })
    const expected = {
      sub: 'frank',
      clientId: CLIENT_ID,
      scopes: ['read:messages'],
      issuer: api.issuer.url,
      expiresAt: new Date(exp * 1000).toISOString()
    }
    for (let i = 0; i < 5; i++) {
      const res = await get('/api/me', token)
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(res.json()).toEqual(expected)
    }
  })
})
