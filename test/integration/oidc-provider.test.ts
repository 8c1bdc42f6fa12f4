/**
 * A real OpenID provider (oidc-provider) issues real access tokens; the API, listening on
 * real loopback HTTP, accepts them, and refuses a token meant for another resource.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevIssuerApi, type DevApi, type DevIssuerApi } from '../helpers/dev-issuer-api.js'

describe('with a real OpenID provider', () => {
  let dev: DevIssuerApi
  let issuer: DevIssuerApi['issuer']
  let api: DevApi
  let otherApi: DevApi

  beforeAll(async () => {
    dev = await startDevIssuerApi({ listen: true })
    issuer = dev.issuer
    api = dev
    otherApi = await dev.startApi({ env: { AUTH_AUDIENCE: 'https://another-api.example.test' }, listen: true })
  })
  /** A client_credentials access token for this API from the real provider. */
  const accessToken = (scope?: string): Promise<string> => dev.clientToken(scope)

  afterAll(async () => {
    await dev?.close()
  })

  it('accepts an access token the provider issued for this API', async () => {
    const token = await accessToken('read:messages write:messages')
    const me = await fetch(`${api.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({
      clientId: issuer.cliClient.clientId,
      scopes: ['read:messages', 'write:messages'],
      issuer: issuer.issuer
    })

    const created = await fetch(`${api.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'from a real token' })
    })
    expect(created.status).toBe(201)
    const list = await fetch(`${api.url}/api/messages`, { headers: { authorization: `Bearer ${token}` } })
    expect(((await list.json()) as Array<{ text: string }>).map((m) => m.text)).toEqual(['from a real token'])
  })

  it("refuses the same provider's token at an API it was not issued for", async () => {
    const token = await accessToken()
    const res = await fetch(`${otherApi.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(((await res.json()) as { code: string }).code).toBe('ERR_JWT_AUDIENCE_INVALID')
  })

  it('detects two Authorization headers on the wire', async () => {
    const token = await accessToken()
    const { request } = await import('node:http')
    const url = new URL(`${api.url}/api/me`)
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          headers: [
            ['Authorization', `Bearer ${token}`],
            ['Authorization', `Bearer ${token}`]
          ] as unknown as Record<string, string>
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        }
      )
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(400)
  })
})
