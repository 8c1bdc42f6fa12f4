/**
 * plugins/dpop-replay-store.ts on its own (with the config, metrics and database plugins it
 * needs): the in-process store on the embedded database, the SQL store on PostgreSQL (a proof
 * seen by one instance refused by another), the gauge, and the store closed with the app.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import configPlugin from '../../plugins/config.js'
import databasePlugin from '../../plugins/database.js'
import dpopReplayStorePlugin from '../../plugins/dpop-replay-store.js'
import metricsPlugin from '../../plugins/metrics.js'
import { loadConfig } from '../../src/config.js'
import { MemoryReplayStore, SqlReplayStore } from '../../src/dpop/replay-store.js'
import { AuthError } from '../../src/errors.js'
import { startTestPostgres, type TestPostgres } from '../helpers/test-postgres.js'

let postgres: TestPostgres
let dataDir: string

beforeAll(async () => {
  postgres = await startTestPostgres()
  dataDir = await mkdtemp(join(tmpdir(), 'replay-plugin-test-'))
})
afterAll(async () => {
  await postgres?.close()
  await rm(dataDir, { recursive: true, force: true })
})

async function app(env: Record<string, string>): Promise<FastifyInstance> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    AUTH_ISSUER: 'https://issuer.example.test/',
    AUTH_AUDIENCE: 'https://api.example.test',
    ...env
  })
  const instance = Fastify({ logger: false })
  await instance.register(configPlugin, { config })
  await instance.register(metricsPlugin)
  await instance.register(databasePlugin)
  await instance.register(dpopReplayStorePlugin)
  await instance.ready()
  return instance
}

const soon = (): number => Date.now() / 1000 + 60

describe('the DPoP replay store plugin', () => {
  it('keeps proofs in process, bounded by AUTH_DPOP_REPLAY_CACHE_SIZE, without PostgreSQL; the gauge counts them', async () => {
    const instance = await app({ DATA_DIR: dataDir, AUTH_DPOP_REPLAY_CACHE_SIZE: '1000' })
    const store = instance.dpopReplayStore
    try {
      expect(store).toBeInstanceOf(MemoryReplayStore)
      for (let i = 0; i < 1000; i++) expect(store.firstUse(`k${i}`, soon())).toBe(true)
      expect(store.firstUse('k0', soon())).toBe(false)
      expect(() => store.firstUse('one too many', soon())).toThrow(AuthError)
      expect(await instance.metrics.registry.getSingleMetricAsString('dpop_replay_entries')).toMatch(/^dpop_replay_entries 1000$/m)
    } finally {
      await instance.close()
    }
    // closed with the app
    expect(store.size).toBe(0)
    expect(() => store.firstUse('after', soon())).toThrow(AuthError)
  })

  it('keeps proofs in PostgreSQL when it is configured: a proof seen by one instance is refused by another', async () => {
    const url = await postgres.createDatabase()
    const [one, two] = await Promise.all([app({ DATABASE_URL: url }), app({ DATABASE_URL: url })])
    try {
      expect(one.dpopReplayStore).toBeInstanceOf(SqlReplayStore)
      expect(await one.dpopReplayStore.firstUse('proof', soon())).toBe(true)
      expect(await two.dpopReplayStore.firstUse('proof', soon())).toBe(false)
      expect(await one.dpopReplayStore.firstUse('proof', soon())).toBe(false)
      expect(await one.metrics.registry.getSingleMetricAsString('dpop_replay_entries')).toMatch(/^dpop_replay_entries 0$/m)
    } finally {
      await Promise.all([one.close(), two.close()])
    }
  })
})
