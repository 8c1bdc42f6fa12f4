/**
 * Fresh databases of both engines for a test file's store suites: `useTestDatabases()` starts a
 * real PostgreSQL server for the file (test-postgres.ts) and removes what it made afterwards.
 * `freshDatabase(engine)` gives the configuration of a new empty database (open it as many
 * times as there are replicas); `opened(config)` opens one and applies the migrations.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import type { DatabaseConfig } from '../../src/config.js'
import { openDatabase, type Database } from '../../src/db/database.js'
import { startTestPostgres, type TestPostgres } from './test-postgres.js'

export interface TestDatabases {
  /** The file's PostgreSQL server (started before the first test). */
  readonly postgres: TestPostgres
  freshDatabase(engine: 'sqlite' | 'postgres'): Promise<DatabaseConfig>
  opened(config: DatabaseConfig): Promise<Database>
}

export function useTestDatabases(options: { prefix: string; statementTimeoutMs: number }): TestDatabases {
  let postgres: TestPostgres | undefined
  const dirs: string[] = []
  beforeAll(async () => {
    postgres = await startTestPostgres()
  })
  afterAll(async () => {
    await postgres?.close()
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
  })
  const server = (): TestPostgres => {
    if (postgres === undefined) throw new Error('PostgreSQL is not started yet (use it inside a test or a hook)')
    return postgres
  }
  return {
    get postgres() {
      return server()
    },
    async freshDatabase(engine) {
      const { statementTimeoutMs } = options
      if (engine === 'postgres') return { engine, url: await server().createDatabase(), poolSize: 5, statementTimeoutMs }
      const dir = await mkdtemp(join(tmpdir(), `${options.prefix}-`))
      dirs.push(dir)
      return { engine, dataDir: dir, statementTimeoutMs }
    },
    async opened(config) {
      const database = openDatabase(config)
      await database.migrate()
      return database
    }
  }
}
