/**
 * One data-access layer for both engines: a Kysely instance over node:sqlite (DATABASE_URL
 * unset, a file under DATA_DIR) or over a bounded pg pool (postgres://), plus what every store
 * needs around it: `run` (a deadline, and "the database is unreachable" as a 503 instead of a
 * 500), `ping` (readiness), `migrate` (versioned migrations, safe from N replicas at once) and
 * `close`.
 */
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { Worker } from 'node:worker_threads'
import { Kysely, PostgresDialect, sql, type CompiledQuery, type PostgresPool, type PostgresPoolClient, type QueryResult } from 'kysely'
import { Migrator } from 'kysely/migration'
import pg from 'pg'
import type { DatabaseConfig } from '../config.js'
import { ConfigError } from '../config.js'
import { CodedError, sentenceOf, type ClientError } from '../errors.js'
import { migrationProvider } from './migrations/index.js'
import { NodeSqliteDialect } from './node-sqlite-dialect.js'
import type { Schema } from './schema.js'

/** The embedded database's file, inside DATA_DIR. */
export const SQLITE_FILE = 'resource-api.sqlite'
/** How long a new PostgreSQL connection may take before the request gets its 503. */
export const CONNECT_TIMEOUT_MS = 3000
/** Seconds a client is told to wait (Retry-After) when the database is unreachable. */
export const DATABASE_RETRY_AFTER = 5

/** The database cannot be reached (or did not answer in time): ERR_DATABASE_UNAVAILABLE (503, Retry-After). */
export class DatabaseUnavailable extends CodedError implements ClientError {
  override readonly name = 'DatabaseUnavailable'
  readonly code = 'ERR_DATABASE_UNAVAILABLE'
  readonly description = sentenceOf('ERR_DATABASE_UNAVAILABLE')
  readonly retryAfter = DATABASE_RETRY_AFTER
  /** For the logs: what failed (an error code or a short message), never the URL. */
  readonly reason: string

  constructor(reason: string, options?: { cause?: unknown }) {
    super(sentenceOf('ERR_DATABASE_UNAVAILABLE'), options)
    this.reason = reason
  }
}

/**
 * A query through a `Database` after its `close()`: a programming error, never retried nor
 * answered as an outage (it is not DatabaseUnavailable). Kysely's destroy() alone would not
 * stop it: a Kysely instance that never ran a query is not marked destroyed, and its first
 * query would open new connections to a pool nobody closes again.
 */
export class DatabaseClosed extends Error {
  override readonly name = 'DatabaseClosed'
  constructor() {
    super('the database is closed')
  }
}

const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED'
])
/** PostgreSQL SQLSTATEs that mean "not now" rather than "wrong": shutdown, too many connections, timeouts. */
const PG_TRANSIENT: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55P03', '40001', '40P01'])
/** node:sqlite errcodes: BUSY, LOCKED, IOERR, FULL, CANTOPEN. */
const SQLITE_TRANSIENT: ReadonlySet<number> = new Set([5, 6, 10, 13, 14])
const PG_CLIENT_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection terminated unexpectedly|Client was closed)/

/** Whether an error from a driver means "the database is unreachable or too slow right now". */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailable) return true
  if (typeof error !== 'object' || error === null) return false
  const { code, errcode, message } = error as { code?: unknown; errcode?: unknown; message?: unknown }
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || PG_TRANSIENT.has(code) || code.startsWith('08'))) return true
  if (typeof errcode === 'number' && SQLITE_TRANSIENT.has(errcode & 0xff)) return true
  if (typeof message === 'string' && PG_CLIENT_MESSAGES.test(message)) return true
  if (error instanceof AggregateError) return error.errors.some(isUnavailable)
  return false
}

/** A short, credential-free description of a driver error, for the logs. */
export function reasonOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error)
  const { code, message } = error as { code?: unknown; message?: unknown }
  return [typeof code === 'string' ? code : undefined, typeof message === 'string' ? message.slice(0, 200) : undefined]
    .filter(Boolean)
    .join(': ')
}

export interface Database {
  readonly engine: DatabaseConfig['engine']
  /** Kysely, for stores. Prefer `run`, which bounds the work and turns an outage into a 503. */
  readonly db: Kysely<Schema>
  /** Runs a store's work: at most the request deadline, and an unreachable database throws DatabaseUnavailable. */
  run<T>(work: (db: Kysely<Schema>) => Promise<T>): Promise<T>
  /**
   * One read-only statement, bounded and mapped as `run`'s work is. On PostgreSQL it goes on the
   * pipelined read connection, shared by the requests in flight (see pipelinedSource).
   */
  read<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>
  /**
   * One statement that writes on its own (a single statement is one transaction), bounded and
   * mapped as `run`'s work is. On PostgreSQL it goes on one of the pipelined write connections
   * (the one with the fewest in flight) when DATABASE_POOL_SIZE leaves some, else the pool.
   */
  write<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>
  /** True when the database answers a trivial query in time (readiness). */
  ping(): Promise<boolean>
  /** Applies every pending migration (see ./migrations); the names applied. */
  migrate(): Promise<string[]>
  /**
   * Closes its connections (once; later calls wait for the same). From then on every query
   * through this handle (run, read, write, migrate) rejects with DatabaseClosed, and ping
   * answers false: nothing reopens a connection. On PostgreSQL a query through `db` itself is
   * refused too (DatabaseClosed, or Kysely's "driver has already been destroyed"), opening nothing.
   */
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** Where a pool error on an idle connection is reported (it must never crash the process). */
  onPoolError?: (reason: string) => void
}

/**
 * WAL checkpoints (copying the committed pages from the write-ahead log into the database file,
 * with an fsync of each) run on a worker thread with its own connection, every
 * CHECKPOINT_INTERVAL_MS, in PASSIVE mode (never waiting for, nor blocking, the writer). Run by
 * the committing connection, as SQLite does by default every 1000 pages, they took half of a
 * create's time on the event loop. The event loop's connection still checkpoints past
 * WAL_AUTOCHECKPOINT_PAGES (by then the worker has copied nearly everything, so it is little
 * more than the fsyncs): that bounds the log under a continuous stream of writes, when no
 * checkpoint can finish between two of them, and if the worker is gone.
 */
const CHECKPOINT_INTERVAL_MS = 200
const WAL_AUTOCHECKPOINT_PAGES = 4000
const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads')
const { DatabaseSync } = require('node:sqlite')
const db = new DatabaseSync(workerData.file, { timeout: workerData.timeoutMs })
const checkpoint = db.prepare('pragma wal_checkpoint(PASSIVE)')
const timer = setInterval(() => {
  try { checkpoint.get() } catch {}
}, workerData.intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

function startCheckpointer(file: string, timeoutMs: number): { stop(): Promise<void> } {
  const worker = new Worker(CHECKPOINTER, { eval: true, workerData: { file, timeoutMs, intervalMs: CHECKPOINT_INTERVAL_MS } })
  worker.unref()
  // a worker that fails leaves the checkpoints to the event loop's connection (WAL_AUTOCHECKPOINT_PAGES)
  worker.on('error', () => {})
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
  return {
    async stop() {
      // unref'd so that it never keeps a process alive; while it is awaited, it must (or a
      // script whose last step is close() ends with the wait unsettled)
      worker.ref()
      worker.postMessage('stop')
      await exited
    }
  }
}

/**
 * One connection per database file per process, shared by every `Database` opened on it:
 * node:sqlite is synchronous, so a second connection in the same process waiting for the
 * first one's write lock would block the very event loop the first needs to finish. Kysely
 * queues the work on the one connection; BEGIN IMMEDIATE and the busy timeout serialize
 * writers in other processes (`npm run db:migrate` next to a running server). Besides it, the
 * checkpointer's connection, on its own thread (above).
 */
const sqliteFiles = new Map<string, { db: Kysely<Schema>; users: number; checkpointer: { stop(): Promise<void> } }>()

function openSqlite(config: Extract<DatabaseConfig, { engine: 'sqlite' }>): { db: Kysely<Schema>; close(): Promise<void> } {
  const dir = resolve(config.dataDir)
  const file = join(dir, SQLITE_FILE)
  let shared = sqliteFiles.get(file)
  if (shared === undefined) {
    let database: DatabaseSync
    try {
      mkdirSync(dir, { recursive: true })
      database = new DatabaseSync(file, { timeout: config.statementTimeoutMs })
      database.exec(
        `pragma journal_mode = wal; pragma synchronous = normal; pragma foreign_keys = on; pragma wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`
      )
    } catch (error) {
      throw new ConfigError(
        'DATA_DIR',
        `cannot create or open the database in "${config.dataDir}" (${reasonOf(error)}): mount a writable volume there`
      )
    }
    shared = {
      db: new Kysely<Schema>({ dialect: new NodeSqliteDialect(database) }),
      users: 0,
      checkpointer: startCheckpointer(file, config.statementTimeoutMs)
    }
    sqliteFiles.set(file, shared)
  }
  const entry = shared
  entry.users++
  return {
    db: entry.db,
    async close() {
      if (--entry.users > 0) return
      sqliteFiles.delete(file)
      await entry.checkpointer.stop()
      // the last connection to close checkpoints what is left and removes the log
      await entry.db.destroy()
    }
  }
}

/** At most this many statement texts get a name (below); others run unnamed. The store's queries are a dozen. */
const MAX_NAMED_STATEMENTS = 100

/** Where Kysely's connections come from: the pool (one user per connection) or the pipelined connection (shared). */
interface ClientSource {
  connect(): Promise<pg.ClientBase>
  release(client: pg.ClientBase, destroy?: boolean): void
  end(): Promise<void>
}

function poolSource(pool: pg.Pool): ClientSource {
  return {
    connect: () => pool.connect(),
    release: (client, destroy) => {
      ;(client as pg.PoolClient).release(destroy)
    },
    end: () => pool.end()
  }
}

/**
 * Connections in pg's pipeline mode, shared by every request at once: each statement is
 * written as soon as it comes, without waiting for the answers to the ones before it on that
 * connection, and the answers come back in order. On loopback that halved the CPU a request
 * costs the API (fewer, fuller socket reads and writes; a few busy backends instead of many
 * waking up in turn). Only for statements that stand alone (`Database.read`, `Database.write`):
 * a transaction needs a connection of its own (the pool). The reads share one connection (the
 * more statements on one connection, the fuller its reads and writes); the writes are spread
 * over several, each statement to the one with the fewest in flight, so that their commits run
 * side by side (with synchronous_commit on, each waits for its WAL flush before its connection
 * runs the next statement), as they would on as many pooled connections. A connection that fails is
 * replaced on next use; the statements in flight on it fail, as DatabaseUnavailable (503).
 */
function pipelinedSource(config: pg.ClientConfig, size: number, onError: (reason: string) => void): ClientSource {
  const slots = Array.from({ length: size }, () => ({ ready: undefined as Promise<pg.Client> | undefined, inFlight: 0 }))
  const slotOf = new Map<pg.ClientBase, (typeof slots)[number]>()
  let ended = false
  const open = (slot: (typeof slots)[number]): Promise<pg.Client> => {
    // `pipeline` is pg's own option (8.23); its types do not list it yet
    const client = new pg.Client({ ...config, pipeline: true } as pg.ClientConfig)
    const ready = client.connect().then(() => {
      slotOf.set(client, slot)
      return client
    })
    const drop = (): void => {
      if (slot.ready === ready) slot.ready = undefined
      slotOf.delete(client)
    }
    client.on('error', (error) => {
      drop()
      onError(reasonOf(error))
    })
    client.on('end', drop)
    ready.catch(drop)
    slot.ready = ready
    return ready
  }
  return {
    async connect() {
      if (ended) throw new Error('Client was closed and is not queryable')
      let slot = slots[0] as (typeof slots)[number]
      for (const other of slots) if (other.inFlight < slot.inFlight) slot = other
      slot.inFlight++
      try {
        return await (slot.ready ?? open(slot))
      } catch (error) {
        slot.inFlight--
        throw error
      }
    },
    release: (client, destroy) => {
      const slot = slotOf.get(client)
      if (slot !== undefined) slot.inFlight--
      // shared: it stays open for the others, unless Kysely found it broken
      if (destroy === true) {
        if (slot !== undefined) slot.ready = undefined
        slotOf.delete(client)
        void (client as pg.Client).end().catch(() => {})
      }
    },
    async end() {
      ended = true
      const open = slots.map((slot) => slot.ready).filter((ready) => ready !== undefined)
      for (const slot of slots) slot.ready = undefined
      await Promise.all(open.map((ready) => ready.then((client) => client.end()).catch(() => {})))
    }
  }
}

/**
 * A source of connections as Kysely's PostgresDialect sees a pool, with each parameterized
 * statement text run as a named prepared statement (`rs1`, `rs2`, … by text, the same name on
 * every connection): PostgreSQL parses and plans it once per connection instead of on every
 * call, and pg skips sending the text again. The store's queries are compiled once
 * (src/db/prepared-query.ts), so their texts are few. Statements without parameters (DDL,
 * BEGIN, COMMIT) run as they are. Once `isClosed()`, it refuses every connection (DatabaseClosed).
 */
function kyselyPool(source: ClientSource, names: Map<string, string>, isClosed: () => boolean): PostgresPool {
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text)
    if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
      name = `rs${names.size + 1}`
      names.set(text, name)
    }
    return name
  }
  // one wrapper per client: Kysely keeps its connection object per client
  const wrappers = new WeakMap<pg.ClientBase, PostgresPoolClient>()
  const wrap = (client: pg.ClientBase): PostgresPoolClient => {
    const query = (text: unknown, values?: unknown[]): unknown => {
      if (typeof text === 'string' && values !== undefined && values.length > 0) {
        const name = nameOf(text)
        if (name !== undefined) return client.query({ name, text, values })
      }
      return client.query(text as string, values)
    }
    return {
      query: query as PostgresPoolClient['query'],
      release: (destroy?: boolean) => {
        source.release(client, destroy)
      }
    }
  }
  return {
    Client: pg.Client,
    options: {},
    async connect() {
      // before the source is asked: after close() no connection is opened, whichever Kysely asks
      if (isClosed()) throw new DatabaseClosed()
      const client = await source.connect()
      let wrapper = wrappers.get(client)
      if (wrapper === undefined) {
        wrapper = wrap(client)
        wrappers.set(client, wrapper)
      }
      return wrapper
    },
    end: () => source.end()
  }
}

function openPostgres(
  config: Extract<DatabaseConfig, { engine: 'postgres' }>,
  options: DatabaseOptions
): { db: Kysely<Schema>; reader: Kysely<Schema>; writer: Kysely<Schema>; close(): Promise<void> } {
  const client: pg.ClientConfig = {
    connectionString: config.url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // the server cancels a statement past this (ERR_DATABASE_UNAVAILABLE), and the client stops waiting a little later
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 1000,
    application_name: 'resource-api'
  }
  // DATABASE_POOL_SIZE connections in all: one pipelined for reads, up to half of the rest
  // pipelined for writes that stand alone, the others pooled (transactions, migrations)
  const readers = config.poolSize >= 2 ? 1 : 0
  const writers = Math.max(0, Math.floor(config.poolSize / 2) - 1)
  const pool = new pg.Pool({ ...client, max: config.poolSize - readers - writers, idleTimeoutMillis: 30_000 })
  const onError = (reason: string): void => {
    options.onPoolError?.(reason)
  }
  // an idle connection dropped by the server (restart, failover) is an event, not a crash
  pool.on('error', (error) => {
    onError(reasonOf(error))
  })
  const names = new Map<string, string>()
  let closed = false
  const isClosed = (): boolean => closed
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: kyselyPool(poolSource(pool), names, isClosed) }) })
  const pipelined = (size: number): Kysely<Schema> =>
    size === 0
      ? db
      : new Kysely<Schema>({ dialect: new PostgresDialect({ pool: kyselyPool(pipelinedSource(client, size, onError), names, isClosed) }) })
  const reader = pipelined(readers)
  const writer = pipelined(writers)
  return {
    db,
    reader,
    writer,
    close: async () => {
      // first, so that no Kysely instance (a destroyed one, or one that never ran a query and
      // so is not marked destroyed) can open a connection from here on
      closed = true
      await Promise.all([db.destroy(), ...[reader, writer].filter((other) => other !== db).map((other) => other.destroy())])
    }
  }
}

export function openDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): Database {
  const { db, close, reader, writer } =
    config.engine === 'sqlite' ? { ...openSqlite(config), reader: undefined, writer: undefined } : openPostgres(config, options)
  // a request's whole work in the database: connecting, then its statements
  const deadlineMs = (config.engine === 'postgres' ? CONNECT_TIMEOUT_MS : 0) + config.statementTimeoutMs + 1000
  let closed: Promise<void> | undefined

  async function run<T>(work: (db: Kysely<Schema>) => Promise<T>, timeoutMs = deadlineMs): Promise<T> {
    // this handle's own state: an SQLite connection is shared by every handle on its file, and
    // stays open for the others
    if (closed !== undefined) throw new DatabaseClosed()
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new DatabaseUnavailable(`no answer within ${timeoutMs} ms`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([work(db), deadline])
    } catch (error) {
      if (error instanceof DatabaseUnavailable) throw error
      if (isUnavailable(error)) throw new DatabaseUnavailable(reasonOf(error), { cause: error })
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    engine: config.engine,
    db,
    run,
    read: (query) => run((db) => (reader ?? db).executeQuery(query)),
    write: (query) => run((db) => (writer ?? db).executeQuery(query)),
    async ping() {
      try {
        await run(async (db) => sql`select 1`.execute(db), Math.min(deadlineMs, 2000))
        return true
      } catch {
        return false
      }
    },
    async migrate() {
      if (closed !== undefined) throw new DatabaseClosed()
      const migrator = new Migrator({ db, provider: migrationProvider })
      const { error, results } = await migrator.migrateToLatest()
      if (error !== undefined) {
        if (isUnavailable(error)) throw new DatabaseUnavailable(reasonOf(error), { cause: error })
        throw error
      }
      return (results ?? []).filter((result) => result.status === 'Success').map((result) => result.migrationName)
    },
    close() {
      closed ??= close()
      return closed
    }
  }
}
