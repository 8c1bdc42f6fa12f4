/**
 * The DPoP replay stores (src/dpop/replay-store.ts), one behaviour suite against each: the
 * in-process store, the SQL store on node:sqlite (a file in a temporary DATA_DIR) and on a
 * real PostgreSQL server started for this file (test/helpers/test-postgres.ts). Two
 * `Database`s on one database stand for two replicas. Time is a clock the test moves.
 */
import { sql } from 'kysely'
import { Migrator } from 'kysely/migration'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DatabaseConfig } from '../../src/config.js'
import type { Database } from '../../src/db/database.js'
import { migrationProvider } from '../../src/db/migrations/index.js'
import { MemoryReplayStore, SqlReplayStore, type ReplayStore } from '../../src/dpop/replay-store.js'
import { AuthError } from '../../src/errors.js'
import { useTestDatabases } from '../helpers/test-databases.js'

const databases = useTestDatabases({ prefix: 'replay-test', statementTimeoutMs: 2000 })
const { freshDatabase, opened } = databases

/** A clock in ms the test moves. */
function testClock(startSeconds = 1_800_000_000): { now: () => number; seconds: () => number; advance(seconds: number): void } {
  let ms = startSeconds * 1000
  return {
    now: () => ms,
    seconds: () => ms / 1000,
    advance(seconds) {
      ms += seconds * 1000
    }
  }
}

function expectUnavailable(error: unknown): void {
  expect(error).toBeInstanceOf(AuthError)
  expect(error).toMatchObject({ code: 'ERR_DPOP_REPLAY_CHECK_UNAVAILABLE', status: 503, retryAfter: 5, reason: expect.any(String) })
}

async function rowCount(database: Database): Promise<number> {
  const row = await database.db
    .selectFrom('dpop_proofs')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

let serial = 0
const freshKey = (): string => `k${++serial}-${Math.random().toString(36).slice(2)}`

type Kind = 'memory' | 'sqlite' | 'postgres'

interface Harness {
  clock: ReturnType<typeof testClock>
  store: ReplayStore
  /** Another replica's store on the same data (the memory store has none). */
  replica?: () => Promise<{ store: ReplayStore; close(): Promise<void> }>
  /** Drops what has expired (the SQL store's sweep; the memory store does it as it goes). */
  sweep(): Promise<void>
  /** Keys held. */
  count(): Promise<number>
}

describe.each(['memory', 'sqlite', 'postgres'] as const)('the replay store (%s)', (kind: Kind) => {
  let config: DatabaseConfig | undefined
  let database: Database | undefined
  let harness: Harness

  beforeAll(async () => {
    const clock = testClock()
    if (kind === 'memory') {
      const store = new MemoryReplayStore({ maxEntries: 10_000, now: clock.now })
      // the memory store sweeps as it goes: calls with a key already expired (never kept) drive it
      const sweep = async (): Promise<void> => {
        for (let before = -1; before !== store.size;) {
          before = store.size
          store.firstUse('sweep', 0)
        }
      }
      harness = { clock, store, sweep, count: async () => store.size }
      return
    }
    config = await freshDatabase(kind)
    const db = (database = await opened(config))
    const store = new SqlReplayStore(db, { now: clock.now, sweepIntervalMs: 0 })
    const shared = config
    harness = {
      clock,
      store,
      sweep: async () => {
        await store.sweep()
      },
      count: () => rowCount(db),
      replica: async () => {
        const other = await opened(shared)
        const replica = new SqlReplayStore(other, { now: clock.now, sweepIntervalMs: 0 })
        return {
          store: replica,
          async close() {
            await replica.close()
            await other.close()
          }
        }
      }
    }
  })
  afterAll(async () => {
    await harness?.store.close()
    await database?.close()
  })

  it('says true on first use and false on a replay, per key', async () => {
    const { store, clock } = harness
    const [a, b] = [freshKey(), freshKey()]
    const until = clock.seconds() + 60
    expect(await store.firstUse(a, until)).toBe(true)
    expect(await store.firstUse(a, until)).toBe(false)
    expect(await store.firstUse(a, until + 30)).toBe(false)
    expect(await store.firstUse(b, until)).toBe(true)
    expect(await store.firstUse(b, until)).toBe(false)
  })

  it('refuses a replay until the key expires, and takes the key again after', async () => {
    const { store, clock } = harness
    const key = freshKey()
    expect(await store.firstUse(key, clock.seconds() + 10)).toBe(true)
    clock.advance(9.5)
    expect(await store.firstUse(key, clock.seconds() + 10)).toBe(false)
    clock.advance(0.5)
    // expired: a first use again, remembered for its new window
    expect(await store.firstUse(key, clock.seconds() + 10)).toBe(true)
    expect(await store.firstUse(key, clock.seconds() + 10)).toBe(false)
    clock.advance(5)
    expect(await store.firstUse(key, clock.seconds() + 10)).toBe(false)
    clock.advance(5)
    expect(await store.firstUse(key, clock.seconds() + 10)).toBe(true)
  })

  it('keeps a key reused after expiry although its old expiry is swept', async () => {
    const { store, clock } = harness
    const key = freshKey()
    // more expired keys ahead of it than one call sweeps: its old entry outlives its reuse
    for (let i = 0; i < 4 * MemoryReplayStore.SWEEP_BUDGET; i++) await store.firstUse(freshKey(), clock.seconds() + 1)
    expect(await store.firstUse(key, clock.seconds() + 2)).toBe(true)
    clock.advance(3)
    expect(await store.firstUse(key, clock.seconds() + 30)).toBe(true)
    // the old expiry second's turn to be swept: the key now belongs to the later one
    for (let i = 0; i < 20; i++) await store.firstUse(freshKey(), clock.seconds() + 30)
    await harness.sweep()
    expect(await store.firstUse(key, clock.seconds() + 30)).toBe(false)
  })

  it('handles expiries that arrive out of order', async () => {
    const { store, clock } = harness
    const late = freshKey()
    const early = freshKey()
    const t = clock.seconds()
    expect(await store.firstUse(late, t + 100)).toBe(true)
    expect(await store.firstUse(early, t + 5)).toBe(true)
    clock.advance(6)
    await harness.sweep()
    expect(await store.firstUse(late, clock.seconds() + 100)).toBe(false)
    expect(await store.firstUse(early, clock.seconds() + 100)).toBe(true)
    clock.advance(100)
    expect(await store.firstUse(late, clock.seconds() + 100)).toBe(true)
  })

  it('answers many proofs at once (one statement on PostgreSQL), a key among them twice: each distinct key is new exactly once', async () => {
    const { store, clock } = harness
    const keys = Array.from({ length: 40 }, () => freshKey())
    const seen = freshKey()
    expect(await store.firstUse(seen, clock.seconds() + 30)).toBe(true)
    const asked = [...keys, keys[0]!, keys[7]!, keys[0]!, seen]
    const answers = await Promise.all(asked.map((key) => store.firstUse(key, clock.seconds() + 30)))
    const firsts = new Map<string, number>()
    asked.forEach((key, i) => firsts.set(key, (firsts.get(key) ?? 0) + (answers[i] ? 1 : 0)))
    for (const key of keys) expect(firsts.get(key)).toBe(1)
    expect(firsts.get(seen)).toBe(0)
    for (const key of keys) expect(await store.firstUse(key, clock.seconds() + 30)).toBe(false)
  })

  it('does not remember a key that has already expired', async () => {
    const { store, clock } = harness
    const key = freshKey()
    const before = await harness.count()
    expect(await store.firstUse(key, clock.seconds() - 1)).toBe(true)
    expect(await harness.count()).toBeLessThanOrEqual(before)
  })

  it('stays bounded under a flood of fresh proofs once time passes', async () => {
    const { store, clock } = harness
    await harness.sweep()
    clock.advance(1000)
    await harness.sweep()
    const floor = await harness.count()
    const perSecond = kind === 'memory' ? 2000 : 200
    let peak = 0
    for (let second = 0; second < 20; second++) {
      const keys = Array.from({ length: perSecond }, freshKey)
      const answers = await Promise.all(keys.map((key) => store.firstUse(key, clock.seconds() + 3)))
      expect(answers.every(Boolean)).toBe(true)
      clock.advance(1)
      await harness.sweep()
      peak = Math.max(peak, await harness.count())
    }
    // at most the keys of the last few seconds (the expiry window), not the 20 seconds' worth
    expect(peak - floor).toBeLessThanOrEqual(4 * perSecond + MemoryReplayStore.SWEEP_BUDGET)
    clock.advance(10)
    await harness.sweep()
    expect(await harness.count()).toBeLessThanOrEqual(floor)
  })

  // the SQL engines only: replicas and a background sweep are theirs
  if (kind !== 'memory') {
    it('gives exactly one true when two replicas race with the same keys', async () => {
      const { store, clock } = harness
      const replica = await harness.replica!()
      try {
        const keys = Array.from({ length: 300 }, freshKey)
        const until = clock.seconds() + 60
        const answers = await Promise.all(keys.flatMap((key) => [store.firstUse(key, until), replica.store.firstUse(key, until)]))
        for (let i = 0; i < keys.length; i++) expect([answers[2 * i], answers[2 * i + 1]].filter(Boolean)).toHaveLength(1)
        // and after the keys expired, racing again to take them over: once more exactly one each
        clock.advance(61)
        const again = await Promise.all(
          keys.flatMap((key) => [replica.store.firstUse(key, clock.seconds() + 60), store.firstUse(key, clock.seconds() + 60)])
        )
        for (let i = 0; i < keys.length; i++) expect([again[2 * i], again[2 * i + 1]].filter(Boolean)).toHaveLength(1)
        // a proof seen by one replica is refused by the other
        const key = freshKey()
        expect(await store.firstUse(key, clock.seconds() + 60)).toBe(true)
        expect(await replica.store.firstUse(key, clock.seconds() + 60)).toBe(false)
      } finally {
        await replica.close()
      }
    })
  }

  // the SQL engines only: replicas and a background sweep are theirs
  if (kind !== 'memory') {
    it('sweeps expired rows in bounded batches, in the background, until closed', async () => {
      const db = database!
      const clock = testClock(2_000_000_000)
      const store = new SqlReplayStore(db, { now: clock.now, sweepIntervalMs: 0, sweepBatch: 50, sweepMaxBatches: 2 })
      // what the other cases left has expired by this clock
      while ((await store.sweep()) > 0);
      await Promise.all(Array.from({ length: 250 }, () => store.firstUse(freshKey(), clock.seconds() + 5)))
      const live = freshKey()
      await store.firstUse(live, clock.seconds() + 500)
      const before = await rowCount(db)
      clock.advance(10)
      // two batches of 50 per sweep
      expect(await store.sweep()).toBe(100)
      expect(await rowCount(db)).toBe(before - 100)
      expect(await store.sweep()).toBe(100)
      expect(await store.sweep()).toBe(50)
      expect(await store.sweep()).toBe(0)
      expect(await store.firstUse(live, clock.seconds() + 500)).toBe(false)
      await store.close()

      const timed = new SqlReplayStore(db, { now: clock.now, sweepIntervalMs: 20 })
      await Promise.all(Array.from({ length: 20 }, () => timed.firstUse(freshKey(), clock.seconds() + 5)))
      const withExpiring = await rowCount(db)
      clock.advance(10)
      await expect.poll(() => rowCount(db), { timeout: 5000 }).toBe(withExpiring - 20)
      await timed.close()
      await expect(timed.firstUse(freshKey(), clock.seconds() + 5)).rejects.toSatisfy((error) => {
        expectUnavailable(error)
        return true
      })
    })
  }
})

describe('the in-process replay store', () => {
  it('gives each owner (proof key) its share: past it only that owner is refused (503), and its share comes back as its keys expire', () => {
    const clock = testClock()
    const store = new MemoryReplayStore({ maxEntries: 10, maxPerOwner: 3, now: clock.now })
    const t = clock.seconds()
    for (let i = 0; i < 3; i++) expect(store.firstUse(`m${i}`, t + 10 * (i + 1), 'mallory')).toBe(true)
    expect(store.heldBy('mallory')).toBe(3)
    try {
      store.firstUse('m3', t + 10, 'mallory')
      expect.unreachable()
    } catch (error) {
      expectUnavailable(error)
    }
    // a replay of his is still told apart from a new proof, and others are not touched
    expect(store.firstUse('m0', t + 10, 'mallory')).toBe(false)
    for (let i = 0; i < 3; i++) expect(store.firstUse(`a${i}`, t + 10, 'alice')).toBe(true)
    expect(store.firstUse('k0', t + 10)).toBe(true) // no owner: only the store's bound
    expect(store.size).toBe(7)
    // his first key expires: room for exactly one more of his
    clock.advance(11)
    expect(store.firstUse('m3', clock.seconds() + 10, 'mallory')).toBe(true)
    expect(() => store.firstUse('m4', clock.seconds() + 10, 'mallory')).toThrow(AuthError)
    clock.advance(100)
    expect(store.firstUse('m5', clock.seconds() + 10, 'mallory')).toBe(true)
    expect(store.heldBy('mallory')).toBe(1)
    expect(store.heldBy('alice')).toBe(0)
  })

  it('counts a key taken over after it expired once, whoever its owner', () => {
    const clock = testClock()
    const store = new MemoryReplayStore({ maxEntries: 10, maxPerOwner: 2, now: clock.now })
    expect(store.firstUse('k', clock.seconds() + 5, 'o')).toBe(true)
    clock.advance(6)
    // expired, not yet swept: taken over by a new use
    expect(store.firstUse('k', clock.seconds() + 5, 'o')).toBe(true)
    expect(store.firstUse('l', clock.seconds() + 5, 'o')).toBe(true)
    expect(store.size).toBe(2)
    expect(() => store.firstUse('m', clock.seconds() + 5, 'o')).toThrow(AuthError)
    clock.advance(6)
    expect(store.firstUse('m', clock.seconds() + 5, 'o')).toBe(true)
    expect(store.heldBy('o')).toBe(1)
  })

  it('when full of unexpired keys refuses new ones with a 503 and never forgets one early', () => {
    const clock = testClock()
    const store = new MemoryReplayStore({ maxEntries: 3, now: clock.now })
    const t = clock.seconds()
    expect(store.firstUse('a', t + 10)).toBe(true)
    expect(store.firstUse('b', t + 20)).toBe(true)
    expect(store.firstUse('c', t + 30)).toBe(true)
    for (let i = 0; i < 5; i++) expect(() => store.firstUse(`new${i}`, t + 10)).toThrow(AuthError)
    try {
      store.firstUse('d', t + 10)
      expect.unreachable()
    } catch (error) {
      expectUnavailable(error)
    }
    // the keys it holds are still refused, none was dropped to make room
    expect(store.firstUse('a', t + 10)).toBe(false)
    expect(store.firstUse('b', t + 10)).toBe(false)
    expect(store.firstUse('c', t + 10)).toBe(false)
    expect(store.size).toBe(3)
    clock.advance(9)
    expect(() => store.firstUse('d', clock.seconds() + 10)).toThrow(AuthError)
    expect(store.firstUse('a', clock.seconds() + 10)).toBe(false)
    // once the first expires, there is room for exactly one
    clock.advance(1)
    expect(store.firstUse('d', clock.seconds() + 10)).toBe(true)
    expect(() => store.firstUse('e', clock.seconds() + 10)).toThrow(AuthError)
    expect(store.firstUse('b', clock.seconds() + 10)).toBe(false)
    expect(store.firstUse('d', clock.seconds() + 10)).toBe(false)
  })

  it('frees the room of every expired key when full, even past the sweep budget', () => {
    const clock = testClock()
    const max = MemoryReplayStore.SWEEP_BUDGET * 10
    const store = new MemoryReplayStore({ maxEntries: max, now: clock.now })
    for (let i = 0; i < max; i++) expect(store.firstUse(`old${i}`, clock.seconds() + 1)).toBe(true)
    clock.advance(2)
    for (let i = 0; i < max; i++) expect(store.firstUse(`new${i}`, clock.seconds() + 1)).toBe(true)
    expect(store.size).toBe(max)
  })

  it('answers synchronously, and a closed store refuses with a 503', async () => {
    const store = new MemoryReplayStore({ maxEntries: 10 })
    expect(store.firstUse('k', Date.now() / 1000 + 60)).toBe(true)
    await store.close()
    expect(store.size).toBe(0)
    expect(() => store.firstUse('k2', Date.now() / 1000 + 60)).toThrow(AuthError)
  })

  it('refuses arguments that are not a key and a time', () => {
    const store = new MemoryReplayStore({ maxEntries: 10 })
    expect(() => store.firstUse('', 1)).toThrow(TypeError)
    expect(() => store.firstUse('k', Number.NaN)).toThrow(TypeError)
    expect(() => new MemoryReplayStore({ maxEntries: 0 })).toThrow(RangeError)
  })

  it('keeps memory bounded under a flood of a million fresh proofs over 10 minutes of traffic', () => {
    const clock = testClock()
    const window = 60
    const store = new MemoryReplayStore({ maxEntries: 200_000, now: clock.now })
    let peak = 0
    let refused = 0
    // 1000 proofs a second, iat jittered by up to ±5 s: expiries nearly, not strictly, in order
    for (let second = 0; second < 1000; second++) {
      for (let i = 0; i < 1000; i++) {
        const iat = Math.floor(clock.seconds()) - (i % 11) + 5
        if (!store.firstUse(`s${second}-${i}`, iat + window)) refused++
        clock.advance(0.001)
      }
      peak = Math.max(peak, store.size)
    }
    expect(refused).toBe(0)
    expect(peak).toBeLessThanOrEqual((window + 6) * 1000 + MemoryReplayStore.SWEEP_BUDGET)
    expect(peak).toBeGreaterThanOrEqual((window - 6) * 1000)
  })
})

describe('the SQL replay store when the database is away', () => {
  it('answers the 503 while PostgreSQL is stopped, and works again once it is back', async () => {
    const config = await freshDatabase('postgres')
    const database = await opened(config)
    const store = new SqlReplayStore(database, { sweepIntervalMs: 0 })
    try {
      const key = freshKey()
      const until = Date.now() / 1000 + 120
      expect(await store.firstUse(key, until)).toBe(true)
      await databases.postgres.stop()
      try {
        const error = await Promise.resolve(store.firstUse(freshKey(), until)).then(
          () => undefined,
          (caught: unknown) => caught
        )
        expectUnavailable(error)
        const swept = await store.sweep().then(
          () => undefined,
          (caught: unknown) => caught
        )
        expectUnavailable(swept)
      } finally {
        await databases.postgres.start()
      }
      // the pool reconnects: the replay is still refused (the row outlived the outage), a new key is accepted
      await expect
        .poll(
          () =>
            store.firstUse(key, until).then(
              (answer) => answer,
              () => 'unavailable'
            ),
          { timeout: 15_000, interval: 200 }
        )
        .toBe(false)
      expect(await store.firstUse(freshKey(), until)).toBe(true)
    } finally {
      await store.close()
      await database.close()
    }
  })

  it('runs the migration on both engines, and undoes it', async () => {
    for (const engine of ['sqlite', 'postgres'] as const) {
      const database = await opened(await freshDatabase(engine))
      try {
        const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(database.db)
        expect(rows.map((row) => row.name)).toEqual(['0001_messages', '0002_dpop_proofs'])
        const { error, results } = await new Migrator({ db: database.db, provider: migrationProvider }).migrateDown()
        expect(error).toBeUndefined()
        expect(results).toEqual([expect.objectContaining({ migrationName: '0002_dpop_proofs', status: 'Success' })])
        await expect(rowCount(database)).rejects.toThrow()
        expect(await database.migrate()).toEqual(['0002_dpop_proofs'])
        expect(await rowCount(database)).toBe(0)
      } finally {
        await database.close()
      }
    }
  })
})
