/**
 * The entry: read the configuration, start the development issuer when asked, build the
 * app, listen, and shut down gracefully on SIGTERM/SIGINT (stop accepting, readiness 503,
 * in-flight requests finish within the grace period, exit 0).
 */
import './src/threadpool.js'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './src/config.js'
import type { TrustedIssuer } from './src/issuers/issuers-file.js'
import { trustedIssuers } from './src/issuers/trusted-issuers.js'
import { loadDotEnv } from './src/env-file.js'
import { useProxyFromEnvironment, type OutboundProxy } from './src/remote/proxy.js'

const GRACE_MS = 10_000

/** dev/api-issuer.ts, which only a clone has: the production build and image leave dev/ and oidc-provider out. */
interface DevIssuerModule {
  startApiDevIssuer(config: Config): Promise<{ issuer: string; close(): Promise<void> }>
}
const DEV_ISSUER_MODULE = './dev/api-issuer.js'

async function importDevIssuer(): Promise<DevIssuerModule> {
  try {
    return (await import(DEV_ISSUER_MODULE)) as DevIssuerModule
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new ConfigError(
        'DEV_ISSUER',
        'the development issuer is not part of this build (dev/ and oidc-provider are development-only); run it from a clone with `npm run dev`'
      )
    }
    throw error
  }
}

async function main(): Promise<void> {
  loadDotEnv()
  let config: Config
  let closeDevIssuer: (() => Promise<void>) | undefined
  let proxy: OutboundProxy | undefined
  let issuers: TrustedIssuer[] | undefined
  try {
    config = loadConfig()
    // AUTH_ISSUERS_FILE: read and checked here, once, so that a bad file stops start-up with its
    // one line; the app gets the list (it does not read the file again)
    if (config.issuersFile !== undefined) issuers = trustedIssuers(config)
    if (config.devIssuer) {
      const devIssuer = await (await importDevIssuer()).startApiDevIssuer(config)
      closeDevIssuer = () => devIssuer.close()
      config = { ...config, auth: { ...config.auth, issuer: devIssuer.issuer } }
    }
    // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, before the first call to the issuer (the app fetches
    // the keys once it is ready); the development issuer, in this process, is reached directly
    proxy = useProxyFromEnvironment(process.env, {
      direct: config.devIssuer && config.auth.issuer !== undefined ? [new URL(config.auth.issuer).host] : []
    })
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Invalid configuration: ${error.message}`)
      process.exit(1)
    }
    throw error
  }
  const app = await buildApp({ config, issuers })
  if (proxy !== undefined) app.log.info(proxy.summary, 'calls to the issuer go through a proxy')

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
