/**
 * The server process (`node --import tsx server.ts`) in a corporate network: its issuer is on
 * https, reachable through a proxy that wants credentials (HTTPS_PROXY), and its certificate
 * is signed by a private CA that only NODE_EXTRA_CA_CERTS makes known. With both, the server
 * becomes ready and verifies tokens; without the CA, the key fetch fails and readiness stays
 * 503; NO_PROXY sends the calls around the proxy; a bad proxy URL stops the start. The proxy's
 * password never appears in the output.
 *
 * The CA and the issuer's certificate are made at test time with the openssl command (on every
 * Debian image; .ci/run installs it where it is missing).
 */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { serverToken, spawnServer } from '../helpers/server-process.js'
import { makeKey, type TestKey } from '../helpers/keys.js'
import { AUDIENCE } from '../helpers/test-api.js'
import { startTestIssuer, type TestIssuer } from '../helpers/test-issuer.js'
import { startTestProxy, type TestProxy } from '../helpers/test-proxy.js'
import { freePort } from '../../scripts/free-port.js'

const PROXY_USER = 'proxy-user'
const PROXY_PASSWORD = 'corp-Pa55:w@rd'

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = resource-api test CA
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
authorityKeyIdentifier = keyid
`

/** A private CA (ca.pem) and a certificate for 127.0.0.1 it signed (leaf.pem, leaf.key), in `dir`. */
function makeCertificates(dir: string): void {
  writeFileSync(join(dir, 'openssl.cnf'), OPENSSL_CONFIG)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  const steps = [
    ['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1'],
    ['req', '-new', '-config', 'openssl.cnf', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=127.0.0.1'],
    [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '2',
      '-days',
      '1',
      '-extfile',
      'openssl.cnf',
      '-extensions',
      'leaf',
      '-out',
      'leaf.pem'
    ]
  ]
  for (const args of steps) {
    const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${run.stderr}`)
  }
}

/** The test issuer on https: TLS with the CA-signed certificate in front of its plain HTTP port. */
function tlsFront(issuer: TestIssuer, dir: string): Promise<{ server: TlsServer; url: string }> {
  const server = createTlsServer({ cert: readFileSync(join(dir, 'leaf.pem')), key: readFileSync(join(dir, 'leaf.key')) }, (clear) => {
    const plain = connect(issuer.port, '127.0.0.1')
    clear.pipe(plain).pipe(clear)
    clear.on('error', () => plain.destroy())
    plain.on('error', () => clear.destroy())
    clear.on('close', () => plain.destroy())
  })
  server.on('tlsClientError', () => undefined)
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      resolve({ server, url: `https://127.0.0.1:${port}` })
    })
  })
}

interface Started {
  child: ChildProcess
  port: number
  output(): string
  exited: Promise<number | null>
}

async function startServer(env: Record<string, string>): Promise<Started> {
  const port = await freePort()
  // built from nothing: the machine's own NODE_EXTRA_CA_CERTS or proxy settings take no part
  const server = spawnServer({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    AUTH_AUDIENCE: AUDIENCE,
    LOG_LEVEL: 'info',
    ...env
  })
  children.push(server.child)
  return { child: server.child, port, output: server.output, exited: server.exited.then(({ code }) => code) }
}

/** The server stays up and becomes ready (tsx compiles the app on start: seconds on a busy machine). */
async function becomesReady(server: Started): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(server.child.exitCode, server.output()).toBeNull()
      expect(await status(server.port, '/health/ready')).toBe(200)
    },
    { timeout: 25_000, interval: 100 }
  )
}

/** The status of GET `path`, or 'refused' while nothing listens. */
function status(port: number, path: string, headers: Record<string, string> = {}): Promise<number | 'refused'> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy(new Error('client timeout')))
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') resolve('refused')
      else reject(error)
    })
    req.end()
  })
}

const children: ChildProcess[] = []
let dir = ''
let key: TestKey
let issuer: TestIssuer
let front: { server: TlsServer; url: string }
let proxy: TestProxy | undefined

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'resource-api-ca-'))
  makeCertificates(dir)
  key = makeKey('ES256')
  issuer = await startTestIssuer({ keys: [key], discovery: 'openid' })
  front = await tlsFront(issuer, dir)
  issuer.metadata = { issuer: front.url, jwks_uri: `${front.url}/jwks`, introspection_endpoint: `${front.url}/introspect` }
})

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
    }
  }
  await proxy?.close()
  proxy = undefined
})

afterAll(async () => {
  await new Promise((resolve) => front.server.close(resolve))
  await issuer.close()
  rmSync(dir, { recursive: true, force: true })
})

describe("a server behind a proxy, its issuer's certificate from a private CA", () => {
  /** The issuer on https, through a proxy that wants credentials: the proxy, and the server's variables for them. */
  async function proxied(): Promise<{ via: TestProxy; env: Record<string, string> }> {
    const via = await startTestProxy({ credentials: `${PROXY_USER}:${PROXY_PASSWORD}` })
    proxy = via
    return {
      via,
      env: { AUTH_ISSUER: front.url, HTTPS_PROXY: `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${via.port}` }
    }
  }

  it('with NODE_EXTRA_CA_CERTS: fetches the keys through the proxy, becomes ready, verifies tokens; the password is never shown', async () => {
    const { via, env } = await proxied()
    const hits = issuer.hits.jwks
    const server = await startServer({ ...env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') })
    await becomesReady(server)
    expect(await status(server.port, '/api/me', { authorization: `Bearer ${serverToken(front.url, key)}` })).toBe(200)
    expect(issuer.hits.jwks).toBe(hits + 1)
    expect(via.connects.length).toBeGreaterThanOrEqual(1)
    expect(new Set(via.connects)).toEqual(new Set([front.url.slice('https://'.length)]))
    expect(via.authorizations.every((value) => value === `${PROXY_USER}:${PROXY_PASSWORD}`)).toBe(true)
    const logged = server.output()
    expect(logged).toContain('calls to the issuer go through a proxy')
    expect(logged).toContain(`"httpsProxy":"http://127.0.0.1:${via.port}/"`)
    expect(logged).not.toContain(PROXY_USER)
    expect(logged).not.toContain(encodeURIComponent(PROXY_PASSWORD))
    expect(logged).not.toContain(PROXY_PASSWORD)
  }, 45_000)

  it("without it: the issuer's certificate is refused, readiness stays 503, and the log says why", async () => {
    const { via, env } = await proxied()
    const server = await startServer(env)
    await vi.waitFor(
      () => {
        expect(server.child.exitCode, server.output()).toBeNull()
        expect(server.output()).toContain('issuer signing keys could not be fetched')
      },
      { timeout: 25_000, interval: 100 }
    )
    expect(await status(server.port, '/health/ready')).toBe(503)
    expect(via.connects.length).toBeGreaterThanOrEqual(1) // the proxy did its part; the certificate did not pass
    const logged = server.output()
    expect(logged).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN/)
    expect(logged).not.toContain(PROXY_USER)
    expect(logged).not.toContain(PROXY_PASSWORD)
  }, 45_000)

  it('NO_PROXY=127.0.0.1: the calls go around the proxy', async () => {
    const { via, env } = await proxied()
    const server = await startServer({ ...env, NO_PROXY: '127.0.0.1', NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') })
    await becomesReady(server)
    expect(via.connects).toEqual([])
    expect(via.authorizations).toEqual([])
  }, 45_000)

  it('a proxy URL without its scheme stops the start, naming the variable and not the value', async () => {
    const server = await startServer({ AUTH_ISSUER: front.url, https_proxy: `${PROXY_USER}:${PROXY_PASSWORD}@proxy.internal:3128` })
    expect(await server.exited).not.toBe(0)
    const lines = server.output().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('https_proxy')
    expect(lines[0]).not.toContain(PROXY_PASSWORD)
    expect(lines[0]).not.toContain('proxy.internal')
  }, 45_000)
})

describe('the development issuer with proxy variables set (a developer behind a proxy)', () => {
  it('is reached directly, without the proxy', async () => {
    const via = await startTestProxy()
    proxy = via
    const server = await startServer({
      NODE_ENV: 'development',
      DEV_ISSUER: '1',
      DEV_ISSUER_PORT: '0',
      HTTP_PROXY: via.url,
      HTTPS_PROXY: via.url
    })
    await becomesReady(server)
    expect(via.connects).toEqual([])
    expect(via.requests).toEqual([])
    expect(server.output()).toMatch(/"noProxy":"127\.0\.0\.1:\d+"/)
  }, 45_000)
})
