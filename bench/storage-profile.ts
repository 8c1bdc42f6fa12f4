/**
 * `npx tsx bench/storage-profile.ts [embedded|postgres] [list|create] [seconds]`: the built
 * server (dist/server.js) under the storage bench's load (wrk), with `--cpu-prof`, and the
 * profile's summary (bench/cpuprofile-summary.ts) of the measured period. For finding where a
 * storage request's time goes; `npm run bench` measures the ratios.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeKey } from '../test/helpers/keys.js'
import { startTestIssuer } from '../test/helpers/test-issuer.js'
import { startTestPostgres, type TestPostgres } from '../test/helpers/test-postgres.js'
import { profileMarkdown, summarizeCpuProfile } from './cpuprofile-summary.js'
import { runLoad } from './loaders.js'
import { freePort, killAllOnExit, spawnLogged, stop, waitForHttp } from './processes.js'
import { mintMany, mintOne } from './tokens.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'bench', 'out', 'profiles')
const engine = process.argv[2] ?? 'embedded'
const scenario = process.argv[3] ?? 'list'
const seconds = Number(process.argv[4] ?? 5)

killAllOnExit()
mkdirSync(OUT, { recursive: true })
const rsa = makeKey('RS256')
const issuer = await startTestIssuer({ keys: [rsa] })
const context = { issuer: issuer.url, audience: 'https://api.example.com' }
let postgres: TestPostgres | undefined
let dataDir: string | undefined
try {
  let env: NodeJS.ProcessEnv
  if (engine === 'postgres') {
    postgres = await startTestPostgres()
    env = { DATABASE_URL: await postgres.createDatabase() }
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'bench-data-'))
    env = { DATA_DIR: dataDir }
  }
  const listToken = mintOne(rsa, context, 'messages-list')
  const tokenFile = join(ROOT, 'bench', 'out', `profile-tokens-${scenario}.txt`)
  writeFileSync(
    tokenFile,
    scenario === 'list' ? `${listToken}\n` : `${(await mintMany(rsa, context, 1000, 'messages-create')).join('\n')}\n`
  )
  const port = await freePort()
  const name = `storage-${engine}-${scenario}`
  const spawned = spawnLogged(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${OUT}`, `--cpu-prof-name=${name}.cpuprofile`, join(ROOT, 'dist/server.js')],
    {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: context.audience,
      AUTH_ALGORITHMS: 'RS256',
      ...env
    },
    join(ROOT, 'bench', 'out', `${name}.log`)
  )
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/health/ready`, spawned)
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${listToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: `Seeded message ${i + 1} of 20` })
    })
    if (response.status !== 201) throw new Error(`seeding: ${response.status} ${await response.text()}`)
  }
  const result = await runLoad('wrk', {
    url: `${url}/api/messages`,
    connections: 32,
    warmupSec: 2,
    durationSec: seconds,
    serverPid: spawned.pid,
    tokenFile,
    ...(scenario === 'create'
      ? { method: 'POST' as const, body: JSON.stringify({ text: 'A message written by the bench, about sixty characters long.' }) }
      : {})
  })
  await stop(spawned)
  console.log(
    `${engine} ${scenario}: ${result.rps.toFixed(0)} req/s, non-2xx ${result.non2xx}, CPU ${result.serverCpuUsPerRequest.toFixed(1)} µs/req (event loop ${result.serverLoopCpuUsPerRequest.toFixed(1)})`
  )
  const top = Number(process.env.PROFILE_TOP ?? 30)
  console.log(profileMarkdown(summarizeCpuProfile(join(OUT, `${name}.cpuprofile`), top, result.windowUs), result.requests))
} finally {
  await postgres?.close()
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  await issuer.close()
}
