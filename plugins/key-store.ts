/**
 * The trusted issuers (src/issuers: AUTH_ISSUER, or the list of AUTH_ISSUERS_FILE) as
 * `app.issuers`, each with its own signing keys (src/keys/key-store.ts): its own discovery,
 * cache, cooldown and stale rules, so that a kid of one issuer never verifies another's token
 * and one issuer's outage touches only its own tokens. Keys are fetched once the app is ready,
 * refreshed in the background, closed with the app; fetches are counted in metrics, and the
 * gauge `issuer_keys_ready{issuer}` says which issuer's keys are usable.
 * `app.keyStore` is the first issuer's (the only one without AUTH_ISSUERS_FILE).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { TrustedIssuer } from '../src/issuers/issuers-file.js'
import { trustedIssuers } from '../src/issuers/trusted-issuers.js'
import { KeyStore } from '../src/keys/key-store.js'

export interface IssuerKeys {
  readonly issuer: TrustedIssuer
  readonly keyStore: KeyStore
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every trusted issuer with its key store, in configuration order. */
    issuers: readonly IssuerKeys[]
    /** The first issuer's key store. */
    keyStore: KeyStore
  }
}

export interface KeyStorePluginOptions {
  /** The trusted issuers, already read and checked (server.ts); without them, read from `app.config` here. */
  issuers?: readonly TrustedIssuer[]
  /** Clock in ms, for tests that move time. */
  now?: () => number
  /** Keys are fetched when the app is ready; tests that drive fetching themselves turn it off. */
  fetchKeysOnReady?: boolean
}

async function keyStore(app: FastifyInstance, options: KeyStorePluginOptions): Promise<void> {
  // AUTH_ISSUERS_FILE is read once: by whoever built the app (server.ts), or else here
  const issuers = (options.issuers ?? trustedIssuers(app.config)).map((issuer): IssuerKeys => {
    const { auth } = issuer
    return {
      issuer,
      keyStore: new KeyStore({
        // a template entry always has its jwksUri (the file requires one), so its "issuer" is never used for discovery
        issuer: auth.issuer ?? issuer.id,
        jwksUri: auth.jwksUri,
        algorithms: new Set(auth.algorithms),
        ...auth.keys,
        ...(options.now === undefined ? {} : { now: options.now }),
        log: app.log.child({
          component: 'keys',
          ...(issuer.index > 0 || app.config.issuersFile !== undefined ? { issuer: issuer.id } : {})
        }),
        onFetch: (event) => app.metrics.keyFetches.inc(event)
      })
    }
  })
  const first = issuers[0]
  if (first === undefined) throw new Error('no trusted issuer')
  app.decorate('issuers', issuers)
  app.decorate('keyStore', first.keyStore)
  app.metrics.issuerKeysReady.source = () => issuers.map(({ issuer, keyStore: store }) => ({ issuer: issuer.id, ready: store.ready }))
  if (options.fetchKeysOnReady !== false) {
    app.addHook('onReady', (done) => {
      for (const { keyStore: store } of issuers) void store.start()
      done()
    })
  }
  app.addHook('onClose', (_instance, done) => {
    for (const { keyStore: store } of issuers) store.close()
    done()
  })
}

export default fp(keyStore, { name: 'key-store', fastify: '5.x', dependencies: ['config', 'metrics'] })
