/**
 * A tiny summariser for V8 .cpuprofile files (node --cpu-prof): self time per function,
 * self time per category (idle, GC, Node core, fastify, this app's modules...), and the
 * inclusive time of this app's own modules (the time with one of their frames on the stack).
 * The profile covers the main thread only: signature checks on libuv's threadpool appear as
 * idle time there, and are accounted separately by the server's CPU time per request.
 *
 * Usage as a script: tsx bench/cpuprofile-summary.ts file.cpuprofile [top]
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface Row {
  name: string
  ms: number
  share: number
}
export interface ProfileSummary {
  totalMs: number
  /** Main-thread time neither idle nor in the profiler's own bookkeeping. */
  busyMs: number
  categories: Row[]
  top: Row[]
  /** Inclusive time of this app's modules, share of busy time. */
  appModules: Row[]
}

/** Where a frame's code lives, for grouping. */
function categoryOf(frame: CallFrame): string {
  const { functionName, url } = frame
  if (functionName === '(idle)') return 'idle (waiting for I/O or the threadpool)'
  if (functionName === '(garbage collector)') return 'garbage collector'
  if (functionName === '(program)') return '(program): V8/native, not attributed to JS'
  if (url === '') return 'native builtins and C++ bindings'
  if (url.startsWith('node:')) return 'Node core (node:*)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    const pkg = rest[0]?.startsWith('@') === true ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '?')
    return `package ${pkg}`
  }
  const app = appModuleOf(url)
  if (app !== undefined) return `app ${app.split('/')[0] ?? app}/`
  return 'other'
}

/** "src/token/compact-jws.js" for a file of the built app, else undefined. */
function appModuleOf(url: string): string | undefined {
  const at = url.lastIndexOf('/dist/')
  if (at === -1 || url.includes('/node_modules/')) return undefined
  return url.slice(at + '/dist/'.length)
}

function shortLocation(frame: CallFrame): string {
  const { url, lineNumber } = frame
  if (url === '') return ''
  const nm = url.lastIndexOf('/node_modules/')
  const short = nm !== -1 ? url.slice(nm + '/node_modules/'.length) : (appModuleOf(url) ?? url.replace(/^file:\/\//, ''))
  return `${short}:${lineNumber + 1}`
}

function rows(map: Map<string, number>, total: number, limit = Infinity): Row[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, ms: us / 1000, share: total === 0 ? 0 : us / total }))
}

/**
 * `window` (optional): only the samples taken in [start, end], in µs of the monotonic clock
 * that both V8's profiler and process.hrtime use, e.g. the measured period of a load run
 * (leaving out start-up and warm-up).
 */
export function summarizeCpuProfile(path: string, top = 20, window?: readonly [number, number]): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }

  const selfByFunction = new Map<string, number>()
  const selfByCategory = new Map<string, number>()
  const inclusiveByModule = new Map<string, number>()
  let total = 0
  let idle = 0

  const { samples, timeDeltas } = profile
  let at = profile.startTime
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0
    // A sample lasts until the next one; the last one until the profile's end.
    const us = timeDeltas[i + 1] ?? Math.max(0, profile.endTime - at)
    if (window !== undefined && (at < window[0] || at > window[1])) continue
    const node = byId.get(samples[i] ?? -1)
    if (node === undefined || us <= 0) continue
    total += us
    const frame = node.callFrame
    if (frame.functionName === '(idle)') idle += us
    const category = categoryOf(frame)
    selfByCategory.set(category, (selfByCategory.get(category) ?? 0) + us)
    if (frame.functionName !== '(idle)') {
      const location = shortLocation(frame)
      const key = `${frame.functionName === '' ? '(anonymous)' : frame.functionName}${location === '' ? '' : ` ${location}`}`
      selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us)
    }
    // Inclusive: each app module once per sample, wherever it is on the stack.
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const module = appModuleOf(byId.get(id)?.callFrame.url ?? '')
      if (module !== undefined) seen.add(module)
    }
    for (const module of seen) inclusiveByModule.set(module, (inclusiveByModule.get(module) ?? 0) + us)
  }
  const busy = total - idle
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    categories: rows(selfByCategory, total),
    top: rows(selfByFunction, busy, top),
    appModules: rows(inclusiveByModule, busy)
  }
}

const pct = (share: number): string => `${(share * 100).toFixed(1)}%`

/** Markdown for RESULTS.md; with `requests` (served during the profile's window), a µs-per-request column too. */
export function profileMarkdown(summary: ProfileSummary, requests?: number): string {
  const perRequest = (ms: number): string => (requests === undefined || requests === 0 ? '' : ` ${((ms * 1000) / requests).toFixed(2)} |`)
  const head = requests === undefined ? '' : ' µs/request |'
  const rule = requests === undefined ? '' : ' ---: |'
  const lines: string[] = []
  lines.push(
    `Main thread: ${summary.totalMs.toFixed(0)} ms sampled, ${summary.busyMs.toFixed(0)} ms busy (${pct(summary.busyMs / Math.max(1, summary.totalMs))})${requests === undefined ? '' : `, ${(requests / 1000).toFixed(0)}k requests: ${((summary.busyMs * 1000) / Math.max(1, requests)).toFixed(1)} µs busy per request`}.`,
    ''
  )
  lines.push(`| self time by category | ms | share of all |${head}`, `| --- | ---: | ---: |${rule}`)
  for (const row of summary.categories.filter((r) => r.share >= 0.001))
    lines.push(`| ${row.name} | ${row.ms.toFixed(0)} | ${pct(row.share)} |${perRequest(row.ms)}`)
  lines.push('', `| top functions by self time | ms | share of busy |${head}`, `| --- | ---: | ---: |${rule}`)
  for (const row of summary.top)
    lines.push(`| \`${row.name.replace(/\|/g, '\\|')}\` | ${row.ms.toFixed(0)} | ${pct(row.share)} |${perRequest(row.ms)}`)
  lines.push('', `| app module (inclusive: a frame of it on the stack) | ms | share of busy |${head}`, `| --- | ---: | ---: |${rule}`)
  for (const row of summary.appModules.slice(0, 12))
    lines.push(`| \`${row.name}\` | ${row.ms.toFixed(0)} | ${pct(row.share)} |${perRequest(row.ms)}`)
  return lines.join('\n')
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2]
  if (file === undefined) {
    console.error('usage: tsx bench/cpuprofile-summary.ts file.cpuprofile [top]')
    process.exit(2)
  }
  console.log(profileMarkdown(summarizeCpuProfile(file, Number(process.argv[3] ?? 20))))
}
