/**
 * The database (src/db) as `app.database`: opened and migrated at start-up, closed after the
 * server has stopped accepting and the requests in flight have finished (Fastify runs the
 * server's own close first, then the plugins' onClose hooks, latest registered first).
 *
 * A database unreachable at start-up does not stop the process: migrations are retried in the
 * background, readiness answers 503 and requests get ERR_DATABASE_UNAVAILABLE until it answers.
 * Anything else (a migration that fails, DATA_DIR not writable) stops start-up.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { DatabaseUnavailable, openDatabase, reasonOf, type Database } from '../src/db/database.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database & {
      /** True once every migration is applied. */
      readonly migrated: boolean
    }
  }
}

const MIGRATE_RETRY_MS = 2000

async function database(app: FastifyInstance): Promise<void> {
  const config = app.config.database
  const opened = openDatabase(config, {
    onPoolError: (reason) => {
      app.log.warn({ reason }, 'database connection lost')
    }
  })
  let migrated = false
  let retry: NodeJS.Timeout | undefined
  let closing = false

  async function migrate(): Promise<void> {
    try {
      const applied = await opened.migrate()
      migrated = true
      app.log.info({ engine: config.engine, applied }, applied.length > 0 ? 'database migrated' : 'database schema up to date')
    } catch (error) {
      if (!(error instanceof DatabaseUnavailable)) throw error
      app.log.warn({ engine: config.engine, reason: error.reason }, 'database unreachable; retrying the migrations')
      if (!closing)
        retry = setTimeout(() => {
          migrate().catch((cause: unknown) => {
            app.log.error({ reason: reasonOf(cause) }, 'database migration failed')
          })
        }, MIGRATE_RETRY_MS).unref()
    }
  }

  try {
    await migrate()
  } catch (error) {
    await opened.close()
    throw error
  }

  // until the migrations are applied, a 503; once closing, the database's own refusal (DatabaseClosed)
  const usable = (): void => {
    if (!migrated && !closing) throw new DatabaseUnavailable('migrations not applied yet')
  }
  app.decorate('database', {
    ...opened,
    get migrated() {
      return migrated
    },
    async run(work) {
      usable()
      return opened.run(work)
    },
    async read(query) {
      usable()
      return opened.read(query)
    },
    async write(query) {
      usable()
      return opened.write(query)
    }
  } satisfies FastifyInstance['database'])

  app.addHook('onClose', async () => {
    closing = true
    clearTimeout(retry)
    await opened.close()
  })
}

export default fp(database, { name: 'database', fastify: '5.x', dependencies: ['config'] })
