/**
 * The container proof (`npm run container:check`, run by .ci/run): builds the image from the
 * Dockerfile with ../shared/container/podman.sh (podman, no Docker engine needed), runs it
 * read-only as the image's own user against a test issuer on the host's loopback
 * (--network host), and checks what the deployment relies on:
 *
 *   - the image: runs as `node`, exec-form node CMD, NODE_ENV/HOST/PORT, EXPOSE, HEALTHCHECK;
 *   - no development issuer: no oidc-provider, no dev/ code, DEV_ISSUER=1 fails clearly;
 *   - GET /health/live answers 200 within 30 s (and /health/ready once the keys are loaded);
 *   - a valid access token gets 200 on /api/me, no token gets 401 with a Bearer challenge;
 *   - the server process (PID 1, node itself) runs with a non-zero uid on a read-only root;
 *   - the image's HEALTHCHECK command succeeds inside the container;
 *   - SIGTERM (`podman stop`) drains: a request in flight when the signal arrives completes,
 *     an idle keep-alive connection does not hold the process, and the container exits with
 *     code 0 within 10 s.
 *
 * It prints the image size, always removes the container, and exits non-zero with a line
 * naming what failed. Environment: CONTAINER_TOOLS (default ../shared/container beside the
 * repository), CONTAINER_IMAGE (default resource-api:check), CONTAINER_ULIMITS (podman
 * --ulimit values, space-separated, or "none"; default: nofile at this shell's hard limit and
 * a modest nproc, since a sandbox may refuse podman's larger defaults).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeKey } from '../test/helpers/keys.js'
import { signJwt } from '../test/helpers/jwt-sign.js'
import { startTestIssuer, type TestIssuer } from '../test/helpers/test-issuer.js'
import { freePort } from './free-port.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const tools = resolve(root, process.env.CONTAINER_TOOLS ?? '../shared/container')
const podmanSh = resolve(tools, 'podman.sh')
const baseImageSh = resolve(tools, 'base-image.sh')
const image = process.env.CONTAINER_IMAGE ?? 'resource-api:check'
const container = `resource-api-check-${process.pid}`
const audience = 'https://api.example.test'
const LIVE_WITHIN_MS = 30_000
const READY_WITHIN_MS = 20_000
const STOP_WITHIN_MS = 10_000

class CheckFailed extends Error {}

const started = Date.now()
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
const pass = (what: string): void => {
  console.log(`  ok  ${what}`)
}
function fail(what: string): never {
  throw new CheckFailed(what)
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs podman.sh and returns its output; `inherit` streams it (the build). */
function podman(args: string[], options: { inherit?: boolean; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync('bash', [podmanSh, ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: options.inherit === true ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    timeout: options.timeoutMs ?? 60_000
  })
}

/** podman's stderr without the healthcheck-timer noise of a machine that has no systemd. */
function podmanErrors(result: SpawnSyncReturns<string>): string {
  return (result.stderr ?? '')
    .split('\n')
    .filter((line) => line !== '' && !line.includes('systemd'))
    .join('\n')
}

function podmanOk(args: string[], what: string, timeoutMs?: number): string {
  const result = podman(args, timeoutMs === undefined ? {} : { timeoutMs })
  if (result.error !== undefined) fail(`${what}: ${result.error.message}`)
  if (result.status !== 0) fail(`${what}: podman ${args[0]} exited ${result.status}\n${podmanErrors(result)}`)
  return result.stdout.trim()
}

function ulimitArgs(): string[] {
  const given = process.env.CONTAINER_ULIMITS
  if (given === 'none') return []
  let values: string[]
  if (given !== undefined && given.trim() !== '') {
    values = given.trim().split(/\s+/)
  } else {
    const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim())
    const nofile = Number.isFinite(hard) && hard > 0 ? Math.min(hard, 65_536) : 1024
    values = [`nofile=${nofile}:${nofile}`, 'nproc=4096:4096']
  }
  return values.flatMap((value) => ['--ulimit', value])
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) })
  return { status: response.status, body: await response.text(), headers: response.headers }
}

/** True while the server process lives (podman reports "stopping" while SIGTERM is handled). */
function containerRunning(): boolean {
  const result = podman(['inspect', container, '--format', '{{.State.Status}}'])
  return result.status === 0 && ['running', 'stopping'].includes(result.stdout.trim())
}

function containerLogs(): string {
  const result = podman(['logs', '--tail', '40', container])
  return `${result.stdout}${result.stderr}`
    .split('\n')
    .filter((line) => !line.includes('systemd'))
    .join('\n')
    .trim()
}

async function waitFor(url: string, status: number, withinMs: number, what: string): Promise<number> {
  const deadline = Date.now() + withinMs
  const t0 = Date.now()
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const response = await get(url)
      if (response.status === status) return Date.now() - t0
      last = `status ${response.status}: ${response.body.slice(0, 200)}`
    } catch (error) {
      last = (error as Error).message
    }
    if (!containerRunning()) fail(`${what}: the container exited before answering\n${containerLogs()}`)
    await sleep(250)
  }
  fail(`${what}: no ${status} within ${seconds(withinMs)} (last: ${last})\n${containerLogs()}`)
}

/** An HTTP/1.1 exchange on a raw socket, so the test decides when each byte is sent. */
class RawConnection {
  private readonly socket: Socket
  private data = ''
  private ended = false
  private readonly waiters: Array<() => void> = []

  private constructor(socket: Socket) {
    this.socket = socket
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      this.data += chunk
      this.wake()
    })
    socket.on('end', () => {
      this.ended = true
      this.wake()
    })
    socket.on('close', () => {
      this.ended = true
      this.wake()
    })
    socket.on('error', () => {
      this.ended = true
      this.wake()
    })
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter()
  }

  write(text: string): void {
    this.socket.write(text)
  }

  /** Resolves with the first complete response (status, headers, body by content-length). */
  async response(withinMs: number): Promise<{ status: number; head: string; body: string }> {
    const deadline = Date.now() + withinMs
    for (;;) {
      const headEnd = this.data.indexOf('\r\n\r\n')
      if (headEnd !== -1) {
        const head = this.data.slice(0, headEnd)
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0)
        const body = this.data.slice(headEnd + 4)
        if (Buffer.byteLength(body) >= length) {
          this.data = ''
          return { status: Number(head.split(' ')[1]), head, body }
        }
      }
      if (this.ended) throw new Error(`connection closed before a complete response (got ${JSON.stringify(this.data.slice(0, 200))})`)
      if (Date.now() >= deadline) throw new Error(`no complete response within ${seconds(withinMs)}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  get closed(): boolean {
    return this.ended
  }

  destroy(): void {
    this.socket.destroy()
  }
}

function checkImage(): void {
  // The whole inspect document: podman puts Healthcheck beside Config, Docker inside it.
  const [inspected] = JSON.parse(podmanOk(['image', 'inspect', image], 'inspect the image')) as Array<{
    Config?: {
      User?: string
      Env?: string[]
      Cmd?: string[]
      Entrypoint?: string[] | null
      ExposedPorts?: Record<string, unknown>
      Healthcheck?: { Test?: string[] }
    }
    Healthcheck?: { Test?: string[] }
  }>
  const config = inspected?.Config ?? {}
  if (config.User !== 'node') fail(`the image's USER is "${config.User ?? ''}", expected node`)
  const env = new Set(config.Env ?? [])
  for (const wanted of ['NODE_ENV=production', 'HOST=0.0.0.0', 'PORT=3000', 'DATA_DIR=/data']) {
    if (!env.has(wanted)) fail(`the image does not set ${wanted}`)
  }
  if ((config.Entrypoint ?? []).length > 0) fail(`the image has an ENTRYPOINT (${JSON.stringify(config.Entrypoint)}); node must be PID 1`)
  if (config.Cmd?.[0] !== 'node') fail(`the image's CMD is not exec-form node: ${JSON.stringify(config.Cmd)}`)
  if (!Object.keys(config.ExposedPorts ?? {}).some((port) => port.startsWith('3000'))) fail('the image does not EXPOSE 3000')
  const test = inspected?.Healthcheck?.Test ?? config.Healthcheck?.Test ?? []
  if (test[0] !== 'CMD' || test[1] !== 'node' || !test.join(' ').includes('/health/live')) {
    fail(`the image has no node HEALTHCHECK against /health/live: ${JSON.stringify(test)}`)
  }
  pass(
    `image config: USER node, CMD ${JSON.stringify(config.Cmd)}, NODE_ENV=production HOST=0.0.0.0 PORT=3000, EXPOSE 3000, HEALTHCHECK with node`
  )
}

function imageSize(): string {
  const bytes = Number(podmanOk(['image', 'inspect', image, '--format', '{{.Size}}'], 'read the image size'))
  const base = podman(['image', 'inspect', 'docker.io/library/node:24-bookworm-slim', '--format', '{{.Size}}'])
  const baseBytes = base.status === 0 ? Number(base.stdout.trim()) : NaN
  const mb = (n: number): string => `${(n / 1e6).toFixed(0)} MB`
  return Number.isFinite(baseBytes)
    ? `${mb(bytes)} (${mb(bytes - baseBytes)} above the ${mb(baseBytes)} node:24-bookworm-slim base)`
    : mb(bytes)
}

async function checkRunning(port: number, issuer: TestIssuer, key: ReturnType<typeof makeKey>): Promise<void> {
  const base = `http://127.0.0.1:${port}`
  const liveMs = await waitFor(`${base}/health/live`, 200, LIVE_WITHIN_MS, 'GET /health/live')
  pass(`GET /health/live 200 after ${seconds(liveMs)}`)
  const readyMs = await waitFor(`${base}/health/ready`, 200, READY_WITHIN_MS, 'GET /health/ready')
  pass(`GET /health/ready 200 after ${seconds(readyMs)} more (keys fetched from the issuer on the host's loopback)`)

  const now = Math.floor(Date.now() / 1000)
  const token = signJwt(key, {
    iss: issuer.url,
    sub: 'container-check',
    aud: audience,
    iat: now,
    exp: now + 300,
    client_id: 'container-check',
    scope: 'read:messages write:messages'
  })
  const me = await get(`${base}/api/me`, { authorization: `Bearer ${token}` })
  if (me.status !== 200) fail(`GET /api/me with a valid token: expected 200, got ${me.status}: ${me.body.slice(0, 300)}`)
  const body = JSON.parse(me.body) as { sub?: string; issuer?: string }
  if (body.sub !== 'container-check' || body.issuer !== issuer.url)
    fail(`GET /api/me answered an unexpected body: ${me.body.slice(0, 300)}`)
  pass("GET /api/me with a valid token: 200 with the token's sub and issuer")

  const anonymous = await get(`${base}/api/me`)
  const challenge = anonymous.headers.get('www-authenticate') ?? ''
  if (anonymous.status !== 401 || !/^Bearer /i.test(challenge))
    fail(`GET /api/me without a token: expected 401 with a Bearer challenge, got ${anonymous.status} "${challenge}"`)
  pass(`GET /api/me without a token: 401, WWW-Authenticate: ${challenge}`)

  const status = podmanOk(['exec', container, 'cat', '/proc/1/status'], 'read the server process status')
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)
  if (uids === null) fail(`no Uid line in /proc/1/status:\n${status}`)
  if (uids[1] === '0' || uids[2] === '0') fail(`the server process runs as uid ${uids[1]}/${uids[2]} (root)`)
  const cmdline = podmanOk(['exec', container, 'cat', '/proc/1/cmdline'], 'read the server process command line')
    .split('\0')
    .join(' ')
    .trim()
  if (!/^node\b/.test(cmdline)) fail(`PID 1 is "${cmdline}", not node (SIGTERM would not reach the server)`)
  pass(`the server is PID 1 "${cmdline}" with uid ${uids[1]} (not root)`)

  const readOnly = podmanOk(['inspect', container, '--format', '{{.HostConfig.ReadonlyRootfs}}'], 'inspect the container')
  const probe = podman(['exec', container, 'sh', '-c', 'touch /app/.probe || touch /tmp/.probe'])
  if (readOnly !== 'true' || probe.status === 0) fail('the root filesystem is writable (expected --read-only with no tmpfs)')
  pass('read-only root filesystem with no writable /tmp: the server writes only to /data (the embedded database)')

  const health = podman(['healthcheck', 'run', container], { timeoutMs: 30_000 })
  if (health.status !== 0) fail(`the image's HEALTHCHECK failed inside the container (exit ${health.status})\n${podmanErrors(health)}`)
  pass("the image's HEALTHCHECK (node fetch of /health/live) succeeds inside the container")
}

async function checkDrain(port: number, issuer: TestIssuer, key: ReturnType<typeof makeKey>): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  const token = signJwt(key, {
    iss: issuer.url,
    sub: 'drain',
    aud: audience,
    iat: now,
    exp: now + 300,
    client_id: 'container-check',
    scope: 'write:messages'
  })

  // An idle keep-alive connection (as a load balancer holds them): it must not keep the
  // process alive after SIGTERM.
  const idle = await RawConnection.open(port)
  idle.write('GET /health/live HTTP/1.1\r\nHost: api\r\nConnection: keep-alive\r\n\r\n')
  const idleFirst = await idle.response(5000)
  if (idleFirst.status !== 200) fail(`keep-alive GET /health/live: ${idleFirst.status}`)

  // A request in flight: headers and half of the body now, the rest after SIGTERM.
  const body = JSON.stringify({ text: 'sent while the server was stopping' })
  const half = Math.floor(body.length / 2)
  const inFlight = await RawConnection.open(port)
  inFlight.write(
    `POST /api/messages HTTP/1.1\r\nHost: api\r\nConnection: keep-alive\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`
  )
  await sleep(500)

  const stopStarted = Date.now()
  const stop = spawn('bash', [podmanSh, 'stop', '--time', String(STOP_WITHIN_MS / 1000), container], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stopErr = ''
  stop.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stopErr += chunk
  })
  const stopped = new Promise<number>((resolve) => stop.on('close', (code) => resolve(code ?? 1)))

  // Let SIGTERM arrive and the server start closing, then finish the request.
  await sleep(1500)
  if (!containerRunning()) fail('the container exited before the in-flight request finished (no drain)')
  inFlight.write(body.slice(half))
  let answered: { status: number; body: string }
  try {
    answered = await inFlight.response(STOP_WITHIN_MS)
  } catch (error) {
    fail(`the request in flight at SIGTERM did not complete: ${(error as Error).message}`)
  }
  if (answered.status !== 201) fail(`the request in flight at SIGTERM got ${answered.status}, expected 201: ${answered.body.slice(0, 200)}`)
  pass('SIGTERM drain: a POST in flight when the signal arrived completed with 201')

  const stopCode = await stopped
  const stopMs = Date.now() - stopStarted
  idle.destroy()
  inFlight.destroy()
  if (stopCode !== 0)
    fail(
      `podman stop exited ${stopCode}: ${stopErr
        .split('\n')
        .filter((l) => l !== '' && !l.includes('systemd'))
        .join('\n')}`
    )
  const state = podmanOk(['inspect', container, '--format', '{{.State.ExitCode}} {{.State.Status}}'], 'inspect the stopped container')
  const [exitCode, statusText] = state.split(' ')
  if (stopMs >= STOP_WITHIN_MS)
    fail(
      `podman stop took ${seconds(stopMs)}: the server did not exit on SIGTERM within ${seconds(STOP_WITHIN_MS)} (it was killed)\n${containerLogs()}`
    )
  if (exitCode !== '0') fail(`after SIGTERM the server exited with code ${exitCode} (${statusText}), expected 0\n${containerLogs()}`)
  pass(
    `podman stop (SIGTERM): exited ${exitCode} after ${seconds(stopMs)} (1.5 s of which the check held the request open); the idle keep-alive connection did not hold it`
  )
}

/** The development issuer stays out: no oidc-provider, no dev/ code, and DEV_ISSUER=1 fails with one clear line. */
function checkNoDevelopmentIssuer(): void {
  const probe = podman([
    'run',
    '--rm',
    ...ulimitArgs(),
    image,
    'node',
    '-e',
    'const fs = require("node:fs"); let found = []; try { require.resolve("oidc-provider"); found.push("oidc-provider") } catch {} ' +
      'for (const dir of ["dist/dev", "dev"]) if (fs.existsSync(dir)) found.push(dir); console.log(JSON.stringify(found))'
  ])
  if (probe.status !== 0) fail(`could not look inside the image: ${podmanErrors(probe)}`)
  const found = JSON.parse(probe.stdout.trim().split('\n').pop() ?? '[]') as string[]
  if (found.length > 0) fail(`the image carries development-only code: ${found.join(', ')}`)
  const cases: Array<[string, string]> = [
    ['production', 'DEV_ISSUER: the development issuer never runs with NODE_ENV=production'],
    ['development', 'DEV_ISSUER: the development issuer is not part of this build']
  ]
  for (const [nodeEnv, expected] of cases) {
    const run = podman(
      [
        'run',
        '--rm',
        ...ulimitArgs(),
        '-e',
        'DEV_ISSUER=1',
        '-e',
        `NODE_ENV=${nodeEnv}`,
        '-e',
        'AUTH_AUDIENCE=https://api.example.test',
        image
      ],
      { timeoutMs: 30_000 }
    )
    const output = `${run.stdout}${podmanErrors(run)}`
    if (run.status === 0 || !output.includes(expected))
      fail(
        `DEV_ISSUER=1 with NODE_ENV=${nodeEnv}: expected a non-zero exit saying "${expected}", got exit ${run.status}: ${output.slice(0, 300)}`
      )
  }
  pass(
    'no oidc-provider and no dev/ code in the image; DEV_ISSUER=1 exits non-zero with one clear line (NODE_ENV=production, and without the development code)'
  )
}

async function main(): Promise<void> {
  if (!existsSync(podmanSh))
    fail(`${podmanSh} not found: the container tools must sit beside the repository (../shared/container) or be named by CONTAINER_TOOLS`)

  console.log('container check: base image')
  const baseResult = spawnSync('bash', [baseImageSh, '24'], { cwd: root, stdio: 'inherit', timeout: 600_000 })
  if (baseResult.status !== 0) fail(`${baseImageSh} 24 failed (exit ${baseResult.status ?? baseResult.error?.message})`)

  console.log(`container check: building ${image}`)
  const buildStarted = Date.now()
  // --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
  const build = podman(['build', '--format', 'docker', '-t', image, '-f', 'Dockerfile', '.'], { inherit: true, timeoutMs: 900_000 })
  if (build.status !== 0) fail(`the image build failed (exit ${build.status ?? build.error?.message})`)
  pass(`built ${image} in ${seconds(Date.now() - buildStarted)}`)
  checkImage()
  checkNoDevelopmentIssuer()
  const size = imageSize()
  console.log(`  image size: ${size}`)

  const key = makeKey('RS256')
  const issuer = await startTestIssuer({ keys: [key], discovery: 'openid' })
  const port = await freePort()
  try {
    console.log(`container check: running ${container} (read-only, --network host, port ${port}, issuer ${issuer.url})`)
    podmanOk(
      [
        'run',
        '-d',
        '--name',
        container,
        ...ulimitArgs(),
        '--read-only',
        '--read-only-tmpfs=false',
        '--network',
        'host',
        // the embedded database's folder (DATA_DIR=/data): an anonymous volume, the only writable place (removed with the container)
        '--volume',
        '/data',
        '-e',
        'HOST=127.0.0.1',
        '-e',
        `PORT=${port}`,
        '-e',
        `AUTH_ISSUER=${issuer.url}`,
        '-e',
        `AUTH_AUDIENCE=${audience}`,
        image
      ],
      'start the container'
    )
    await checkRunning(port, issuer, key)
    await checkDrain(port, issuer, key)
  } finally {
    podman(['rm', '-f', '--volumes', '--time', '0', container])
    await issuer.close()
  }
  console.log(`container check passed in ${seconds(Date.now() - started)}; image ${image}: ${size}`)
}

const cleanupOnSignal = (signal: NodeJS.Signals): void => {
  podman(['rm', '-f', '--volumes', '--time', '0', container])
  console.error(`container check interrupted (${signal}); container removed`)
  process.exit(130)
}
process.once('SIGINT', cleanupOnSignal)
process.once('SIGTERM', cleanupOnSignal)

main().catch((error: unknown) => {
  const message = error instanceof CheckFailed ? error.message : ((error as Error).stack ?? String(error))
  console.error(`\ncontainer check FAILED after ${seconds(Date.now() - started)}: ${message}`)
  process.exit(1)
})
