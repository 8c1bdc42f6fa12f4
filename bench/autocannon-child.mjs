// Load generator in its own process (so it never shares the server's event loop), for
// machines without wrk. Argument: a JSON spec {url, connections, warmupSec, durationSec,
// tokenFile?, method?, body?}. Tokens (one per line) are sent round-robin as
// "Authorization: Bearer <token>"; method defaults to GET; a body (JSON text) is sent with
// "Content-Type: application/json". Prints one line "BENCH_JSON {...}", in the same shape as
// bench/wrk.lua.
import { readFileSync } from 'node:fs'
import process from 'node:process'
import autocannon from 'autocannon'

const spec = JSON.parse(process.argv[2] ?? '{}')
const method = spec.method ?? 'GET'
const bodyHeaders = spec.body === undefined ? {} : { 'content-type': 'application/json' }

function requestsFor(tokenFile) {
  if (tokenFile === undefined) return undefined
  // one headers object per token, built once (autocannon adds Content-Length to it)
  const headers = readFileSync(tokenFile, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((token) => ({ ...bodyHeaders, authorization: `Bearer ${token}` }))
  // spec.once: the tokens are this load's own, sent in order from the first (bench/token-pool.ts)
  let next = spec.once === true ? 0 : Math.floor(Math.random() * headers.length)
  return [
    {
      method,
      ...(spec.body === undefined ? {} : { body: spec.body }),
      setupRequest(request) {
        request.headers = headers[next]
        next = next + 1 === headers.length ? 0 : next + 1
        return request
      }
    }
  ]
}

function run(durationSec) {
  const requests = requestsFor(spec.tokenFile)
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: durationSec,
    timeout: 5,
    ...(requests === undefined ? { method, ...(spec.body === undefined ? {} : { body: spec.body, headers: bodyHeaders }) } : { requests })
  })
}

if (spec.warmupSec > 0) await run(spec.warmupSec)
process.stdout.write('BENCH_MEASURE_START\n')
const result = await run(spec.durationSec)
const out = {
  requests: result.requests.total,
  duration_us: Math.round(result.duration * 1e6),
  p50_us: Math.round(result.latency.p50 * 1000),
  p99_us: Math.round(result.latency.p99 * 1000),
  max_us: Math.round(result.latency.max * 1000),
  mean_us: result.latency.mean * 1000,
  non2xx: result.non2xx,
  errors: { connect: 0, read: result.errors - result.timeouts, write: 0, status: 0, timeout: result.timeouts }
}
process.stdout.write(`BENCH_JSON ${JSON.stringify(out)}\n`)
