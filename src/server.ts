/**
 * The entry: read the configuration, start the development issuer when asked, build the
 * app, listen, and shut down gracefully on SIGTERM/SIGINT (stop accepting, readiness 503,
 * in-flight requests finish within the grace period, exit 0).
 */
import './threadpool.js'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { loadDotEnv } from './env-file.js'

const GRACE_MS = 10_000

async function resolveDevIssuer (config: Config): Promise<(() => Promise<void>) | undefined> {
  if (!config.devIssuer) return undefined
  const { startDevIssuer } = await import('./dev-issuer/index.js')
  const { DOCS_OAUTH_REDIRECT_PATH } = await import('../plugins/docs.js')
  const audience = config.auth.audiences[0] ?? ''
  // SPAs on CORS_ORIGINS sign in at /callback; /docs on this API's own origin signs in too
  const apiOrigins = [`http://127.0.0.1:${config.port}`, `http://localhost:${config.port}`]
  const issuer = await startDevIssuer({
    audience,
    port: Number(process.env.DEV_ISSUER_PORT ?? 4000),
    spa: {
      redirectUris: [...config.corsOrigins.map((origin) => `${origin}/callback`), ...apiOrigins.map((origin) => `${origin}${DOCS_OAUTH_REDIRECT_PATH}`)],
      origins: [...config.corsOrigins, ...apiOrigins]
    },
    accessTokenFormat: config.auth.formats.includes('jwt') ? 'jwt' : 'opaque',
    ...(config.auth.introspection.clientId !== undefined && config.auth.introspection.clientSecret !== undefined
      ? { introspectionClient: { clientId: config.auth.introspection.clientId, clientSecret: config.auth.introspection.clientSecret } }
      : {})
  })
  config.auth.issuer = issuer.issuer
  console.log(`development issuer: ${issuer.issuer} (users alice/alice and bob/bob; client ${issuer.cliClient.clientId}/${issuer.cliClient.clientSecret})`)
  return () => issuer.close()
}

async function main (): Promise<void> {
  loadDotEnv()
  let config: Config
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Invalid configuration: ${error.message}`)
      process.exit(1)
    }
    throw error
  }
  const closeDevIssuer = await resolveDevIssuer(config)
  const app = await buildApp({ config })

  // Once the server stops listening, a response in flight closes its connection, so a keep-alive client cannot hold the drain open until the grace period kills the process.
  app.addHook('onSend', async (_request, reply) => { if (!app.server.listening) reply.header('connection', 'close') })
  closeWithGrace({ delay: GRACE_MS }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
    await closeDevIssuer?.()
  })

  await app.listen({ port: config.port, host: config.host })
}

main().catch((error: unknown) => {
  console.error(`Start-up failed: ${(error as Error).message}`)
  process.exit(1)
})
