/**
 * Where seen DPoP proofs are remembered, as `app.dpopReplayStore` (src/dpop/replay-store.ts):
 * in the shared database when it is PostgreSQL, so that a proof replayed against another
 * replica is refused too; in process otherwise (one instance, DATABASE_URL unset), bounded by
 * AUTH_DPOP_REPLAY_CACHE_SIZE, and per proof key by AUTH_DPOP_REPLAY_PER_KEY (so that one
 * client flooding fresh proofs is refused alone). The database's table has no such bound. Closed after the server has stopped accepting, before the
 * database (onClose hooks run latest registered first).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { MemoryReplayStore, SqlReplayStore, type ReplayStore } from '../src/dpop/replay-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    dpopReplayStore: ReplayStore
  }
}

export interface DpopReplayStorePluginOptions {
  /** Tests of other parts pass their own. */
  store?: ReplayStore
  /** Clock in ms, for tests that move time. */
  now?: () => number
}

async function dpopReplayStore(app: FastifyInstance, options: DpopReplayStorePluginOptions): Promise<void> {
  const clock = options.now === undefined ? {} : { now: options.now }
  const store: ReplayStore =
    options.store ??
    (app.config.database.engine === 'postgres'
      ? new SqlReplayStore(app.database, {
          ...clock,
          onSweepError: (reason) => {
            app.log.warn({ reason }, 'deleting expired DPoP proofs failed; retrying later')
          }
        })
      : new MemoryReplayStore({
          maxEntries: app.config.auth.dpop.replayCacheSize,
          maxPerOwner: app.config.auth.dpop.replayPerKey,
          ...clock
        }))
  app.decorate('dpopReplayStore', store)
  if (app.hasDecorator('metrics')) app.metrics.dpopReplayEntries.source = () => store.size
  app.addHook('onClose', async () => {
    await store.close()
  })
}

export default fp(dpopReplayStore, { name: 'dpop-replay-store', fastify: '5.x', dependencies: ['config', 'database'] })
