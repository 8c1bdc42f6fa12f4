// The memory scenario's load: streams `total` distinct, valid HS256 access tokens through
// the server (each minted on the fly, never stored: 1,000,000 tokens would not fit in
// memory here). Argument: a JSON spec {url, connections, total, secret, issuer, audience}.
// Prints progress lines "BENCH_PROGRESS <sent>" and one final "BENCH_JSON {...}".
import { Buffer } from 'node:buffer'
import { createHmac } from 'node:crypto'
import process from 'node:process'
import { clearInterval, setInterval } from 'node:timers'
import autocannon from 'autocannon'

const spec = JSON.parse(process.argv[2] ?? '{}')
const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' })).toString('base64url')
const now = Math.floor(Date.now() / 1000)
const prefix = `{"iss":${JSON.stringify(spec.issuer)},"aud":${JSON.stringify(spec.audience)},"client_id":"bench-client","scope":"read:messages","iat":${now},"exp":${now + 3600},"sub":"mem-user-`
let minted = 0

function mint() {
  const n = minted++
  const payload = Buffer.from(`${prefix}${n}","jti":"mem-${n}"}`).toString('base64url')
  const input = `${header}.${payload}`
  const signature = createHmac('sha256', spec.secret).update(input).digest('base64url')
  return `${input}.${signature}`
}

const instance = autocannon({
  url: spec.url,
  connections: spec.connections,
  amount: spec.total,
  timeout: 10,
  requests: [
    {
      method: 'GET',
      setupRequest(request) {
        request.headers = { authorization: `Bearer ${mint()}` }
        return request
      }
    }
  ]
})
const progress = setInterval(() => process.stdout.write(`BENCH_PROGRESS ${minted}\n`), 1000)
const result = await instance
clearInterval(progress)
process.stdout.write(
  `BENCH_JSON ${JSON.stringify({
    requests: result.requests.total,
    minted,
    duration_us: Math.round(result.duration * 1e6),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts
  })}\n`
)
