/**
 * A real OpenID provider (oidc-provider) issues real access tokens; the API, listening on
 * real loopback HTTP, accepts them, and refuses a token meant for another resource.
 */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../app.js'
import { loadConfig } from '../../src/config.js'
import { startDevIssuer, type DevIssuer } from '../../dev/issuer/index.js'
import { clientCredentialsToken } from '../helpers/oidc-flow.js'

const AUDIENCE = 'https://api.example.test'

async function listeningApi (issuer: string, audience: string): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildApp({ config: loadConfig({ AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience, LOG_LEVEL: 'silent' }), logger: false })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url }
}

describe('with a real OpenID provider', () => {
  let issuer: DevIssuer
  let api: { app: FastifyInstance; url: string }
  let otherApi: { app: FastifyInstance; url: string }

  beforeAll(async () => {
    issuer = await startDevIssuer({ audience: AUDIENCE })
    api = await listeningApi(issuer.issuer, AUDIENCE)
    otherApi = await listeningApi(issuer.issuer, 'https://another-api.example.test')
  })
  /** A client_credentials access token for this API from the real provider. */
  async function accessToken (scope?: string): Promise<string> {
    const response = await clientCredentialsToken({
      tokenEndpoint: issuer.tokenEndpoint,
      clientId: issuer.cliClient.clientId,
      clientSecret: issuer.cliClient.clientSecret,
      resource: AUDIENCE,
      ...(scope === undefined ? {} : { scope })
    })
    return response.access_token
  }

  afterAll(async () => {
    await api.app.close()
    await otherApi.app.close()
    await issuer.close()
  })

  it('accepts an access token the provider issued for this API', async () => {
    const token = await accessToken('read:messages write:messages')
    const me = await fetch(`${api.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ clientId: issuer.cliClient.clientId, scopes: ['read:messages', 'write:messages'], issuer: issuer.issuer })

    const created = await fetch(`${api.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'from a real token' })
    })
    expect(created.status).toBe(201)
    const list = await fetch(`${api.url}/api/messages`, { headers: { authorization: `Bearer ${token}` } })
    expect((await list.json() as Array<{ text: string }>).map((m) => m.text)).toEqual(['from a real token'])
  })

  it('refuses the same provider\'s token at an API it was not issued for', async () => {
    const token = await accessToken()
    const res = await fetch(`${otherApi.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect((await res.json() as { code: string }).code).toBe('ERR_JWT_AUDIENCE_INVALID')
  })

  it('detects two Authorization headers on the wire', async () => {
    const token = await accessToken()
    const { request } = await import('node:http')
    const url = new URL(`${api.url}/api/me`)
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: [['Authorization', `Bearer ${token}`], ['Authorization', `Bearer ${token}`]] as unknown as Record<string, string> }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(400)
  })
})
