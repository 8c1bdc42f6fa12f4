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
import { Kysely, PostgresDialect, sql } from 'kysely'
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
  /** True when the database answers a trivial query in time (readiness). */
  ping(): Promise<boolean>
  /** Applies every pending migration (see ./migrations); the names applied. */
  migrate(): Promise<string[]>
  close(): Promise<void>
}

export interface DatabaseOptions {
  /** Where a pool error on an idle connection is reported (it must never crash the process). */
  onPoolError?: (reason: string) => void
}

/**
 * One connection per database file per process, shared by every `Database` opened on it:
 * node:sqlite is synchronous, so a second connection in the same process waiting for the
 * first one's write lock would block the very event loop the first needs to finish. Kysely
 * queues the work on the one connection; BEGIN IMMEDIATE and the busy timeout serialize
 * writers in other processes (`npm run db:migrate` next to a running server).
 */
const sqliteFiles = new Map<string, { db: Kysely<Schema>; users: number }>()

function openSqlite(config: Extract<DatabaseConfig, { engine: 'sqlite' }>): { db: Kysely<Schema>; close(): Promise<void> } {
  const dir = resolve(config.dataDir)
  const file = join(dir, SQLITE_FILE)
  let shared = sqliteFiles.get(file)
  if (shared === undefined) {
    let database: DatabaseSync
    try {
      mkdirSync(dir, { recursive: true })
      database = new DatabaseSync(file, { timeout: config.statementTimeoutMs })
      database.exec('pragma journal_mode = wal; pragma synchronous = normal; pragma foreign_keys = on')
    } catch (error) {
      throw new ConfigError(
        'DATA_DIR',
        `cannot create or open the database in "${config.dataDir}" (${reasonOf(error)}): mount a writable volume there`
      )
    }
    shared = { db: new Kysely<Schema>({ dialect: new NodeSqliteDialect(database) }), users: 0 }
    sqliteFiles.set(file, shared)
  }
  const entry = shared
  entry.users++
  return {
    db: entry.db,
    async close() {
      if (--entry.users > 0) return
      sqliteFiles.delete(file)
      await entry.db.destroy()
    }
  }
}

function openPostgres(
  config: Extract<DatabaseConfig, { engine: 'postgres' }>,
  options: DatabaseOptions
): { db: Kysely<Schema>; close(): Promise<void> } {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    // the server cancels a statement past this (ERR_DATABASE_UNAVAILABLE), and the client stops waiting a little later
    statement_timeout: config.statementTimeoutMs,
    query_timeout: config.statementTimeoutMs + 1000,
    application_name: 'resource-api'
  })
  // an idle connection dropped by the server (restart, failover) is an event, not a crash
  pool.on('error', (error) => {
    options.onPoolError?.(reasonOf(error))
  })
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  return { db, close: () => db.destroy() }
}

export function openDatabase(config: DatabaseConfig, options: DatabaseOptions = {}): Database {
  const { db, close } = config.engine === 'sqlite' ? openSqlite(config) : openPostgres(config, options)
  // a request's whole work in the database: connecting, then its statements
  const deadlineMs = (config.engine === 'postgres' ? CONNECT_TIMEOUT_MS : 0) + config.statementTimeoutMs + 1000
  let closed: Promise<void> | undefined

  async function run<T>(work: (db: Kysely<Schema>) => Promise<T>, timeoutMs = deadlineMs): Promise<T> {
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
    async ping() {
      try {
        await run(async (db) => sql`select 1`.execute(db), Math.min(deadlineMs, 2000))
        return true
      } catch {
        return false
      }
    },
    async migrate() {
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
