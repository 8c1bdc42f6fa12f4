/**
 * A real ID token (issue item 5): the development issuer (oidc-provider) runs the authorization
 * code flow with PKCE for alice, its sign-in and consent driven over loopback HTTP, and returns
 * an ID token for the SPA and an access token for the API. The API accepts the access token and
 * refuses the ID token, saying that an ID token was presented.
 */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DevIssuer } from '../../dev/issuer/index.js'
import { startDevIssuerApi, type DevIssuerApi } from '../helpers/dev-issuer-api.js'
import type { LoginTokens } from '../helpers/oidc-flow.js'

const API_AUDIENCE = 'https://api.real-id-token.test'
const ID_TOKEN = /An ID token was presented where an access token is required/

function decode(token: string, part: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[part] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
}

describe('a real ID token and access token from the development issuer (code flow + PKCE)', () => {
  let dev: DevIssuerApi
  let devIssuer: DevIssuer
  let alice: DevIssuer['users'][number]
  let tokens: LoginTokens
  const apps: FastifyInstance[] = []
  const api = (index: number): FastifyInstance => apps[index] as FastifyInstance

  beforeAll(async () => {
    // the normal set-up: the API's own identifier as audience
    dev = await startDevIssuerApi({ issuer: { audience: API_AUDIENCE } })
    devIssuer = dev.issuer
    const login = await dev.login('alice', 'openid profile email read:messages write:messages')
    alice = login.user
    tokens = login
    apps.push(
      dev.app,
      // a careless one that also accepts the SPA's client id as an audience: aud cannot tell
      // the ID token apart, the classification has to
      (await dev.startApi({ env: { AUTH_AUDIENCE: `${API_AUDIENCE},${devIssuer.spaClientId}` } })).app,
      (await dev.startApi({ env: { AUTH_TOKEN_PROFILE: 'rfc9068' } })).app
    )
  })

  afterAll(async () => {
    await dev?.close()
  })

  it('the login gave a genuine ID token for the SPA and a JWT access token for the API', () => {
    expect(decode(tokens.id_token, 1)).toMatchObject({ iss: devIssuer.issuer, aud: devIssuer.spaClientId, sub: alice.sub })
    expect(decode(tokens.access_token, 0)).toMatchObject({ typ: 'at+jwt' })
    expect(decode(tokens.access_token, 1)).toMatchObject({ iss: devIssuer.issuer, aud: API_AUDIENCE, sub: alice.sub })
  })

  it.each([
    [0, 'auto'],
    [1, 'auto, client id accepted as audience'],
    [2, 'rfc9068']
  ])('the API accepts the access token (%i: %s)', async (index) => {
    const authorization = `Bearer ${tokens.access_token}`
    const me = await api(index).inject({ url: '/api/me', headers: { authorization } })
    expect(me.statusCode, me.body).toBe(200)
    expect(me.json()).toMatchObject({ sub: alice.sub, clientId: devIssuer.spaClientId, issuer: devIssuer.issuer })
    expect(me.json<{ scopes: string[] }>().scopes).toEqual(expect.arrayContaining(['read:messages', 'write:messages']))

    const created = await api(index).inject({
      method: 'POST',
      url: '/api/messages',
      headers: { authorization },
      payload: { text: 'from alice' }
    })
    expect(created.statusCode).toBe(201)
    const listed = await api(index).inject({ url: '/api/messages', headers: { authorization } })
    expect(listed.statusCode).toBe(200)
  })

  it.each([
    [0, 'auto'],
    [1, 'auto, client id accepted as audience'],
    [2, 'rfc9068']
  ])('the API refuses the ID token as an ID token (%i: %s)', async (index) => {
    for (const url of ['/api/me', '/api/messages']) {
      const res = await api(index).inject({ url, headers: { authorization: `Bearer ${tokens.id_token}` } })
      expect(res.statusCode).toBe(401)
      const www = String(res.headers['www-authenticate'])
      expect(www).toMatch(/\berror="invalid_token"/)
      expect(/\berror_description="([^"]*)"/.exec(www)?.[1]).toMatch(ID_TOKEN)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ status: 401, code: 'ERR_ID_TOKEN_NOT_ACCESS_TOKEN', detail: expect.stringMatching(ID_TOKEN) })
      expect(res.body).not.toContain(tokens.id_token)
    }
  })
})
