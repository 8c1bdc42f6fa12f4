/**
 * The issuer's signing keys (src/keys/key-store.ts) as `app.keyStore`: fetched once the app is
 * ready, refreshed in the background, closed with the app. Key fetches are counted in metrics.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { KeyStore } from '../src/keys/key-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    keyStore: KeyStore
  }
}

export interface KeyStorePluginOptions {
  /** Clock in ms, for tests that move time. */
  now?: () => number
  /** Keys are fetched when the app is ready; tests that drive fetching themselves turn it off. */
  fetchKeysOnReady?: boolean
}

async function keyStore(app: FastifyInstance, options: KeyStorePluginOptions): Promise<void> {
  const { auth } = app.config
  const store = new KeyStore({
    issuer: auth.issuer,
    jwksUri: auth.jwksUri,
    algorithms: new Set(auth.algorithms),
    ...auth.keys,
    ...(options.now === undefined ? {} : { now: options.now }),
    log: app.log.child({ component: 'keys' }),
    onFetch: (event) => app.metrics.keyFetches.inc(event)
  })
  app.decorate('keyStore', store)
  if (options.fetchKeysOnReady !== false) {
    app.addHook('onReady', (done) => {
      void store.start()
      done()
    })
  }
  app.addHook('onClose', (_instance, done) => {
    store.close()
    done()
  })
}

export default fp(keyStore, { name: 'key-store', fastify: '5.x', dependencies: ['config', 'metrics'] })
