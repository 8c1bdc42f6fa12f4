/**
 * The app factory: external plugins, then the app's own, then the routes. It does not
 * listen (server.ts does) and it needs a resolved issuer (server.ts starts the development
 * issuer first when DEV_ISSUER=1).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Config } from './src/config.js'
import { loggerOptions } from './src/logger.js'
import { KeyStore } from './src/keys/key-store.js'
import { AccessTokenVerifier } from './src/token/access-token-verifier.js'
import { InMemoryMessageStore, type MessageStore } from './src/messages/message-store.js'
import { createIntrospector } from './src/introspection/introspector.js'
import problemDetails, { frameworkErrorOptions } from './plugins/problem-details.js'
import corsPlugin from './plugins/cors.js'
import metricsPlugin, { createMetrics } from './plugins/metrics.js'
import authPlugin, { type GatedRoute } from './plugins/auth.js'
import swaggerPlugin from './plugins/swagger.js'
import docsPlugin from './plugins/docs.js'
import healthRoutes from './routes/health.js'
import protectedResourceMetadata from './routes/protected-resource-metadata.js'
import meRoutes from './routes/me.js'
import messageRoutes from './routes/messages.js'

declare module 'fastify' {
  interface FastifyInstance {
    keyStore: KeyStore
    verifier: AccessTokenVerifier
  }
}

export interface AppOptions {
  config: Config
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
}

/** Every scope some protected route requires, in declaration order. */
function scopesOf (routes: readonly GatedRoute[]): string[] {
  const scopes = new Set<string>()
  for (const route of routes) for (const scope of route.scopes) scopes.add(scope)
  return [...scopes]
}

export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const { auth } = config
  const issuer = auth.issuer
  if (issuer === undefined) throw new Error('buildApp needs AUTH_ISSUER (or the development issuer) to be resolved')

  const app = Fastify({
    logger: options.logger === false ? false : { ...loggerOptions(config.logLevel), ...(options.logStream === undefined ? {} : { stream: options.logStream }) },
    requestIdHeader: 'x-request-id',
    // X-Forwarded-* are believed only from these proxies (TRUST_PROXY); published URLs use PUBLIC_URL
    trustProxy: config.trustProxy,
    // errors raised before routing (bad URL, malformed request, oversized headers) as problem+json too
    ...frameworkErrorOptions,
    // plugins/problem-details.ts answers requests that arrive while closing (as problem+json)
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  const metrics = createMetrics()
  const keyStore = new KeyStore({
    issuer,
    jwksUri: auth.jwksUri,
    algorithms: new Set(auth.algorithms),
    ...auth.keys,
    ...(options.now === undefined ? {} : { now: options.now }),
    log: app.log.child({ component: 'keys' }),
    onFetch: (event) => metrics.keyFetches.inc(event)
  })
  const introspect = auth.formats.includes('opaque')
    ? createIntrospector({ auth, issuer, keyStore, metrics, log: app.log.child({ component: 'introspection' }), ...(options.now === undefined ? {} : { now: options.now }) })
    : undefined
  const verifier = new AccessTokenVerifier({ auth, issuer, keys: keyStore, ...(introspect === undefined ? {} : { introspect }), ...(options.now === undefined ? {} : { now: options.now }) })
  app.decorate('keyStore', keyStore)
  app.decorate('verifier', verifier)

  // The gate first: it sees every route registered after it, which is every route.
  await app.register(authPlugin, { verifier, refusals: metrics.refusals })
  await app.register(problemDetails, { realm: auth.audiences[0] ?? 'api', publicUrl: config.publicUrl })
  await app.register(corsPlugin, { origins: config.corsOrigins })
  await app.register(metricsPlugin, { enabled: config.metricsEnabled, metrics })
  options.instrument?.(app)
  await app.register(swaggerPlugin, { issuer, issuerMetadata: () => keyStore.metadata() })
  await app.register(docsPlugin, { clientId: 'demo-spa' })

  await app.register(healthRoutes, { isReady: () => keyStore.ready, keyCount: () => keyStore.keyCount })
  await app.register(protectedResourceMetadata, { resource: auth.audiences[0] ?? '', issuer, scopes: () => scopesOf(app.routeTable) })
  await app.register(meRoutes)
  await app.register(messageRoutes, { store: options.store ?? new InMemoryMessageStore() })

  if (options.fetchKeysOnReady !== false) {
    app.addHook('onReady', (done) => { void keyStore.start(); done() })
  }
  app.addHook('onClose', (_instance, done) => { keyStore.close(); done() })
  return app
}
