/**
 * Configuration: every environment variable of the contract, parsed and validated once.
 * A bad value throws a ConfigError naming the variable; the entry prints that one line and exits.
 */
import { isIP } from 'node:net'
import { CodedError } from './errors.js'

export const PROVIDERS = ['generic', 'auth0', 'okta', 'entra', 'keycloak', 'cognito'] as const
export type ProviderPreset = (typeof PROVIDERS)[number]
export type TokenProfile = 'auto' | 'rfc9068'
export type TokenFormat = 'jwt' | 'opaque'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
/** Fastify's `trustProxy`: off, every peer, or the peers with these addresses/CIDR ranges. */
export type TrustProxy = boolean | string[]

export const ASYMMETRIC_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519'
] as const
export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const
export type JwsAlg = (typeof ASYMMETRIC_ALGS)[number] | (typeof HMAC_ALGS)[number]

export interface AuthConfig {
  /** Undefined only while DEV_ISSUER=1 has yet to start the development issuer. */
  issuer: string | undefined
  audiences: string[]
  jwksUri: string | undefined
  algorithms: JwsAlg[]
  /** Shared secret for HS* algorithms (AUTH_HS_SECRET); HS* are refused without it. */
  hsSecret: Buffer | undefined
  clockTolerance: number
  profile: TokenProfile
  provider: ProviderPreset
  clientIds: string[]
  formats: TokenFormat[]
  introspection: {
    url: string | undefined
    clientId: string | undefined
    clientSecret: string | undefined
    cacheTtl: number
    timeoutMs: number
    maxInFlight: number
    cacheMaxEntries: number
  }
  keys: {
    fetchTimeoutMs: number
    cacheTtl: number
    cooldown: number
    maxStale: number
    maxBytes: number
  }
  /** Bounded cache of verified tokens (0 turns it off). */
  tokenCacheSize: number
  dpop: DpopConfig
}

/** The DPoP proof algorithms this API can verify (asymmetric only, RFC 9449 §4.2). */
export const DPOP_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const
export type DpopAlg = (typeof DPOP_ALGS)[number]
export type DpopMode = 'allowed' | 'required' | 'disabled'

/** RFC 9449: the DPoP scheme (AUTH_DPOP and its companions). */
export interface DpopConfig {
  /** allowed: Bearer and DPoP; required: DPoP only; disabled: Bearer only (DPoP-bound tokens refused). */
  mode: DpopMode
  algorithms: DpopAlg[]
  /** AUTH_DPOP_IAT_WINDOW: seconds a proof's iat may lie in the past (plus the clock tolerance ahead and behind). */
  iatWindow: number
  /** AUTH_DPOP_NONCE=on: the secret (≥ 32 bytes) of the stateless nonces; undefined when nonces are off. */
  nonceSecret: Buffer | undefined
  /** Seconds one nonce step lasts; a nonce is valid in its step and the next. */
  nonceStep: number
  /** Proofs remembered at most by the in-process replay store (past that, new proofs get a 503). */
  replayCacheSize: number
  /**
   * AUTH_DPOP_REPLAY_PER_KEY: of those, at most this many made by one proof key (past that, that
   * key's new proofs get the 503 and other keys' are still accepted); half of
   * replayCacheSize when unset.
   */
  replayPerKey: number
}

/** AUTH_DPOP_IAT_WINDOW when unset. */
export const DEFAULT_DPOP_IAT_WINDOW = 60

function dpopConfig(env: Env): DpopConfig {
  const mode = oneOf<DpopMode>(env, 'AUTH_DPOP', ['allowed', 'required', 'disabled'], 'allowed')
  const algorithms = list(env, 'AUTH_DPOP_ALGORITHMS') ?? ['ES256', 'EdDSA', 'RS256', 'PS256']
  for (const alg of algorithms) {
    if (!(DPOP_ALGS as readonly string[]).includes(alg)) {
      throw new ConfigError('AUTH_DPOP_ALGORITHMS', `"${alg}" is not an asymmetric JWS algorithm (known: ${DPOP_ALGS.join(', ')})`)
    }
  }
  const nonce = flag(env, 'AUTH_DPOP_NONCE', false)
  const secret = read(env, 'AUTH_DPOP_NONCE_SECRET')
  if (nonce && secret === undefined)
    throw new ConfigError('AUTH_DPOP_NONCE_SECRET', 'is required with AUTH_DPOP_NONCE=on (≥ 32 bytes, the same on every replica)')
  if (secret !== undefined && Buffer.byteLength(secret) < 32)
    throw new ConfigError('AUTH_DPOP_NONCE_SECRET', 'must be at least 32 bytes long')
  const replayCacheSize = integer(env, 'AUTH_DPOP_REPLAY_CACHE_SIZE', 1_000_000, 1000, 100_000_000)
  const replayPerKey = integer(env, 'AUTH_DPOP_REPLAY_PER_KEY', Math.floor(replayCacheSize / 2), 1, replayCacheSize)
  return {
    mode,
    algorithms: algorithms as DpopAlg[],
    iatWindow: integer(env, 'AUTH_DPOP_IAT_WINDOW', DEFAULT_DPOP_IAT_WINDOW, 1, 3600),
    nonceSecret: nonce && secret !== undefined ? Buffer.from(secret) : undefined,
    nonceStep: integer(env, 'AUTH_DPOP_NONCE_STEP', 300, 10, 86_400),
    replayCacheSize,
    replayPerKey
  }
}

export interface Config {
  port: number
  host: string
  /** The API's external base URL (no trailing slash): every URL the API publishes starts with it. */
  publicUrl: string
  trustProxy: TrustProxy
  logLevel: LogLevel
  corsOrigins: string[]
  metricsEnabled: boolean
  /** METRICS_PORT: /metrics on this port (on HOST) instead of the API's, so that it need not be public. */
  metricsPort: number | undefined
  devIssuer: boolean
  /** What /docs's "Authorize" signs in with. */
  docs: DocsConfig
  auth: AuthConfig
  /**
   * AUTH_ISSUERS_FILE: the file listing several trusted issuers (src/issuers/issuers-file.ts),
   * which replaces AUTH_ISSUER; `auth` then holds the settings every issuer shares.
   */
  issuersFile: string | undefined
  database: DatabaseConfig
}

/**
 * Where messages (and any other resource) are stored: DATABASE_URL unset, an embedded SQLite
 * file under DATA_DIR (one replica); postgres:// or postgresql://, PostgreSQL (any number).
 */
export type DatabaseConfig =
  | {
      engine: 'sqlite'
      /** DATA_DIR: the folder of the database file, created on first start. */
      dataDir: string
      /** Bounds one statement (and one request's work in the database), in ms. */
      statementTimeoutMs: number
    }
  | {
      engine: 'postgres'
      /** Holds credentials: never logged, never put into an error message. */
      url: string
      poolSize: number
      statementTimeoutMs: number
    }

/** DATABASE_POOL_SIZE when unset: PostgreSQL connections per process. */
export const DEFAULT_POOL_SIZE = 10

/**
 * DATABASE_URL, DATA_DIR, DATABASE_POOL_SIZE, DATABASE_STATEMENT_TIMEOUT_MS. The URL is never
 * echoed (it holds the password): errors say what is wrong with it, not what it is.
 */
export function databaseConfig(env: Env = process.env): DatabaseConfig {
  const statementTimeoutMs = integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000)
  const value = read(env, 'DATABASE_URL')
  if (value === undefined) {
    const dataDir = read(env, 'DATA_DIR') ?? './data'
    if (dataDir.includes('\0')) throw new ConfigError('DATA_DIR', 'is not a folder path')
    // validated, though only PostgreSQL has a pool
    integer(env, 'DATABASE_POOL_SIZE', DEFAULT_POOL_SIZE, 1, 1000)
    return { engine: 'sqlite', dataDir, statementTimeoutMs }
  }
  const url = URL.parse(value)
  if (url === null || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL (leave it unset for the embedded database)')
  }
  if (url.hostname === '' && url.searchParams.get('host') === null) throw new ConfigError('DATABASE_URL', 'names no host')
  if (url.pathname.length <= 1) throw new ConfigError('DATABASE_URL', 'names no database (postgres://user:password@host:5432/dbname)')
  const sslmode = url.searchParams.get('sslmode')
  if (sslmode !== null && !['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(sslmode)) {
    throw new ConfigError('DATABASE_URL', 'sslmode must be disable, prefer, require, verify-ca, verify-full or no-verify')
  }
  return { engine: 'postgres', url: value, poolSize: integer(env, 'DATABASE_POOL_SIZE', DEFAULT_POOL_SIZE, 1, 1000), statementTimeoutMs }
}

export interface DocsConfig {
  /** DOCS_OAUTH_CLIENT_ID: a public client (PKCE) at the issuer; unset, Swagger UI asks for one. */
  clientId: string | undefined
  /** DOCS_OAUTH_PARAMS: extra authorization request parameters, form-encoded (Auth0 needs `audience=…`). */
  authorizationParams: Record<string, string>
}

function metricsPort(env: Env, port: number): number | undefined {
  if (read(env, 'METRICS_PORT') === undefined) return undefined
  const value = integer(env, 'METRICS_PORT', 0, 1, 65535)
  if (value === port)
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}); leave it unset to serve /metrics on the API's port`)
  return value
}

function docsConfig(env: Env, devIssuer: boolean): DocsConfig {
  const params = read(env, 'DOCS_OAUTH_PARAMS')
  const authorizationParams: Record<string, string> = {}
  if (params !== undefined) {
    for (const [name, value] of new URLSearchParams(params)) {
      if (name === '' || value === '')
        throw new ConfigError(
          'DOCS_OAUTH_PARAMS',
          `must be form-encoded name=value pairs such as "audience=https://api.example.com", got "${params}"`
        )
      authorizationParams[name] = value
    }
  }
  // the development issuer registers /docs under its public SPA client
  return { clientId: read(env, 'DOCS_OAUTH_CLIENT_ID') ?? (devIssuer ? 'demo-spa' : undefined), authorizationParams }
}

export class ConfigError extends CodedError {
  override readonly name = 'ConfigError'
  readonly code = 'ERR_CONFIG_INVALID'
  readonly variable: string
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`)
    this.variable = variable
  }
}

type Env = Record<string, string | undefined>

function read(env: Env, name: string): string | undefined {
  const value = env[name]
  if (value === undefined) return undefined
  const trimmed = value.trim()
  return trimmed === '' ? undefined : trimmed
}

function list(env: Env, name: string): string[] | undefined {
  const value = read(env, name)
  if (value === undefined) return undefined
  const items = value.split(',').map((item) => item.trim())
  if (items.some((item) => item === '')) throw new ConfigError(name, `has an empty item in "${value}"`)
  return [...new Set(items)]
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = read(env, name)
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number, got "${value}"`)
  const n = Number(value)
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`)
  return n
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(env, name)
  if (value === undefined) return fallback
  const lower = value.toLowerCase() as T
  if (!allowed.includes(lower)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${value}"`)
  return lower
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const value = read(env, name)
  if (value === undefined) return fallback
  if (/^(1|true|yes|on)$/i.test(value)) return true
  if (/^(0|false|no|off)$/i.test(value)) return false
  throw new ConfigError(name, `must be true or false, got "${value}"`)
}

function httpUrl(name: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${value}"`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, `must be an http(s) URL, got "${value}"`)
  }
  if (url.hash !== '') throw new ConfigError(name, 'must not contain a fragment')
  return value
}

function origin(name: string, value: string): string {
  if (value === '*') throw new ConfigError(name, 'must list explicit origins; "*" is not allowed for an API that reads Authorization')
  const url = (() => {
    try {
      return new URL(value)
    } catch {
      throw new ConfigError(name, `"${value}" is not an origin such as https://app.example.com`)
    }
  })()
  if (url.origin === 'null' || url.origin !== value.replace(/\/$/, '')) {
    throw new ConfigError(name, `"${value}" is not an origin (scheme://host[:port], no path)`)
  }
  return url.origin
}

/** An http(s) URL's origin and path, without a trailing slash (query and fragment dropped). */
function baseUrl(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/**
 * PUBLIC_URL: an absolute http(s) URL with no credentials, query or fragment. Default: the
 * first audience that is an http(s) URL, else http://HOST:PORT. Never the request's Host.
 */
function publicUrl(env: Env, audiences: readonly string[], host: string, port: number): string {
  const name = 'PUBLIC_URL'
  const value = read(env, name)
  if (value === undefined) {
    for (const audience of audiences) {
      const url = URL.parse(audience)
      if (url !== null && (url.protocol === 'https:' || url.protocol === 'http:')) return baseUrl(url)
    }
    return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`
  }
  const url = URL.parse(value)
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(name, `must be an absolute http(s) URL such as https://api.example.com, got "${value}"`)
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError(name, 'must not contain credentials')
  if (value.includes('?') || value.includes('#')) throw new ConfigError(name, `must not contain a query or a fragment, got "${value}"`)
  return baseUrl(url)
}

const TRUST_PROXY_PRESETS: ReadonlySet<string> = new Set(['loopback', 'linklocal', 'uniquelocal'])

/** An IP address, an address/prefix (CIDR), an IPv4 address/netmask, or a proxy-addr preset name. */
function isProxyAddress(item: string): boolean {
  if (TRUST_PROXY_PRESETS.has(item)) return true
  const slash = item.indexOf('/')
  const address = slash === -1 ? item : item.slice(0, slash)
  const version = isIP(address)
  if (version === 0) return false
  if (slash === -1) return true
  const range = item.slice(slash + 1)
  if (/^\d{1,3}$/.test(range)) return Number(range) <= (version === 4 ? 32 : 128)
  return version === 4 && isIP(range) === 4
}

/**
 * TRUST_PROXY, in the forms Fastify's `trustProxy` still honours: unset, `false`/`no`/`off` → off;
 * `true`/`yes`/`on` → every peer; otherwise a comma-separated list of IP addresses, CIDR ranges
 * (`10.0.0.0/8`, `fd00::/8`) and the presets `loopback`, `linklocal`, `uniquelocal`. A number
 * of hops is refused: Fastify 5.12.1 dropped that form (it cannot tell a proxy from a client
 * that sends its own X-Forwarded-For, so it now trusts nobody), and a silent "off" would surprise.
 */
function trustProxy(env: Env): TrustProxy {
  const name = 'TRUST_PROXY'
  const value = read(env, name)
  if (value === undefined || /^(false|no|off)$/i.test(value)) return false
  if (/^(true|yes|on)$/i.test(value)) return true
  if (/^\d+$/.test(value)) {
    throw new ConfigError(
      name,
      `a number of hops ("${value}") is not supported (Fastify trusts no peer for it); list the proxies' addresses or CIDR ranges, or use true`
    )
  }
  const items = list(env, name) ?? []
  for (const item of items) {
    if (!isProxyAddress(item)) {
      throw new ConfigError(name, `"${item}" is not true, false, an IP address, a CIDR range, or loopback, linklocal or uniquelocal`)
    }
  }
  return items
}

function algorithms(env: Env, hsSecret: Buffer | undefined): JwsAlg[] {
  const name = 'AUTH_ALGORITHMS'
  const given = list(env, name) ?? ['RS256', 'PS256', 'ES256', 'EdDSA']
  const known: readonly string[] = [...ASYMMETRIC_ALGS, ...HMAC_ALGS]
  for (const alg of given) {
    if (alg.toLowerCase() === 'none') throw new ConfigError(name, '"none" is never accepted')
    if (!known.includes(alg)) throw new ConfigError(name, `unknown algorithm "${alg}" (known: ${known.join(', ')})`)
    if ((HMAC_ALGS as readonly string[]).includes(alg) && hsSecret === undefined) {
      throw new ConfigError(name, `${alg} needs a shared secret in AUTH_HS_SECRET`)
    }
  }
  return given as JwsAlg[]
}

export function loadConfig(env: Env = process.env): Config {
  const devIssuer = flag(env, 'DEV_ISSUER', false)
  if (devIssuer && env.NODE_ENV === 'production') {
    throw new ConfigError('DEV_ISSUER', 'the development issuer never runs with NODE_ENV=production')
  }

  const issuerValue = read(env, 'AUTH_ISSUER')
  const issuersFile = read(env, 'AUTH_ISSUERS_FILE')
  if (issuersFile !== undefined && issuerValue !== undefined) {
    throw new ConfigError('AUTH_ISSUERS_FILE', 'replaces AUTH_ISSUER: set one of them (put this issuer into the file)')
  }
  if (issuersFile !== undefined && devIssuer) {
    throw new ConfigError('AUTH_ISSUERS_FILE', 'cannot be used with DEV_ISSUER=1 (the development issuer is the one trusted issuer)')
  }
  if (issuerValue === undefined && !devIssuer && issuersFile === undefined)
    throw new ConfigError(
      'AUTH_ISSUER',
      'is required (the one trusted issuer, e.g. https://tenant.example.com/), unless AUTH_ISSUERS_FILE lists several'
    )
  const issuer = issuerValue === undefined ? undefined : httpUrl('AUTH_ISSUER', issuerValue)

  const audiences = list(env, 'AUTH_AUDIENCE')
  if (audiences === undefined) throw new ConfigError('AUTH_AUDIENCE', "is required (this API's identifier, e.g. https://api.example.com)")

  const jwksValue = read(env, 'AUTH_JWKS_URI')
  const jwksUri = jwksValue === undefined ? undefined : httpUrl('AUTH_JWKS_URI', jwksValue)

  const secretValue = read(env, 'AUTH_HS_SECRET')
  if (secretValue !== undefined && Buffer.byteLength(secretValue) < 32) {
    throw new ConfigError('AUTH_HS_SECRET', 'must be at least 32 bytes long')
  }
  const hsSecret = secretValue === undefined ? undefined : Buffer.from(secretValue)

  const formats = list(env, 'AUTH_TOKEN_FORMATS') ?? ['jwt']
  for (const format of formats) {
    if (format !== 'jwt' && format !== 'opaque') {
      throw new ConfigError('AUTH_TOKEN_FORMATS', `must be jwt, opaque or jwt,opaque, got "${format}"`)
    }
  }

  const provider = oneOf(env, 'AUTH_PROVIDER', PROVIDERS, 'generic')
  const clientIds = list(env, 'AUTH_CLIENT_IDS') ?? []
  if (provider === 'cognito' && clientIds.length === 0) {
    throw new ConfigError('AUTH_CLIENT_IDS', 'is required with AUTH_PROVIDER=cognito (Cognito access tokens carry client_id, not aud)')
  }

  const introspectionUrlValue = read(env, 'AUTH_INTROSPECTION_URL')
  const introspectionUrl = introspectionUrlValue === undefined ? undefined : httpUrl('AUTH_INTROSPECTION_URL', introspectionUrlValue)
  const introspectionClientId = read(env, 'AUTH_INTROSPECTION_CLIENT_ID')
  const introspectionClientSecret = read(env, 'AUTH_INTROSPECTION_CLIENT_SECRET')
  if (formats.includes('opaque')) {
    if (introspectionClientId === undefined)
      throw new ConfigError('AUTH_INTROSPECTION_CLIENT_ID', 'is required when AUTH_TOKEN_FORMATS accepts opaque tokens')
    if (introspectionClientSecret === undefined)
      throw new ConfigError('AUTH_INTROSPECTION_CLIENT_SECRET', 'is required when AUTH_TOKEN_FORMATS accepts opaque tokens')
  }

  const corsOrigins = (list(env, 'CORS_ORIGINS') ?? []).map((value) => origin('CORS_ORIGINS', value))

  const host = read(env, 'HOST') ?? '127.0.0.1'
  if (!/^[\w.:[\]-]+$/.test(host)) throw new ConfigError('HOST', `is not a bind address, got "${host}"`)

  const port = integer(env, 'PORT', 3000, 0, 65535)

  const jwksCacheTtl = integer(env, 'AUTH_JWKS_CACHE_TTL', 600, 10, 86_400)
  const jwksMaxStale = integer(env, 'AUTH_JWKS_MAX_STALE', 86_400, 0, 7 * 86_400)
  if (jwksMaxStale < jwksCacheTtl) {
    throw new ConfigError(
      'AUTH_JWKS_MAX_STALE',
      `must be at least AUTH_JWKS_CACHE_TTL (${jwksCacheTtl} s): keys would be refused before they expire`
    )
  }

  return {
    port,
    host,
    publicUrl: publicUrl(env, audiences, host, port),
    trustProxy: trustProxy(env),
    logLevel: oneOf<LogLevel>(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    corsOrigins,
    metricsEnabled: flag(env, 'METRICS_ENABLED', true),
    metricsPort: metricsPort(env, port),
    devIssuer,
    docs: docsConfig(env, devIssuer),
    issuersFile,
    database: databaseConfig(env),
    auth: {
      issuer,
      audiences,
      jwksUri,
      algorithms: algorithms(env, hsSecret),
      hsSecret,
      clockTolerance: integer(env, 'AUTH_CLOCK_TOLERANCE', 5, 0, 600),
      profile: oneOf<TokenProfile>(env, 'AUTH_TOKEN_PROFILE', ['auto', 'rfc9068'], 'auto'),
      provider,
      clientIds,
      formats: formats as TokenFormat[],
      introspection: {
        url: introspectionUrl,
        clientId: introspectionClientId,
        clientSecret: introspectionClientSecret,
        cacheTtl: integer(env, 'AUTH_INTROSPECTION_CACHE_TTL', 30, 0, 86_400),
        timeoutMs: integer(env, 'AUTH_INTROSPECTION_TIMEOUT_MS', 5000, 100, 60_000),
        maxInFlight: integer(env, 'AUTH_INTROSPECTION_MAX_IN_FLIGHT', 32, 1, 10_000),
        cacheMaxEntries: integer(env, 'AUTH_INTROSPECTION_CACHE_SIZE', 10_000, 1, 1_000_000)
      },
      keys: {
        fetchTimeoutMs: integer(env, 'AUTH_JWKS_TIMEOUT_MS', 5000, 100, 60_000),
        cacheTtl: jwksCacheTtl,
        cooldown: integer(env, 'AUTH_JWKS_COOLDOWN', 30, 0, 3600),
        maxStale: jwksMaxStale,
        maxBytes: 512 * 1024
      },
      tokenCacheSize: integer(env, 'AUTH_TOKEN_CACHE_SIZE', 10_000, 0, 1_000_000),
      dpop: dpopConfig(env)
    }
  }
}
