/**
 * The app factory: external plugins, then the app's own, then the routes. It does not
 * listen (server.ts does) and it needs a resolved issuer (server.ts starts the development
 * issuer first when DEV_ISSUER=1).
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autoload from '@fastify/autoload'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './src/config.js'
import type { TrustedIssuer } from './src/issuers/issuers-file.js'
import { appLogging } from './src/logger.js'
import type { MessageStore } from './src/messages/message-store.js'
import configPlugin from './plugins/config.js'
import metricsPlugin from './plugins/metrics.js'
import keyStorePlugin from './plugins/key-store.js'
import introspectorPlugin from './plugins/introspector.js'
import verifierPlugin from './plugins/verifier.js'
import databasePlugin from './plugins/database.js'
import messageStorePlugin from './plugins/message-store.js'
import dpopReplayStorePlugin from './plugins/dpop-replay-store.js'
import dpopPlugin from './plugins/dpop.js'
import authPlugin from './plugins/auth.js'
import problemDetails, { frameworkErrorOptions } from './plugins/problem-details.js'
import corsPlugin from './plugins/cors.js'
import swaggerPlugin from './plugins/swagger.js'
import docsPlugin from './plugins/docs.js'

/** Every route file under routes/ is a plugin of its own, registered without a central list. */
const ROUTES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'routes')

export interface AppOptions {
  config: Config
  /**
   * The trusted issuers of `config`, already read and checked (server.ts reads AUTH_ISSUERS_FILE
   * once, before building the app, for its one-line error). Without them the key-store plugin
   * reads them from `config` itself.
   */
  issuers?: readonly TrustedIssuer[]
  /** Overrides the logger (tests pass false). */
  logger?: boolean
  /** Where JSON log lines go (default stdout); tests read them. */
  logStream?: { write(line: string): void }
  store?: MessageStore
  /** Clock in ms, for tests that move time. */
  now?: () => number
  /** Keys are fetched when the app is ready; tests that drive fetching themselves turn it off. */
  fetchKeysOnReady?: boolean
  /** Called once the gate and the error handling are registered, before the app's routes: tests add their own hooks or routes here. */
  instrument?: (app: FastifyInstance) => void
  /** Called before any plugin: only for the test that proves a route declared there stops start-up. */
  beforeGate?: (app: FastifyInstance) => void
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const clock = options.now === undefined ? {} : { now: options.now }

  // a request's pino child is made only when the request logs; above info Fastify has no logger
  // of its own and the app's is made here (src/logger.ts)
  const logging = options.logger === false ? undefined : appLogging(config.logLevel, options.logStream)
  const app = Fastify({
    ...(logging?.options ?? { logger: false }),
    requestIdHeader: 'x-request-id',
    // X-Forwarded-* are believed only from these proxies (TRUST_PROXY); published URLs use PUBLIC_URL
    trustProxy: config.trustProxy,
    // errors raised before routing (bad URL, malformed request, oversized headers) as problem+json too
    ...frameworkErrorOptions,
    // plugins/problem-details.ts answers requests that arrive while closing (as problem+json)
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()
  if (logging?.root !== undefined) app.log = logging.root

  // A census of every route, taken from the very start: at ready, each must be in the gate's
  // table, so that a route declared before the gate (which its onRoute hook cannot see) stops
  // start-up instead of answering without a token.
  const census: string[] = []
  app.addHook('onRoute', (route) => {
    census.push(`${String(route.method)} ${route.url}`)
  })
  app.addHook('onReady', async () => {
    const gated = new Set(app.routeTable.map((route) => `${route.method} ${route.url}`))
    const outside = census.filter((route) => !gated.has(route))
    if (outside.length > 0) throw new Error(`routes declared before the gate, so not behind it: ${outside.join(', ')}`)
  })

  options.beforeGate?.(app)
  // services: no routes
  await app.register(configPlugin, { config })
  await app.register(metricsPlugin)
  await app.register(keyStorePlugin, {
    ...clock,
    ...(options.issuers === undefined ? {} : { issuers: options.issuers }),
    ...(options.fetchKeysOnReady === undefined ? {} : { fetchKeysOnReady: options.fetchKeysOnReady })
  })
  await app.register(introspectorPlugin, clock)
  await app.register(verifierPlugin, clock)
  await app.register(databasePlugin)
  await app.register(messageStorePlugin, options.store === undefined ? {} : { store: options.store })
  await app.register(dpopReplayStorePlugin, clock)
  await app.register(dpopPlugin, clock)
  // the gate before any route: its onRoute hook sees every route
  await app.register(authPlugin)
  await app.register(problemDetails)
  await app.register(corsPlugin)
  options.instrument?.(app)
  // the document's oauth2 schemes: one per exact issuer, in configuration order (the first is
  // `oauth2`, as with a single issuer); an issuer template has none (src/openapi/document.ts)
  await app.register(swaggerPlugin, {
    issuer: app.issuers[0]?.issuer.id ?? '',
    issuers: app.issuers.flatMap(({ issuer, keyStore }) =>
      issuer.kind === 'exact' ? [{ issuer: issuer.issuer, metadata: () => keyStore.metadata() }] : []
    ),
    schemes: { bearer: app.config.auth.dpop.mode !== 'required', dpop: app.config.auth.dpop.mode !== 'disabled' }
  })
  await app.register(docsPlugin)
  // encapsulate: false: the route files add routes only (no hooks, no decorators), and in the app's
  // own context they share its Request and Reply classes. Each encapsulated plugin would give its
  // routes classes of their own (Fastify's plugin override), so the code every request runs
  // (Fastify's, Node's, the gate's and the metrics' hooks) would see one object shape per route
  // file and run on megamorphic inline caches; docs/decisions/0007.
  await app.register(autoload, { dir: ROUTES_DIR, dirNameRoutePrefix: false, encapsulate: false })
  return app
}
