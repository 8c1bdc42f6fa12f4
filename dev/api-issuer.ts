/**
 * DEV_ISSUER=1: the development issuer started beside the API by the entry (server.ts), for
 * the API's own audience and origins. Development-only, like the rest of dev/: the production
 * build and the image carry neither this code nor oidc-provider.
 */
import type { Config } from '../src/config.js'
import { DOCS_OAUTH_REDIRECT_PATH } from '../plugins/docs.js'
import { startDevIssuer } from './issuer/index.js'

export async function startApiDevIssuer (config: Config): Promise<{ issuer: string, close(): Promise<void> }> {
  // SPAs on CORS_ORIGINS sign in at /callback; /docs on this API's own origin signs in too
  const apiOrigins = [`http://127.0.0.1:${config.port}`, `http://localhost:${config.port}`]
  const { introspection } = config.auth
  const issuer = await startDevIssuer({
    audience: config.auth.audiences[0] ?? '',
    port: Number(process.env.DEV_ISSUER_PORT ?? 4000),
    spa: {
      redirectUris: [...config.corsOrigins.map((origin) => `${origin}/callback`), ...apiOrigins.map((origin) => `${origin}${DOCS_OAUTH_REDIRECT_PATH}`)],
      origins: [...config.corsOrigins, ...apiOrigins]
    },
    accessTokenFormat: config.auth.formats.includes('jwt') ? 'jwt' : 'opaque',
    ...(introspection.clientId !== undefined && introspection.clientSecret !== undefined
      ? { introspectionClient: { clientId: introspection.clientId, clientSecret: introspection.clientSecret } }
      : {})
  })
  console.log(`development issuer: ${issuer.issuer} (users alice/alice and bob/bob; client ${issuer.cliClient.clientId}/${issuer.cliClient.clientSecret})`)
  return { issuer: issuer.issuer, close: () => issuer.close() }
}
