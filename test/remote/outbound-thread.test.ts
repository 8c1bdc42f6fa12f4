/**
 * fetchJson's requests run on a worker thread of their own (src/remote/fetch-worker.ts): the
 * event loop's isolate never runs fetch(), whose shapes would slow every request the server
 * answers. These check that it does not, that a process waiting only on a call stays alive
 * until the answer, and that a stopped thread fails its calls with a reason and is started
 * again by the next one.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchJson, FetchFailed, outboundThread } from '../../src/remote/fetch-json.js'
import { makeKey } from '../helpers/keys.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const OPTIONS = { timeoutMs: 5000, maxBytes: 64 * 1024 }

/** A server on loopback and the URL of its /jwks. */
async function serve(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks` }
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
}

let idp: TestIssuer
/** Accepts a request and never answers it. */
let silent: { server: Server; url: string }
/** Answers after half a second: long after the thread is up, with nothing else to keep a process alive. */
let slow: { server: Server; url: string }

beforeAll(async () => {
  idp = await startTestIssuer({ keys: [makeKey('ES256')] })
  silent = await serve(() => undefined)
  slow = await serve((_request, response) => {
    setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[{"kty":"EC"}]}'), 500)
  })
})

afterAll(async () => {
  await shut(silent.server)
  await shut(slow.server)
  await idp.close()
})

describe('the outbound HTTP thread', () => {
  it("fetches without this isolate's fetch(): a fetch() here that throws changes nothing", async () => {
    const here = globalThis.fetch
    let calls = 0
    globalThis.fetch = (() => {
      calls++
      throw new Error('fetch() on the event loop')
    }) as typeof fetch
    try {
      const { body } = await fetchJson(idp.jwksUri, OPTIONS)
      expect((body.keys as unknown[]).length).toBe(1)
    } finally {
      globalThis.fetch = here
    }
    expect(calls).toBe(0)
    expect(outboundThread()?.threadId).toBeGreaterThan(0)
  })

  it('fails the calls in flight when the thread stops, with the reason, and the next call starts it again', async () => {
    const call = fetchJson(silent.url, OPTIONS)
    const failure = call.then(
      () => undefined,
      (error: unknown) => error
    )
    // the request is under way on the thread when it stops
    await new Promise((resolve) => setTimeout(resolve, 100))
    const stopped = outboundThread()
    expect(stopped).toBeDefined()
    await stopped?.terminate()
    const error = await failure
    expect(error).toBeInstanceOf(FetchFailed)
    expect((error as FetchFailed).message).toBe(`${silent.url}: the outbound HTTP thread stopped (exit code 1)`)
    const { body } = await fetchJson(idp.jwksUri, OPTIONS)
    expect((body.keys as unknown[]).length).toBe(1)
    expect(outboundThread()).not.toBe(stopped)
  })

  it("aborts a call when the caller's signal aborts", async () => {
    const controller = new AbortController()
    const call = fetchJson(silent.url, { ...OPTIONS, signal: controller.signal })
    setTimeout(() => controller.abort(), 100)
    await expect(call).rejects.toThrow(`${silent.url}: aborted`)
    await expect(fetchJson(silent.url, { ...OPTIONS, signal: controller.signal })).rejects.toThrow(`${silent.url}: aborted`)
  })

  it('keeps a process alive while a call is in flight, and lets it exit once the thread is idle', async () => {
    // a script whose only pending work is the call: it prints the answers, then must exit on its own
    const dir = await mkdtemp(join(tmpdir(), 'outbound-'))
    const script = join(dir, 'call.mts')
    await writeFile(
      script,
      `import { fetchJson } from ${JSON.stringify(pathToFileURL(join(ROOT, 'src/remote/fetch-json.ts')).href)}
      // twice: the second call starts on a thread left idle (unreferenced) by the first
      for (let call = 0; call < 2; call++) {
        const { body } = await fetchJson(${JSON.stringify(slow.url)}, { timeoutMs: 5000, maxBytes: 65536 })
        console.log('keys', (body.keys as unknown[]).length)
      }
      `
    )
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(output.trim()).toBe('keys 1\nkeys 1')
    expect(code).toBe(0)
    await rm(dir, { recursive: true })
  }, 20_000)
})
