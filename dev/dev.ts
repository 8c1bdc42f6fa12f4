/**
 * `npm run dev`: the development issuer, the API configured against it, and the demo SPA, in
 * one process on loopback. Prints the three URLs and a client_credentials `curl` to paste;
 * Ctrl-C (SIGINT) or SIGTERM stops all three. Refuses to run with NODE_ENV=production.
 *
 * Ports: PORT (API, 3000), DEV_ISSUER_PORT (issuer, 4000), SPA_PORT (SPA, 5173); 0 picks a
 * free one. AUTH_AUDIENCE defaults to the API's own URL, e.g. http://127.0.0.1:3000.
 *
 * The issuer issues the scopes the API's routes declare (`config: { scopes }`, `app.scopes()`)
 * and the OpenID Connect ones, and answers `invalid_scope` for any other.
 *
 * DPoP (RFC 9449): the issuer binds the tokens of a client that sends it proofs (the SPA's "Use
 * DPoP" switch), and the API takes both schemes (AUTH_DPOP, default allowed). PUBLIC_URL defaults
 * to the API's URL, which the proofs' `htu` names. AUTH_DPOP_NONCE=on turns on server nonces at
 * both the API (with a fresh AUTH_DPOP_NONCE_SECRET unless one is given) and the issuer.
 *
 * Several issuers (`npm run dev -- --issuers 2`, or DEV_ISSUERS=2): more development issuers,
 * each another oidc-provider with its own keys, on the ports after DEV_ISSUER_PORT (4001…; free
 * ones with 0), and the API trusts them all through an AUTH_ISSUERS_FILE written to a temporary
 * directory (removed on stop). The SPA signs in at the first; the banner prints a
 * client_credentials `curl` for each. With `--opaque`, only the first issues opaque tokens
 * (an opaque token names no issuer: one issuer at most may accept them).
 *
 * `startDevStack()` is the same start-up as a function, for the browser tests.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

import type { FastifyInstance } from 'fastify'

import { buildApp } from '../app.js'
import type { AppOptions } from '../app.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { DEFAULT_CLIENTS, OIDC_SCOPES, startDevIssuer } from './issuer/index.js'
import { DOCS_OAUTH_REDIRECT_PATH } from '../plugins/docs.js'
import type { DevIssuer } from './issuer/index.js'
import { startSpaServer } from './spa-server.js'
import type { SpaServer } from './spa-server.js'
import { freePort } from '../scripts/free-port.js'

const HOST = '127.0.0.1'
const SPA_DIR = fileURLToPath(new URL('../spa/', import.meta.url))
/** The SPA's OpenID scopes give the ID token its claims; the API's scopes (its routes') go into the access token. */
const SPA_OIDC_SCOPES = OIDC_SCOPES.map((scope) => scope.name).filter((name) => name !== 'offline_access')
const CLOSE_TIMEOUT_MS = 5_000
/** How many development issuers `--issuers N` may start. */
const MAX_ISSUERS = 5

type Env = Record<string, string | undefined>

export interface DevStackOptions {
  /** API port; 0 picks a free one. Default 3000. */
  apiPort?: number
  /** Development issuer port; 0 picks a free one. Default 4000. */
  issuerPort?: number
  /** SPA port; 0 picks a free one. Default 5173. */
  spaPort?: number
  /** The API's identifier(s), the first also the access tokens' `aud`. Default: the API's URL. */
  audience?: string[]
  /** Access tokens as JWTs (default) or opaque strings the API introspects (RFC 7662). */
  tokenFormat?: 'jwt' | 'opaque'
  /** Access-token lifetime in seconds at the development issuer. Default 600. */
  accessTokenTtl?: number
  /** API request logs (pino JSON). Default true. */
  logger?: boolean
  /** Build spa/dist first: when older than its sources (default), always, or never. */
  buildSpa?: 'if-stale' | 'always' | 'never'
  /** Where the API's other settings come from (LOG_LEVEL, AUTH_CLOCK_TOLERANCE, ...). Default process.env. */
  env?: Env
  /** Routes or hooks added to the API before its own routes (tests: a route with a scope of its own). */
  instrument?: AppOptions['instrument']
  /**
   * DPoP server nonces (RFC 9449 §8, §9) at the issuer's token endpoint and at the API
   * (AUTH_DPOP_NONCE=on, with a random AUTH_DPOP_NONCE_SECRET unless `env` names one). Default: off.
   */
  dpopNonce?: boolean
  /**
   * How many development issuers (default 1). From 2, the others listen on the ports after
   * `issuerPort` (free ones when it is 0), each with its own keys and its own client_credentials
   * client (`dev-cli-2`…), and the API trusts them all (AUTH_ISSUERS_FILE); the SPA uses the first.
   */
  issuers?: number
}

/** A development issuer beyond the first: what a client needs to get a token from it. */
export interface OtherDevIssuer {
  issuerUrl: string
  tokenEndpoint: string
  cliClient: { clientId: string; clientSecret: string }
}

export interface DevStack {
  spaUrl: string
  apiUrl: string
  issuerUrl: string
  tokenEndpoint: string
  audience: string
  cliClient: { clientId: string; clientSecret: string }
  users: DevIssuer['users']
  spaClientId: string
  tokenFormat: 'jwt' | 'opaque'
  /** The API's scopes, as its routes declare them; the issuer issues these (and the OpenID ones) and no other. */
  scopes: string[]
  /** DPoP server nonces at the issuer and the API. */
  dpopNonce: boolean
  /** The development issuers after the first (`issuers` ≥ 2), which the API trusts too; empty with one. */
  otherIssuers: OtherDevIssuer[]
  /** Stops the API, the issuer and the SPA server (the reverse of their start); safe to call twice. */
  close(): Promise<void>
}

/** Names the variable to change when a port is taken. */
export class PortInUseError extends Error {
  constructor(what: string, port: number, variable: string) {
    super(`${what}: port ${port} is in use (set ${variable} to another port, or 0 for a free one)`)
    this.name = 'PortInUseError'
  }
}

function portFrom(env: Env, name: string, fallback: number): number {
  const value = env[name]?.trim()
  if (value === undefined || value === '') return fallback
  const port = /^\d+$/.test(value) ? Number(value) : NaN
  if (!(port >= 0 && port <= 65535)) throw new ConfigError(name, `must be a port number between 0 and 65535, got "${value}"`)
  return port
}

/** `--issuers N` or `--issuers=N` on the command line, else DEV_ISSUERS, else 1. */
export function issuerCount(argv: readonly string[], env: Env): number {
  let value = env['DEV_ISSUERS']?.trim()
  let source = 'DEV_ISSUERS'
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? ''
    if (arg === '--issuers') {
      value = argv[i + 1] ?? ''
      source = '--issuers'
    } else if (arg.startsWith('--issuers=')) {
      value = arg.slice('--issuers='.length)
      source = '--issuers'
    }
  }
  if (value === undefined || (value === '' && source === 'DEV_ISSUERS')) return 1
  const count = /^\d+$/.test(value) ? Number(value) : NaN
  if (!(count >= 1 && count <= MAX_ISSUERS)) {
    throw new ConfigError(source, `must be a number of development issuers between 1 and ${MAX_ISSUERS}, got "${value}"`)
  }
  return count
}

/** The stack's options from the environment (PORT, DEV_ISSUER_PORT, SPA_PORT, AUTH_AUDIENCE, DEV_TOKEN_FORMAT, DEV_SPA_BUILD, AUTH_DPOP_NONCE, DEV_ISSUERS or --issuers). */
export function devStackOptionsFromEnv(env: Env = process.env, argv: readonly string[] = process.argv.slice(2)): DevStackOptions {
  const audience = env['AUTH_AUDIENCE']
    ?.split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
  return {
    apiPort: portFrom(env, 'PORT', 3000),
    issuerPort: portFrom(env, 'DEV_ISSUER_PORT', 4000),
    spaPort: portFrom(env, 'SPA_PORT', 5173),
    ...(audience !== undefined && audience.length > 0 ? { audience } : {}),
    // `npm run dev -- --opaque` or DEV_TOKEN_FORMAT=opaque: opaque access tokens, introspected
    tokenFormat: env['DEV_TOKEN_FORMAT'] === 'opaque' || process.argv.includes('--opaque') ? 'opaque' : 'jwt',
    // DEV_SPA_BUILD=always rebuilds the SPA as a fresh clone does (the default rebuilds it when stale)
    buildSpa: env['DEV_SPA_BUILD'] === 'always' ? 'always' : env['DEV_SPA_BUILD'] === 'never' ? 'never' : 'if-stale',
    // AUTH_DPOP_NONCE=on: nonces at the issuer too, so that the SPA meets them at both
    dpopNonce: /^(1|true|yes|on)$/i.test(env['AUTH_DPOP_NONCE']?.trim() ?? ''),
    // `npm run dev -- --issuers 2` or DEV_ISSUERS=2: a second development issuer, trusted too
    issuers: issuerCount(argv, env),
    env
  }
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE'
}

function newestMtime(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs)
}

function spaIsStale(): boolean {
  const built = join(SPA_DIR, 'dist', 'index.html')
  if (!existsSync(built)) return true
  const sources = ['index.html', 'src', 'vite.config.ts'].map((name) => newestMtime(join(SPA_DIR, name)))
  return Math.max(...sources) > statSync(built).mtimeMs
}

/** Builds spa/dist with Vite (about a second). */
export async function buildSpa(mode: DevStackOptions['buildSpa'] = 'if-stale'): Promise<boolean> {
  if (mode === 'never' || (mode === 'if-stale' && !spaIsStale())) return false
  const { build } = await import('vite')
  // Vite sets NODE_ENV=production in this very process when it builds; the development issuer
  // started next refuses to run under it. Leave the variable as it was found.
  const nodeEnv = process.env['NODE_ENV']
  try {
    await build({ configFile: join(SPA_DIR, 'vite.config.ts'), logLevel: 'warn' })
  } finally {
    if (nodeEnv === undefined) delete process.env['NODE_ENV']
    else process.env['NODE_ENV'] = nodeEnv
  }
  return true
}

/** The SPA's origins: the one it listens on, plus its `localhost` alias. */
function spaOrigins(spa: SpaServer): string[] {
  return [spa.origin, `http://localhost:${spa.port}`]
}

/** The API's environment: the caller's settings, with the dev stack's issuer, audience and CORS. */
function apiEnvironment(
  env: Env,
  o: {
    issuer: string
    /** Several issuers: the AUTH_ISSUERS_FILE that lists them all (it replaces AUTH_ISSUER and the per-issuer settings). */
    issuersFile?: string
    audience: string[]
    origins: string[]
    port: number
    apiUrl: string
    docsClientId: string
    introspection?: { clientId: string; clientSecret: string }
    dpopNonce: boolean
  }
): Env {
  const api: Env = { ...env }
  for (const name of Object.keys(api)) {
    // the dev stack decides who the API trusts; a real provider's settings would not match it
    if (
      name === 'DEV_ISSUER' ||
      name === 'AUTH_ISSUER' ||
      name === 'AUTH_ISSUERS_FILE' ||
      name === 'AUTH_JWKS_URI' ||
      name === 'AUTH_CLIENT_IDS' ||
      name === 'AUTH_INTROSPECTION_URL' ||
      name === 'AUTH_INTROSPECTION_CLIENT_ID' ||
      name === 'AUTH_INTROSPECTION_CLIENT_SECRET'
    )
      delete api[name]
  }
  return {
    ...api,
    ...(o.issuersFile === undefined ? { AUTH_ISSUER: o.issuer } : { AUTH_ISSUERS_FILE: o.issuersFile }),
    AUTH_AUDIENCE: o.audience.join(','),
    AUTH_PROVIDER: 'generic',
    ...(o.introspection === undefined
      ? { AUTH_TOKEN_FORMATS: 'jwt' }
      : {
          AUTH_TOKEN_FORMATS: 'jwt,opaque',
          AUTH_INTROSPECTION_CLIENT_ID: o.introspection.clientId,
          AUTH_INTROSPECTION_CLIENT_SECRET: o.introspection.clientSecret
        }),
    CORS_ORIGINS: o.origins.join(','),
    // DPoP proofs name the URL the SPA calls (htu); an AUTH_AUDIENCE that is some other URL must not change it
    PUBLIC_URL: api['PUBLIC_URL'] ?? o.apiUrl,
    ...(o.dpopNonce
      ? { AUTH_DPOP_NONCE: 'on', AUTH_DPOP_NONCE_SECRET: api['AUTH_DPOP_NONCE_SECRET'] ?? randomBytes(32).toString('base64url') }
      : {}),
    // /docs signs in with the SPA's public client, whose redirect URIs include the API's /docs
    DOCS_OAUTH_CLIENT_ID: api['DOCS_OAUTH_CLIENT_ID'] ?? o.docsClientId,
    PORT: String(o.port),
    HOST
  }
}

/** The port asked for, or a free one for 0 (other than those `taken`): the URL must be known before the server listens. */
async function portFor(requested: number, ...taken: number[]): Promise<number> {
  if (requested !== 0) return requested
  let port = await freePort(HOST)
  while (taken.includes(port)) port = await freePort(HOST)
  return port
}

/**
 * The AUTH_ISSUERS_FILE of a stack with several development issuers, in a fresh temporary
 * directory: every issuer by its URL (keys discovered from its metadata), the first accepting
 * opaque tokens too when the stack issues them (introspected with the API's own credentials).
 */
function writeIssuersFile(
  issuerUrls: readonly string[],
  introspection: { clientId: string; clientSecret: string } | undefined
): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dev-issuers-'))
  const path = join(dir, 'issuers.json')
  const issuers = issuerUrls.map((issuer, index) =>
    index === 0 && introspection !== undefined
      ? { issuer, tokenFormats: ['jwt', 'opaque'], introspection: { ...introspection } }
      : { issuer }
  )
  writeFileSync(path, `${JSON.stringify({ issuers }, null, 2)}\n`, { mode: 0o600 })
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The client_credentials client of the n-th development issuer (0-based): `dev-cli`, then `dev-cli-2`… */
function cliClientOf(index: number): { clientId: string; clientSecret: string } {
  if (index === 0) return { ...DEFAULT_CLIENTS.cliClient }
  return { clientId: `dev-cli-${index + 1}`, clientSecret: `dev-cli-${index + 1}-secret` }
}

/**
 * Starts the SPA server, then builds the API (its URL and the issuer's are known from their
 * ports), then starts the development issuer with the scopes the API's routes declare, then lets
 * the API fetch the issuer's keys and listen.
 */
export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const env = options.env ?? process.env
  if (env['NODE_ENV'] === 'production') {
    throw new Error('npm run dev: refusing to run with NODE_ENV=production (the development issuer has demo users and in-memory keys)')
  }
  await buildSpa(options.buildSpa)

  const closers: (() => Promise<void>)[] = []
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const errors: unknown[] = []
      for (const closer of closers.reverse()) {
        await closer().catch((error: unknown) => errors.push(error))
      }
      if (errors.length > 0) throw new AggregateError(errors, 'the development stack did not stop cleanly')
    })()
    return closing
  }

  try {
    const spaPort = options.spaPort ?? 5173
    const spa = await startSpaServer({ host: HOST, port: spaPort }).catch((error: unknown) => {
      throw isAddressInUse(error) ? new PortInUseError('SPA', spaPort, 'SPA_PORT') : error
    })
    closers.push(() => spa.close())

    const apiPort = await portFor(options.apiPort ?? 3000)
    const apiUrl = `http://${HOST}:${apiPort}`
    const audience = options.audience ?? [apiUrl]
    const resource = audience[0] ?? apiUrl
    const origins = spaOrigins(spa)
    const apiOrigins = [apiUrl, `http://localhost:${apiPort}`]
    const issuerPort = await portFor(options.issuerPort ?? 4000, apiPort)
    const issuerUrl = `http://${HOST}:${issuerPort}`
    const { spaClientId, introspectionClient } = DEFAULT_CLIENTS
    // the other development issuers: on the ports after the first's (free ones when it is 0)
    const issuerCount = options.issuers ?? 1
    if (!(Number.isInteger(issuerCount) && issuerCount >= 1 && issuerCount <= MAX_ISSUERS)) {
      throw new Error(`npm run dev: issuers must be between 1 and ${MAX_ISSUERS}, got ${issuerCount}`)
    }
    const requestedIssuerPort = options.issuerPort ?? 4000
    const issuerPorts = [issuerPort]
    for (let index = 1; index < issuerCount; index += 1) {
      issuerPorts.push(requestedIssuerPort === 0 ? await portFor(0, apiPort, ...issuerPorts) : requestedIssuerPort + index)
    }
    const issuerUrls = issuerPorts.map((port) => `http://${HOST}:${port}`)
    let issuersFile: string | undefined
    if (issuerCount > 1) {
      const file = writeIssuersFile(issuerUrls, options.tokenFormat === 'opaque' ? introspectionClient : undefined)
      closers.push(async () => file.remove())
      issuersFile = file.path
    }

    // The API first: the issuer issues the scopes its routes declare, known once it is ready.
    const config = loadConfig(
      apiEnvironment(env, {
        issuer: issuerUrl,
        ...(issuersFile === undefined ? {} : { issuersFile }),
        audience,
        origins,
        port: apiPort,
        apiUrl,
        docsClientId: spaClientId,
        dpopNonce: options.dpopNonce === true,
        ...(options.tokenFormat === 'opaque' ? { introspection: introspectionClient } : {})
      })
    )
    const app: FastifyInstance = await buildApp({
      config,
      fetchKeysOnReady: false,
      ...(options.logger === false ? { logger: false } : {}),
      ...(options.instrument === undefined ? {} : { instrument: options.instrument })
    })
    closers.push(() => app.close())
    await app.ready()
    const scopes = app.scopes()

    // what every development issuer shares: this API's audience and scopes, the token settings,
    // the SPA, and /docs on the API's origin (its "Authorize" uses the same public client)
    const shared = {
      audience: resource,
      host: HOST,
      scopes,
      dpopNonce: options.dpopNonce === true,
      ...(options.accessTokenTtl === undefined ? {} : { accessTokenTtl: options.accessTokenTtl }),
      spa: {
        clientId: spaClientId,
        redirectUris: [
          ...origins.map((origin) => `${origin}/callback`),
          ...apiOrigins.map((origin) => `${origin}${DOCS_OAUTH_REDIRECT_PATH}`)
        ],
        origins: [...origins, ...apiOrigins]
      },
      introspectionClient
    }
    const issuer = await startDevIssuer({ ...shared, port: issuerPort, accessTokenFormat: options.tokenFormat ?? 'jwt' }).catch(
      (error: unknown) => {
        throw isAddressInUse(error) ? new PortInUseError('development issuer', issuerPort, 'DEV_ISSUER_PORT') : error
      }
    )
    // stopped after the API (closers run last first), which may still be asking it about a token
    closers.splice(-1, 0, () => issuer.close())
    if (issuer.issuer !== issuerUrl) throw new Error(`the development issuer is ${issuer.issuer}, not ${issuerUrl} as the API was told`)

    // the other issuers: the same API scopes, SPA and /docs clients, their own keys and CLI client, JWTs only
    const otherIssuers: OtherDevIssuer[] = []
    for (let index = 1; index < issuerCount; index += 1) {
      const port = issuerPorts[index] ?? 0
      const other = await startDevIssuer({ ...shared, port, accessTokenFormat: 'jwt', cliClient: cliClientOf(index) }).catch(
        (error: unknown) => {
          throw isAddressInUse(error)
            ? new PortInUseError(`development issuer ${index + 1} (DEV_ISSUER_PORT + ${index})`, port, 'DEV_ISSUER_PORT')
            : error
        }
      )
      closers.splice(-1, 0, () => other.close())
      if (other.issuer !== issuerUrls[index])
        throw new Error(`development issuer ${index + 1} is ${other.issuer}, not ${issuerUrls[index]} as the API was told`)
      otherIssuers.push({ issuerUrl: other.issuer, tokenEndpoint: other.tokenEndpoint, cliClient: other.cliClient })
    }

    await Promise.all(app.issuers.map(({ keyStore }) => keyStore.start()))
    await app.listen({ port: config.port, host: config.host }).catch((error: unknown) => {
      throw isAddressInUse(error) ? new PortInUseError('API', apiPort, 'PORT') : error
    })

    const scopeNames = scopes.map((scope) => scope.name)
    spa.setConfig({
      issuer: issuer.issuer,
      clientId: issuer.spaClientId,
      apiUrl,
      resource,
      scope: [...SPA_OIDC_SCOPES, ...scopeNames].join(' ')
    })

    return {
      spaUrl: spa.origin,
      apiUrl,
      issuerUrl: issuer.issuer,
      tokenEndpoint: issuer.tokenEndpoint,
      audience: resource,
      cliClient: issuer.cliClient,
      users: issuer.users,
      spaClientId: issuer.spaClientId,
      tokenFormat: options.tokenFormat ?? 'jwt',
      scopes: scopeNames,
      dpopNonce: options.dpopNonce === true,
      otherIssuers,
      close
    }
  } catch (error) {
    await close().catch(() => undefined)
    throw error
  }
}

/** Quotes a value for a POSIX shell when it needs quoting. */
function sh(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}

/**
 * The client_credentials `curl` (for every scope of the API) and a call of /api/me with its token, ready to paste;
 * the token goes into the shell variable `variable` (TOKEN; TOKEN2 for the second issuer).
 */
export function curlCommands(
  stack: Pick<DevStack, 'tokenEndpoint' | 'audience' | 'apiUrl' | 'cliClient' | 'scopes'>,
  variable = 'TOKEN'
): string[] {
  const { clientId, clientSecret } = stack.cliClient
  // curl sends -d as it stands; a scope name may hold characters a form body must encode (+, &, %)
  const scope = stack.scopes.length === 0 ? '' : `--data-urlencode ${sh(`scope=${stack.scopes.join(' ')}`)} `
  return [
    `${variable}=$(curl -s -u ${sh(`${clientId}:${clientSecret}`)} -d grant_type=client_credentials -d ${sh(`resource=${stack.audience}`)} ` +
      `${scope}${sh(stack.tokenEndpoint)} | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    `curl -s -H "Authorization: Bearer $${variable}" ${sh(`${stack.apiUrl}/api/me`)}`
  ]
}

export function banner(stack: DevStack): string {
  const users = stack.users.map((user) => `${user.username}/${user.password}`).join(' or ')
  const others = stack.otherIssuers
  return [
    '',
    `Development stack is up (Ctrl-C stops ${others.length === 0 ? 'all three' : 'them all'}):`,
    '',
    `  SPA     ${stack.spaUrl.padEnd(24)} open it and "Log in" as ${users}`,
    `  API     ${stack.apiUrl.padEnd(24)} audience (resource) ${stack.audience}`,
    `  Issuer  ${stack.issuerUrl.padEnd(24)} development OpenID provider, never for production`,
    `          issues the scopes the API's routes declare (${stack.scopes.length === 0 ? 'none yet' : stack.scopes.join(' ')}) and the OpenID ones; any other is invalid_scope`,
    ...others.map(
      (other, index) =>
        `  ${`Issuer${index + 2}`.padEnd(8)}${other.issuerUrl.padEnd(24)} development issuer ${index + 2}: its own keys, client ${other.cliClient.clientId}, the same scopes`
    ),
    ...(others.length === 0
      ? []
      : [
          `          the API trusts ${others.length === 1 ? 'both' : `all ${others.length + 1}`} (AUTH_ISSUERS_FILE, written for this run); the SPA logs in at the first; /api/me names each token's issuer`
        ]),
    '',
    stack.tokenFormat === 'opaque'
      ? 'Access tokens are opaque: the API introspects each one (RFC 7662); revocation takes effect within the cache TTL.'
      : 'Access tokens are JWTs (typ at+jwt) the API verifies locally; `npm run dev -- --opaque` issues opaque ones instead.',
    `DPoP (RFC 9449): tick "Use DPoP" in the SPA before logging in to bind its tokens to a key of the browser tab${
      stack.dpopNonce ? '; server nonces are on (AUTH_DPOP_NONCE=on) at the issuer and the API' : ''
    }.`,
    '',
    `An access token without a browser (client credentials, client ${stack.cliClient.clientId}), then /api/me with it:`,
    '',
    ...curlCommands(stack).map((line) => `  ${line}`),
    ...others.flatMap((other, index) => [
      '',
      `The same at development issuer ${index + 2} (client ${other.cliClient.clientId}):`,
      '',
      ...curlCommands({ ...stack, ...other }, `TOKEN${index + 2}`).map((line) => `  ${line}`)
    ]),
    ''
  ].join('\n')
}

/** The parent process id of `pid`, from /proc (Linux); undefined elsewhere. */
function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    return Number.isSafeInteger(ppid) && ppid > 1 ? ppid : undefined
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Under `npm run dev` the chain is npm → `sh -c` → tsx → this process. SIGTERM sent to npm reaches
 * `sh`, which dies without passing it on, and tsx (our parent) never hears of it. So, when npm
 * started us, watch tsx's parent too and stop as on SIGTERM once it is gone.
 */
function onNpmGone(stop: () => void): void {
  if (process.env['npm_lifecycle_event'] === undefined) return
  const watched = parentOf(process.ppid)
  if (watched === undefined) return
  setInterval(() => {
    if (!isAlive(watched)) stop()
  }, 500).unref()
}

async function main(): Promise<void> {
  let stack: DevStack
  try {
    stack = await startDevStack(devStackOptionsFromEnv(process.env))
  } catch (error) {
    console.error(`npm run dev: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
  let stoppingSince: number | undefined
  const stop = (why: string): void => {
    if (stoppingSince !== undefined) {
      // tsx relays a signal that its child seems to have missed: a repeat within a second is that
      if (Date.now() - stoppingSince < 1_000) return
      console.error(`${why} again: exiting now`)
      process.exit(1)
    }
    stoppingSince = Date.now()
    console.log(`\n${why}: stopping the API, the issuer and the SPA...`)
    const timer = setTimeout(() => {
      console.error(`still not stopped after ${CLOSE_TIMEOUT_MS} ms: exiting`)
      process.exit(1)
    }, CLOSE_TIMEOUT_MS)
    timer.unref()
    stack.close().then(
      () => {
        console.log('stopped')
        process.exit(0)
      },
      (error: unknown) => {
        console.error(`npm run dev: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      }
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  onNpmGone(() => {
    if (stoppingSince === undefined) stop('npm has exited')
  })
  // only now: whoever reads the banner (a user, a test) may send a signal at once, and without
  // these handlers the signal's default action would end the process without stopping the stack
  console.log(banner(stack))
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main()
}
