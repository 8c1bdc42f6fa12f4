/**
 * The load generator, always in a process of its own: wrk (with bench/wrk.lua) where it is
 * installed, autocannon (bench/autocannon-child.mjs) otherwise. A run is a warm-up, then the
 * measured period; the server's CPU time is read around the measured period only.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { cpuSeconds, rssBytes, runCollect, ticksPerSecond } from './processes.js'

export type LoaderKind = 'wrk' | 'autocannon'

export interface LoadSpec {
  url: string
  connections: number
  warmupSec: number
  durationSec: number
  /** One token per line, sent round-robin; none for a public route. */
  tokenFile?: string
  /** GET when absent. */
  method?: 'GET' | 'POST'
  /** A JSON request body, sent with Content-Type: application/json (with POST). */
  body?: string
  /** The tokens of tokenFile are this load's own (bench/token-pool.ts): sent in order, each once; a send past the last is counted as repeated. */
  once?: boolean
  /** DPoP: each line of tokenFile is "<token> <proof>" (wrk only). */
  scheme?: 'DPoP'
  /** The server's pid, to measure its CPU time during the measured period. */
  serverPid?: number
}

export interface LoadResult {
  requests: number
  durationSec: number
  rps: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  non2xx: number
  /** Connect, read, write errors and timeouts. */
  socketErrors: number
  /** Requests sent, answered or not (wrk; requests + connections with autocannon, an upper bound). */
  sent: number
  /** With `once`: sends of a token this load had already sent (must be 0 for an honest distinct-token figure). */
  repeated: number
  /** Server CPU (user + system, all threads) per request, microseconds. */
  serverCpuUsPerRequest: number
  /** The same for the server's main thread (the event loop) only. */
  serverLoopCpuUsPerRequest: number
  /** Server CPU use during the measured period, in cores (1.0 = one core busy). */
  serverCores: number
  /**
   * The load generator's own CPU (user + system, its whole process) per request, microseconds:
   * wrk reads it from /proc/self/stat (bench/wrk.lua); NaN with autocannon. On a machine whose
   * cores the server and the load generator share, the two together are what one request costs it.
   */
  loaderCpuUsPerRequest: number
  /** The load generator's CPU use during the measured period, in cores (NaN with autocannon). */
  loaderCores: number
  /**
   * The whole machine's CPU use during the measured period, in cores: every process (the
   * server, the load generator, anything else running) and the kernel's interrupt and softirq
   * work; wrk reads it from /proc/stat (bench/wrk.lua); NaN with autocannon.
   */
  machineCores: number
  /** The part of machineCores that is softirq time (the kernel's network work, mostly). */
  softirqCores: number
  /** The measured period on the monotonic clock (µs, as process.hrtime and V8's profiler use). */
  windowUs: [number, number]
  /** The server's peak resident memory during the measured period (bytes; sampled every 200 ms). */
  serverPeakRss: number
}

interface RawResult {
  requests: number
  duration_us: number
  p50_us: number
  p99_us: number
  max_us: number
  non2xx: number
  sent?: number
  repeated?: number
  /** wrk's CPU time during the run, in clock ticks (bench/wrk.lua); -1 where it could not be read. */
  cpu_ticks?: number
  /** The whole machine's busy time (all cores, /proc/stat: all but idle and I/O wait) during the run, in clock ticks; -1 where unreadable. */
  machine_ticks?: number
  /** The softirq part of machine_ticks. */
  softirq_ticks?: number
  errors: { connect: number; read: number; write: number; timeout: number }
}

const WRK_SCRIPT = fileURLToPath(new URL('./wrk.lua', import.meta.url))
const AUTOCANNON_CHILD = fileURLToPath(new URL('./autocannon-child.mjs', import.meta.url))

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

function ticksToCores(ticks: number | undefined, durationSec: number): number {
  return ticks === undefined || ticks < 0 ? Number.NaN : ticks / ticksPerSecond() / durationSec
}

export function findWrk(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/bin', '/usr/local/bin')) {
    if (dir !== '' && existsSync(`${dir}/wrk`)) return `${dir}/wrk`
  }
  return undefined
}

function parse(stdout: string): RawResult {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_JSON '))
  if (line === undefined) throw new Error(`load generator printed no result:\n${stdout.slice(-2000)}`)
  return JSON.parse(line.slice('BENCH_JSON '.length)) as RawResult
}

async function once(
  kind: LoaderKind,
  spec: LoadSpec,
  durationSec: number,
  warmupSec: number,
  wrkThreads: number,
  onMeasureStart?: () => void
): Promise<RawResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    ...(spec.tokenFile === undefined ? {} : { BENCH_TOKEN_FILE: spec.tokenFile }),
    ...(spec.method === undefined ? {} : { BENCH_METHOD: spec.method }),
    ...(spec.body === undefined ? {} : { BENCH_BODY: spec.body }),
    ...(spec.scheme === undefined ? {} : { BENCH_SCHEME: spec.scheme }),
    ...(spec.once === true ? { BENCH_TOKEN_ONCE: '1' } : {})
  }
  if (kind !== 'wrk' && spec.scheme !== undefined) throw new Error('the DPoP scenarios need wrk')
  if (kind === 'wrk') {
    const wrk = findWrk()
    if (wrk === undefined) throw new Error('wrk is not installed')
    const args = [`-t${wrkThreads}`, `-c${spec.connections}`, `-d${durationSec}s`, '--timeout', '5s', '-s', WRK_SCRIPT, spec.url]
    onMeasureStart?.()
    return parse((await runCollect(wrk, args, env)).stdout)
  }
  const childSpec = {
    url: spec.url,
    connections: spec.connections,
    warmupSec,
    durationSec,
    tokenFile: spec.tokenFile,
    once: spec.once === true,
    method: spec.method,
    body: spec.body
  }
  const onLine = (line: string): void => {
    if (line === 'BENCH_MEASURE_START') onMeasureStart?.()
  }
  return parse((await runCollect(process.execPath, [AUTOCANNON_CHILD, JSON.stringify(childSpec)], env, onLine)).stdout)
}

export async function runLoad(kind: LoaderKind, spec: LoadSpec, wrkThreads = 1): Promise<LoadResult> {
  let cpuBefore = Number.NaN
  let loopBefore = Number.NaN
  let startUs = 0
  let peakRss = Number.NaN
  let sampler: NodeJS.Timeout | undefined
  const sample = (): void => {
    const rss = spec.serverPid === undefined ? undefined : rssBytes(spec.serverPid)
    if (rss !== undefined && !(rss <= peakRss)) peakRss = rss
  }
  const markStart = (): void => {
    startUs = monotonicUs()
    sample()
    sampler = setInterval(sample, 200)
    if (spec.serverPid !== undefined) {
      cpuBefore = cpuSeconds(spec.serverPid)
      loopBefore = cpuSeconds(spec.serverPid, true)
    }
  }
  let raw: RawResult
  if (kind === 'wrk') {
    if (spec.warmupSec > 0) await once(kind, spec, spec.warmupSec, 0, wrkThreads)
    raw = await once(kind, spec, spec.durationSec, 0, wrkThreads, markStart)
  } else {
    // autocannon warms up and measures in one child, which says when the measured part starts.
    raw = await once(kind, spec, spec.durationSec, spec.warmupSec, wrkThreads, markStart)
  }
  clearInterval(sampler)
  sample()
  const cpu = spec.serverPid === undefined ? Number.NaN : cpuSeconds(spec.serverPid) - cpuBefore
  const loop = spec.serverPid === undefined ? Number.NaN : cpuSeconds(spec.serverPid, true) - loopBefore
  const endUs = monotonicUs()
  const durationSec = raw.duration_us / 1e6
  const loaderCpu = raw.cpu_ticks === undefined || raw.cpu_ticks < 0 ? Number.NaN : raw.cpu_ticks / ticksPerSecond()
  return {
    requests: raw.requests,
    durationSec,
    rps: raw.requests / durationSec,
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    maxMs: raw.max_us / 1000,
    non2xx: raw.non2xx,
    socketErrors: raw.errors.connect + raw.errors.read + raw.errors.write + raw.errors.timeout,
    sent: raw.sent ?? raw.requests + spec.connections,
    repeated: raw.repeated ?? 0,
    serverCpuUsPerRequest: (cpu * 1e6) / Math.max(1, raw.requests),
    serverLoopCpuUsPerRequest: (loop * 1e6) / Math.max(1, raw.requests),
    serverCores: cpu / durationSec,
    loaderCpuUsPerRequest: (loaderCpu * 1e6) / Math.max(1, raw.requests),
    loaderCores: loaderCpu / durationSec,
    machineCores: ticksToCores(raw.machine_ticks, durationSec),
    softirqCores: ticksToCores(raw.softirq_ticks, durationSec),
    windowUs: [startUs, endUs],
    serverPeakRss: peakRss
  }
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/**
 * Several short runs of one scenario as one: requests, time, errors and CPU summed (req/s and
 * CPU per request are the totals' quotients), latency percentiles the median of the runs'.
 */
export function combine(runs: LoadResult[]): LoadResult {
  const first = runs[0]
  const last = runs[runs.length - 1]
  if (first === undefined || last === undefined) throw new Error('combine: no runs')
  const sum = (f: (r: LoadResult) => number): number => runs.reduce((total, r) => total + f(r), 0)
  const requests = sum((r) => r.requests)
  const durationSec = sum((r) => r.durationSec)
  return {
    requests,
    durationSec,
    rps: requests / durationSec,
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    maxMs: Math.max(...runs.map((r) => r.maxMs)),
    non2xx: sum((r) => r.non2xx),
    socketErrors: sum((r) => r.socketErrors),
    sent: sum((r) => r.sent),
    repeated: sum((r) => r.repeated),
    serverCpuUsPerRequest: sum((r) => r.serverCpuUsPerRequest * r.requests) / Math.max(1, requests),
    serverLoopCpuUsPerRequest: sum((r) => r.serverLoopCpuUsPerRequest * r.requests) / Math.max(1, requests),
    serverCores: sum((r) => r.serverCores * r.durationSec) / durationSec,
    loaderCpuUsPerRequest: sum((r) => r.loaderCpuUsPerRequest * r.requests) / Math.max(1, requests),
    loaderCores: sum((r) => r.loaderCores * r.durationSec) / durationSec,
    machineCores: sum((r) => r.machineCores * r.durationSec) / durationSec,
    softirqCores: sum((r) => r.softirqCores * r.durationSec) / durationSec,
    windowUs: [first.windowUs[0], last.windowUs[1]],
    serverPeakRss: Math.max(...runs.map((r) => r.serverPeakRss))
  }
}
