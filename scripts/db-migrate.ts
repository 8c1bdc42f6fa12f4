/**
 * `npm run db:migrate` (in the image: `node dist/scripts/db-migrate.js`): applies the pending
 * migrations to the database that DATABASE_URL (or DATA_DIR) names, then exits, for operators
 * who migrate as a step of their own before rolling out. The server applies them at start-up
 * too; both take the same lock, so running them side by side is safe.
 */
import { openDatabase } from '../src/db/database.js'
import { loadDotEnv } from '../src/env-file.js'
import { ConfigError, databaseConfig } from '../src/config.js'

async function main(): Promise<void> {
  loadDotEnv()
  const config = databaseConfig(process.env)
  const database = openDatabase(config, { onPoolError: () => {} })
  try {
    const applied = await database.migrate()
    console.log(applied.length === 0 ? `${config.engine}: the schema is up to date` : `${config.engine}: applied ${applied.join(', ')}`)
  } finally {
    await database.close()
  }
}

main().catch((error: unknown) => {
  const reason =
    error instanceof ConfigError
      ? `Invalid configuration: ${error.message}`
      : `Migration failed: ${(error as { reason?: string }).reason ?? (error as Error).message}`
  console.error(reason)
  process.exit(1)
})
