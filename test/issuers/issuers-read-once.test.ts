/**
 * AUTH_ISSUERS_FILE is read once at start-up: server.ts reads and checks it (for its one-line
 * error) and hands the list to the app, whose key-store plugin does not read it again.
 *
 * The real server process gets a named pipe (FIFO) as its file: a pipe gives its content to one
 * reader only. The test writes the list to the first reader; any later reader of the pipe gets
 * an empty file, which is not valid JSON and would stop start-up with its one line. A server
 * that reads the file twice cannot start; one that reads it once starts and trusts the issuer
 * of the file.
 */
import { execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { buildApp } from '../../app.js'
import { freePort } from '../../scripts/free-port.js'
import { loadConfig } from '../../src/config.js'
import { trustedIssuers } from '../../src/issuers/trusted-issuers.js'
import { makeKey } from '../helpers/keys.js'
import { serverToken, spawnServer } from '../helpers/server-process.js'
import { AUDIENCE } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const dir = mkdtempSync(join(tmpdir(), 'issuers-read-once-'))
let child: ChildProcess | undefined
let issuer: TestIssuer | undefined
let feeder: NodeJS.Timeout | undefined

afterEach(async () => {
  clearInterval(feeder)
  feeder = undefined
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  child = undefined
  await issuer?.close()
  issuer = undefined
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * Serves `content` to the first reader of the FIFO at `path`; every later open for reading gets
 * an empty file (end of file at once). Returns how many times a writer end was opened to a reader.
 */
function feedOnce(path: string, content: string): { opens(): number } {
  let opens = 0
  feeder = setInterval(() => {
    let fd: number
    try {
      // succeeds only while some process has the pipe open for reading
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENXIO') return
      throw error
    }
    try {
      if (opens === 0) writeSync(fd, content)
    } finally {
      closeSync(fd)
      opens++
    }
  }, 10)
  return { opens: () => opens }
}

describe('AUTH_ISSUERS_FILE, read once at start-up', () => {
  it('the server reads the file once: a file that only its first reader can read is enough to start and trust its issuer', async () => {
    const key = makeKey('RS256')
    issuer = await startTestIssuer({ keys: [key] })
    const fifo = join(dir, 'issuers.json')
    execFileSync('mkfifo', [fifo])
    const fed = feedOnce(fifo, JSON.stringify({ issuers: [{ issuer: issuer.url }] }))
    const port = await freePort()
    const server = spawnServer({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_ISSUERS_FILE: fifo,
      AUTH_AUDIENCE: AUDIENCE,
      LOG_LEVEL: 'warn'
    })
    child = server.child
    // ready, or exited (a second read of the pipe stops start-up at once)
    let ready = 0
    for (const until = Date.now() + 25_000; server.child.exitCode === null && ready !== 200 && Date.now() < until;) {
      ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
        (res) => res.status,
        () => 0
      )
      if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(server.child.exitCode, server.output()).toBeNull()
    expect(ready, server.output()).toBe(200)
    expect(fed.opens()).toBeGreaterThanOrEqual(1)
    expect(server.stderr()).not.toContain('AUTH_ISSUERS_FILE')
    // the issuer of the file is the one trusted
    const res = await fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${serverToken(issuer.url, key)}` } })
    expect(res.status, await res.clone().text()).toBe(200)
    expect(await res.json()).toMatchObject({ sub: 'user-1' })
  }, 40_000)

  it('as server.ts does in-process: the list read before building the app is used, the file not read again', async () => {
    const file = join(dir, 'gone.json')
    writeFileSync(file, JSON.stringify({ issuers: [{ issuer: 'https://a.example.test/' }, { issuer: 'https://b.example.test/' }] }))
    const config = loadConfig({ AUTH_ISSUERS_FILE: file, AUTH_AUDIENCE: AUDIENCE, LOG_LEVEL: 'silent', DATA_DIR: join(dir, 'data') })
    const issuers = trustedIssuers(config)
    // read once: the app is built after the file is gone
    rmSync(file)
    const app = await buildApp({ config, issuers, logger: false, fetchKeysOnReady: false })
    try {
      await app.ready()
      expect(app.issuers.map(({ issuer: trusted }) => trusted)).toEqual(issuers)
    } finally {
      await app.close()
    }
    // without the list, the app reads the file itself (the tests' buildApp): here, gone
    await expect(buildApp({ config, logger: false, fetchKeysOnReady: false })).rejects.toThrow(
      /AUTH_ISSUERS_FILE: .*gone\.json: cannot be read \(no such file\)/
    )
  })
})
