/**
 * DEV_ISSUER=1: the development issuer started beside the API by the entry (server.ts), for
 * the API's own audience, origins and scopes. Development-only, like the rest of dev/: the
 * production build and the image carry neither this code nor oidc-provider.
 */
import { buildApp } from '../app.js'
import type { Config } from '../src/config.js'
import { DOCS_OAUTH_REDIRECT_PATH } from '../plugins/docs.js'
import { freePort } from '../scripts/free-port.js'
import { startDevIssuer } from './issuer/index.js'
import type { ScopeInfo } from './issuer/index.js'

const HOST = '127.0.0.1'

/**
 * The scopes the API's routes declare (`app.scopes()`), from the app itself: server.ts builds
 * its app once the issuer is up, so this one is built to be asked, without fetching keys or
 * binding any port (METRICS_PORT included), and closed again.
 */
async function declaredScopes(config: Config): Promise<ScopeInfo[]> {
  const app = await buildApp({ config: { ...config, metricsPort: undefined }, logger: false, fetchKeysOnReady: false })
  try {
    await app.ready()
    return app.scopes().map(({ name, description }) => ({ name, description }))
  } finally {
    await app.close()
  }
}

export async function startApiDevIssuer(config: Config): Promise<{ issuer: string; close(): Promise<void> }> {
  // the issuer's URL is the API's AUTH_ISSUER, needed before the issuer listens: a fixed port
  const requestedPort = Number(process.env.DEV_ISSUER_PORT ?? 4000)
  const port = requestedPort === 0 ? await freePort(HOST) : requestedPort
  const scopes = await declaredScopes({ ...config, auth: { ...config.auth, issuer: `http://${HOST}:${port}` } })

  // SPAs on CORS_ORIGINS sign in at /callback; /docs on this API's own origin signs in too
  const apiOrigins = [`http://127.0.0.1:${config.port}`, `http://localhost:${config.port}`]
  const { introspection } = config.auth
  const issuer = await startDevIssuer({
    audience: config.auth.audiences[0] ?? '',
    host: HOST,
    port,
    scopes,
    spa: {
      redirectUris: [
        ...config.corsOrigins.map((origin) => `${origin}/callback`),
        ...apiOrigins.map((origin) => `${origin}${DOCS_OAUTH_REDIRECT_PATH}`)
      ],
      origins: [...config.corsOrigins, ...apiOrigins]
    },
    accessTokenFormat: config.auth.formats.includes('jwt') ? 'jwt' : 'opaque',
    // AUTH_DPOP_NONCE=on at the API: the issuer's token endpoint asks for DPoP nonces too
    dpopNonce: config.auth.dpop.nonceSecret !== undefined,
    ...(introspection.clientId !== undefined && introspection.clientSecret !== undefined
      ? { introspectionClient: { clientId: introspection.clientId, clientSecret: introspection.clientSecret } }
      : {})
  })
  const scopeList = scopes.length === 0 ? 'no API scopes' : `API scopes ${scopes.map((scope) => scope.name).join(' ')}`
  console.log(
    `development issuer: ${issuer.issuer} (users alice/alice and bob/bob; client ${issuer.cliClient.clientId}/${issuer.cliClient.clientSecret}; ${scopeList})`
  )
  return { issuer: issuer.issuer, close: () => issuer.close() }
}
