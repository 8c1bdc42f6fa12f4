/**
 * Seen DPoP proofs (RFC 9449 §11.1): a proof is accepted once. The caller gives a short key
 * (already a hash of the proof's `jti` and key) and the time until which a replay of it would
 * still pass the `iat` check; the store answers whether that key is new.
 *
 * Two stores, one contract:
 * - `MemoryReplayStore` for one instance (DATABASE_URL unset): synchronous, O(1) amortized per
 *   call, at most `maxEntries` keys, and at most `maxPerOwner` of them per proof key (the
 *   `owner`, the proof key's thumbprint). Past either bound it refuses new proofs with a 503
 *   instead of forgetting one early (forgetting would let that replay in); the per-owner bound
 *   makes that refusal fall on the key that floods it, not on every client.
 * - `SqlReplayStore` over the shared database (PostgreSQL, or the embedded SQLite file), so that
 *   a proof replayed against another replica is refused too: on PostgreSQL the proofs that
 *   arrive in one turn of the event loop go in one statement (on SQLite one statement each),
 *   and a background sweep deletes the expired rows. Its rows have no bound but the disk: it
 *   ignores `owner`.
 *
 * Either store throws AuthError('ERR_DPOP_REPLAY_CHECK_UNAVAILABLE') (503, Retry-After) when it
 * cannot tell: the proof is then refused, never waved through.
 */
import { CompiledQuery, type QueryResult } from 'kysely'
import { DATABASE_RETRY_AFTER, DatabaseUnavailable, reasonOf, type Database } from '../db/database.js'
import { AuthError } from '../errors.js'

export interface ReplayStore {
  /**
   * Records `key` until `expiresAt` (epoch seconds). true: first use; false: seen before and not
   * expired (a replay). Throws AuthError('ERR_DPOP_REPLAY_CHECK_UNAVAILABLE', { retryAfter, reason })
   * when it cannot tell, or (in process) when `owner` — who made the proof: its key's
   * thumbprint — already holds its share of the store.
   */
  firstUse(key: string, expiresAt: number, owner?: string): boolean | Promise<boolean>
  /** Keys held (the in-process store only). */
  readonly size?: number
  close(): Promise<void>
}

/** Seconds a client is told to wait when the replay check cannot be made. */
export const REPLAY_RETRY_AFTER = DATABASE_RETRY_AFTER

function unavailable(reason: string): AuthError<'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE'> {
  return new AuthError('ERR_DPOP_REPLAY_CHECK_UNAVAILABLE', { retryAfter: REPLAY_RETRY_AFTER, reason })
}

function checkArguments(key: string, expiresAt: number): void {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('replay store: the key must be a non-empty string')
  if (!Number.isFinite(expiresAt)) throw new TypeError('replay store: expiresAt must be a finite number of epoch seconds')
}

/**
 * A key is kept until the whole second at or after its expiry: kept a little longer, never
 * shorter. It has expired once `now` (seconds, fractional) reaches that second.
 */
const expirySecond = (expiresAt: number): number => Math.ceil(expiresAt)

/** A min-heap of numbers (the expiry seconds that have a bucket): a few dozen to a few hundred of them. */
class MinHeap {
  readonly #items: number[] = []

  get size(): number {
    return this.#items.length
  }

  peek(): number | undefined {
    return this.#items[0]
  }

  push(value: number): void {
    const items = this.#items
    let i = items.push(value) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (items[parent]! <= value) break
      items[i] = items[parent]!
      i = parent
    }
    items[i] = value
  }

  pop(): number | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= items.length) break
      const right = left + 1
      const child = right < items.length && items[right]! < items[left]! ? right : left
      if (items[child]! >= last) break
      items[i] = items[child]!
      i = child
    }
    items[i] = last
    return top
  }

  clear(): void {
    this.#items.length = 0
  }
}

/**
 * The keys that expire in one second, in the order they came, with the owner of each (same
 * index); `next` is how far the sweep got.
 */
interface Bucket {
  keys: string[]
  owners: (string | undefined)[]
  next: number
}

export interface MemoryReplayStoreOptions {
  /** Keys held at most; past that (all unexpired), new proofs get the 503. */
  maxEntries: number
  /**
   * Keys one owner (a proof key) may hold at most; past that (all unexpired) its new proofs get
   * the 503 while other owners' are still accepted. Default: `maxEntries`.
   */
  maxPerOwner?: number
  /** Clock in ms (tests move time). */
  now?: () => number
}

/**
 * Keys expired are dropped by expiry second: each key also sits in the bucket of its expiry
 * second, and a min-heap of those seconds says which bucket expires first. Proofs arrive with
 * `expiresAt = iat + window`, so the seconds are nearly increasing and there are few buckets,
 * but any order is handled. Each call sweeps a bounded number of expired keys (each key is
 * swept once, so the cost per call is O(1) amortized); when the store is full it sweeps every
 * expired key before deciding that it is really full.
 *
 * Fairness: a holder of one bound token can make fresh proofs as fast as it can sign them. Each
 * owner's bucket entries are counted (`#owners`), and an owner at `maxPerOwner` has its own new
 * proofs refused, while the others keep the rest of the store; only owners together can fill it
 * (with the default AUTH_DPOP_REPLAY_PER_KEY half of it each: two bound keys). A bucket
 * entry counts until it is swept, also when its key was taken over by a later one (a key reused
 * after it expired); a full sweep, made before refusing anyone, leaves every count exact.
 */
export class MemoryReplayStore implements ReplayStore {
  /** Keys swept at most per call while the store is not full. */
  static readonly SWEEP_BUDGET = 64

  readonly #maxEntries: number
  readonly #maxPerOwner: number
  readonly #now: () => number
  /** key → its expiry second. */
  readonly #keys = new Map<string, number>()
  readonly #buckets = new Map<number, Bucket>()
  readonly #seconds = new MinHeap()
  /** owner → its bucket entries not yet swept. */
  readonly #owners = new Map<string, number>()
  #closed = false

  constructor(options: MemoryReplayStoreOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1)
      throw new RangeError('MemoryReplayStore: maxEntries must be a positive integer')
    const perOwner = options.maxPerOwner ?? options.maxEntries
    if (!Number.isSafeInteger(perOwner) || perOwner < 1) throw new RangeError('MemoryReplayStore: maxPerOwner must be a positive integer')
    this.#maxEntries = options.maxEntries
    this.#maxPerOwner = Math.min(perOwner, options.maxEntries)
    this.#now = options.now ?? Date.now
  }

  /** Unexpired keys (and expired ones not yet swept) that `owner` holds. */
  heldBy(owner: string): number {
    return this.#owners.get(owner) ?? 0
  }

  get size(): number {
    return this.#keys.size
  }

  firstUse(key: string, expiresAt: number, owner?: string): boolean {
    checkArguments(key, expiresAt)
    if (owner !== undefined && (typeof owner !== 'string' || owner === ''))
      throw new TypeError('replay store: the owner must be a non-empty string')
    if (this.#closed) throw unavailable('the replay store is closed')
    const now = this.#now() / 1000
    this.#sweep(now, MemoryReplayStore.SWEEP_BUDGET)
    const second = expirySecond(expiresAt)
    const seen = this.#keys.get(key)
    if (seen !== undefined && seen > now) return false
    // a key whose expiry has passed: nothing to remember, a replay of it fails the iat check
    if (second <= now) return true
    // this owner's share first: a flood from one proof key is refused before it fills the store
    if (owner !== undefined && (this.#owners.get(owner) ?? 0) >= this.#maxPerOwner) {
      this.#sweep(now, Number.POSITIVE_INFINITY)
      if ((this.#owners.get(owner) ?? 0) >= this.#maxPerOwner)
        throw unavailable(`this proof key holds ${this.#maxPerOwner} unexpired proofs, its share of the in-process replay store`)
    }
    if (seen === undefined && this.#keys.size >= this.#maxEntries) {
      this.#sweep(now, Number.POSITIVE_INFINITY)
      if (this.#keys.size >= this.#maxEntries)
        throw unavailable(`the in-process replay store is full (${this.#maxEntries} unexpired proofs)`)
    }
    // new, or seen but expired (its old bucket entry no longer matches and is skipped when swept)
    this.#keys.set(key, second)
    let bucket = this.#buckets.get(second)
    if (bucket === undefined) {
      bucket = { keys: [], owners: [], next: 0 }
      this.#buckets.set(second, bucket)
      this.#seconds.push(second)
    }
    bucket.keys.push(key)
    bucket.owners.push(owner)
    if (owner !== undefined) this.#owners.set(owner, (this.#owners.get(owner) ?? 0) + 1)
    return true
  }

  /** Drops up to `budget` expired keys, oldest expiry first. */
  #sweep(now: number, budget: number): void {
    let left = budget
    for (;;) {
      const second = this.#seconds.peek()
      if (second === undefined || second > now) return
      const bucket = this.#buckets.get(second)!
      const { keys, owners } = bucket
      while (bucket.next < keys.length) {
        if (left-- <= 0) return
        const owner = owners[bucket.next]
        const key = keys[bucket.next++]!
        // only if it is still this bucket's: a key reused after it expired belongs to a later one
        if (this.#keys.get(key) === second) this.#keys.delete(key)
        if (owner !== undefined) {
          const held = (this.#owners.get(owner) ?? 1) - 1
          if (held > 0) this.#owners.set(owner, held)
          else this.#owners.delete(owner)
        }
      }
      this.#buckets.delete(second)
      this.#seconds.pop()
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#keys.clear()
    this.#buckets.clear()
    this.#seconds.clear()
    this.#owners.clear()
  }
}

export interface SqlReplayStoreOptions {
  /** Clock in ms (tests move time); the same clock as the proofs' `iat` check. */
  now?: () => number
  /** How often expired rows are deleted (0: never, tests call `sweep()`). */
  sweepIntervalMs?: number
  /** Rows deleted per statement by the sweep. */
  sweepBatch?: number
  /** Statements per sweep at most (the rest waits for the next one). */
  sweepMaxBatches?: number
  /** Where a failed background sweep is reported (it never throws). */
  onSweepError?: (reason: string) => void
}

export const DEFAULT_SWEEP_INTERVAL_MS = 30_000
export const DEFAULT_SWEEP_BATCH = 5000
export const DEFAULT_SWEEP_MAX_BATCHES = 20

/** Proofs in one batch statement at most (PostgreSQL); more wait for the next. */
export const MAX_BATCH = 256

/**
 * The batch form of the insert (PostgreSQL): the keys and their expiry seconds as two arrays,
 * in key order, so that every statement, on every replica, takes its row locks in one order
 * and two batches cannot deadlock on each other.
 */
const BATCH_INSERT_SQL =
  'insert into "dpop_proofs" ("key", "expires_at") ' +
  'select "k", "e" from unnest($1::text[], $2::bigint[]) with ordinality as "t"("k", "e", "n") order by "n" ' +
  'on conflict ("key") do update set "expires_at" = "excluded"."expires_at" where "dpop_proofs"."expires_at" <= $3 ' +
  'returning "key"'

interface Waiter {
  key: string
  second: number
  resolve: (first: boolean) => void
  reject: (error: unknown) => void
}

/** Placeholder values, told apart from each other in the compiled statement's parameters. */
const KEY_SLOT = '\u0000dpop-key'
const EXPIRES_SLOT = -1_000_001
const NOW_SLOT = -1_000_002
const LIMIT_SLOT = 1_000_003

/** Where each of the given placeholders sits in a compiled statement's parameters. */
function slotsOf(compiled: CompiledQuery, slots: readonly unknown[]): number[] {
  return slots.map((slot) => {
    const at = compiled.parameters.indexOf(slot)
    if (at === -1 || compiled.parameters.lastIndexOf(slot) !== at) throw new Error('replay store: cannot place a query parameter')
    return at
  })
}

/**
 * Seen proofs in the table `dpop_proofs` (src/db/migrations/0002_dpop_proofs.ts), shared by
 * every replica on the database. `firstUse` is one statement:
 *
 *     insert into dpop_proofs (key, expires_at) values ($key, $expires)
 *     on conflict (key) do update set expires_at = excluded.expires_at
 *       where dpop_proofs.expires_at <= $now
 *     returning key
 *
 * A row comes back when the key was new, or was there but expired (then it is taken over): true.
 * No row: a replay. Two replicas racing with one key get exactly one row between them: on
 * PostgreSQL the second insert waits for the first to commit, then finds the conflict and
 * evaluates the update's WHERE against the committed row (now unexpired), so it returns
 * nothing; on SQLite writers are serialized. The background sweep deletes expired rows a
 * bounded batch at a time; a row the sweep and a take-over race for is kept (PostgreSQL
 * rechecks the DELETE's WHERE on the updated row).
 *
 * On PostgreSQL the proofs checked in one turn of the event loop share one statement, the same
 * insert over `unnest` of their keys (BATCH_INSERT_SQL; flushed by setImmediate, or at
 * MAX_BATCH): one round trip and one commit for a few dozen proofs under load instead of one
 * each. Each row behaves as the single insert above, and the keys that come back are the first
 * uses. A key twice in one batch (a replay racing itself) goes in once; the copies are replays.
 * The statement is atomic, so when it fails for any reason other than an unreachable database
 * (a deadlock with the sweep, say) nothing was written, and each key is tried again alone.
 */
export class SqlReplayStore implements ReplayStore {
  readonly #database: Database
  readonly #now: () => number
  readonly #insert: CompiledQuery
  readonly #insertSlots: number[]
  readonly #delete: CompiledQuery
  readonly #deleteSlots: number[]
  readonly #batch: number
  readonly #maxBatches: number
  readonly #onSweepError: ((reason: string) => void) | undefined
  readonly #timer: NodeJS.Timeout | undefined
  readonly #batched: boolean
  /** Proofs waiting for the next batch statement (PostgreSQL). */
  #pending: Waiter[] = []
  #flushScheduled = false
  #sweeping: Promise<number> | undefined
  #closed = false

  constructor(database: Database, options: SqlReplayStoreOptions = {}) {
    this.#database = database
    this.#now = options.now ?? Date.now
    this.#batch = options.sweepBatch ?? DEFAULT_SWEEP_BATCH
    this.#maxBatches = options.sweepMaxBatches ?? DEFAULT_SWEEP_MAX_BATCHES
    this.#onSweepError = options.onSweepError
    this.#batched = database.engine === 'postgres'
    if (!Number.isSafeInteger(this.#batch) || this.#batch < 1) throw new RangeError('SqlReplayStore: sweepBatch must be a positive integer')

    // compiled once: per proof only the parameters change
    const db = database.db
    this.#insert = db
      .insertInto('dpop_proofs')
      .values({ key: KEY_SLOT, expires_at: EXPIRES_SLOT })
      .onConflict((conflict) =>
        conflict
          .column('key')
          .doUpdateSet({ expires_at: (eb) => eb.ref('excluded.expires_at') })
          .where('dpop_proofs.expires_at', '<=', NOW_SLOT)
      )
      .returning('key')
      .compile()
    this.#insertSlots = slotsOf(this.#insert, [KEY_SLOT, EXPIRES_SLOT, NOW_SLOT])
    // PostgreSQL has no DELETE … LIMIT: the keys of one batch, by the expiry index
    this.#delete = db
      .deleteFrom('dpop_proofs')
      .where('key', 'in', (eb) => eb.selectFrom('dpop_proofs').select('key').where('expires_at', '<=', NOW_SLOT).limit(LIMIT_SLOT))
      .compile()
    this.#deleteSlots = slotsOf(this.#delete, [NOW_SLOT, LIMIT_SLOT])

    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS
    if (interval > 0) {
      this.#timer = setInterval(() => {
        this.sweep().catch((error: unknown) => {
          this.#onSweepError?.(error instanceof AuthError ? (error.reason ?? error.code) : reasonOf(error))
        })
      }, interval).unref()
    }
  }

  /** `owner` is not used: the table's bound is the disk, and the sweep keeps it to the window's proofs. */
  async firstUse(key: string, expiresAt: number, _owner?: string): Promise<boolean> {
    checkArguments(key, expiresAt)
    if (this.#closed) throw unavailable('the replay store is closed')
    const now = Math.floor(this.#now() / 1000)
    const second = expirySecond(expiresAt)
    // already expired: nothing to remember (a replay of it fails the iat check)
    if (second <= now) return true
    if (!this.#batched) return this.#firstUseAlone(key, second, now)
    return new Promise<boolean>((resolve, reject) => {
      this.#pending.push({ key, second, resolve, reject })
      if (this.#pending.length >= MAX_BATCH) this.#flush()
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true
        setImmediate(() => {
          this.#flushScheduled = false
          this.#flush()
        })
      }
    })
  }

  /** One statement for one key. */
  async #firstUseAlone(key: string, second: number, now: number): Promise<boolean> {
    const parameters = [...this.#insert.parameters]
    parameters[this.#insertSlots[0]!] = key
    parameters[this.#insertSlots[1]!] = second
    parameters[this.#insertSlots[2]!] = now
    const statement = CompiledQuery.raw(this.#insert.sql, parameters)
    // one statement that stands alone: the pipelined write connections on PostgreSQL
    const result = await this.#write<{ key: string }>(statement)
    return result.rows.length > 0
  }

  /** Sends the waiting proofs as one statement (see the class comment). */
  #flush(): void {
    const waiting = this.#pending
    if (waiting.length === 0) return
    this.#pending = []
    if (this.#closed) {
      for (const waiter of waiting) waiter.reject(unavailable('the replay store is closed'))
      return
    }
    // one row per distinct key, in key order; the later copies of a key wait for its first
    const first = new Map<string, Waiter>()
    const copies: Waiter[] = []
    for (const waiter of waiting) {
      if (first.has(waiter.key)) copies.push(waiter)
      else first.set(waiter.key, waiter)
    }
    const rows = [...first.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    const now = Math.floor(this.#now() / 1000)
    const statement = CompiledQuery.raw(BATCH_INSERT_SQL, [rows.map((row) => row.key), rows.map((row) => row.second), now])
    this.#write<{ key: string }>(statement).then(
      (result) => {
        const taken = new Set(result.rows.map((row) => row.key))
        for (const row of rows) row.resolve(taken.has(row.key))
        for (const copy of copies) copy.resolve(false)
      },
      (error: unknown) => {
        if (error instanceof AuthError) {
          for (const waiter of waiting) waiter.reject(error)
          return
        }
        // nothing was written: each key alone, as before batching
        for (const row of rows) this.#firstUseAlone(row.key, row.second, now).then(row.resolve, row.reject)
        for (const copy of copies) copy.resolve(false)
      }
    )
  }

  /**
   * Deletes expired rows, a batch per statement, until a batch comes back short (or after
   * `sweepMaxBatches`). The number deleted. The timer calls it; tests may too.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepAll().finally(() => {
      this.#sweeping = undefined
    })
    return this.#sweeping
  }

  async #sweepAll(): Promise<number> {
    let total = 0
    for (let i = 0; i < this.#maxBatches && !this.#closed; i++) {
      const parameters = [...this.#delete.parameters]
      parameters[this.#deleteSlots[0]!] = Math.floor(this.#now() / 1000)
      parameters[this.#deleteSlots[1]!] = this.#batch
      const statement = CompiledQuery.raw(this.#delete.sql, parameters)
      const result = await this.#execute((db) => db.executeQuery(statement))
      const deleted = Number(result.numAffectedRows ?? 0)
      total += deleted
      if (deleted < this.#batch) break
    }
    return total
  }

  async #write<R>(statement: CompiledQuery<R>): Promise<QueryResult<R>> {
    try {
      return await this.#database.write(statement)
    } catch (error) {
      if (error instanceof DatabaseUnavailable) throw unavailable(`database unavailable: ${error.reason}`)
      throw error
    }
  }

  async #execute<T>(work: (db: Database['db']) => Promise<T>): Promise<T> {
    try {
      return await this.#database.run(work)
    } catch (error) {
      if (error instanceof DatabaseUnavailable) throw unavailable(`database unavailable: ${error.reason}`)
      throw error
    }
  }

  /** Stops the sweep (the database is closed by its owner); proofs already waiting still get their statement. */
  async close(): Promise<void> {
    this.#flush()
    this.#closed = true
    clearInterval(this.#timer)
    await this.#sweeping?.catch(() => {})
  }
}
