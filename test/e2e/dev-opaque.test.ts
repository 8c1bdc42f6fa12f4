// `npm run dev -- --opaque`: the development issuer issues opaque access tokens for the API,
// which introspects them; a revoked token is refused once the introspection cache has let go.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevStack, type DevStack } from '../../dev/dev.js'
import { clientCredentialsToken, revokeToken } from '../helpers/oidc-flow.js'

describe('npm run dev with opaque access tokens', () => {
  let stack: DevStack
  beforeAll(async () => {
    stack = await startDevStack({
      apiPort: 0,
      issuerPort: 0,
      spaPort: 0,
      tokenFormat: 'opaque',
      logger: false,
      env: { LOG_LEVEL: 'silent', AUTH_INTROSPECTION_CACHE_TTL: '1' }
    })
  })
  afterAll(async () => {
    await stack.close()
  })

  it('issues an opaque token the API accepts through introspection, until it is revoked', async () => {
    expect(stack.tokenFormat).toBe('opaque')
    const { access_token: token } = await clientCredentialsToken({
      tokenEndpoint: stack.tokenEndpoint,
      clientId: stack.cliClient.clientId,
      clientSecret: stack.cliClient.clientSecret,
      resource: stack.audience,
      scope: 'read:messages write:messages'
    })
    expect(token.split('.')).toHaveLength(1) // not a JWT
    const me = await fetch(`${stack.apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ clientId: stack.cliClient.clientId, scopes: ['read:messages', 'write:messages'] })

    await revokeToken({
      revocationEndpoint: `${stack.issuerUrl}/token/revocation`,
      clientId: stack.cliClient.clientId,
      clientSecret: stack.cliClient.clientSecret,
      token
    })
    await new Promise((resolve) => setTimeout(resolve, 1_100)) // past AUTH_INTROSPECTION_CACHE_TTL
    const after = await fetch(`${stack.apiUrl}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(after.status).toBe(401)
    expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"')
  })
})
