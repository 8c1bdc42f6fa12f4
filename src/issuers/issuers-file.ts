/**
 * AUTH_ISSUERS_FILE: several trusted issuers, each with its own settings, read once at start.
 *
 * The file (JSON, or YAML when its name ends in .yaml or .yml) holds `{"issuers": [ … ]}`; each
 * entry names one issuer exactly (`issuer`) or a family of tenants (`issuerTemplate` with
 * `{tenantid}` and `tenants`), and may override the per-issuer settings. Every entry becomes a
 * TrustedIssuer carrying a complete AuthConfig, so that each issuer gets its own key store,
 * verifier and introspector. docs/issuers.md describes the format.
 *
 * Defaults: `audiences` is AUTH_AUDIENCE (base.audiences). The other per-issuer settings default
 * to what the single-issuer variable gives when it is unset (discovered keys, the default
 * algorithms, provider generic, any client, JWT only, discovered introspection endpoint), never
 * to AUTH_JWKS_URI, AUTH_PROVIDER and so on: those describe one issuer, and handing one
 * issuer's keys or credentials to every other issuer would let a token of one verify as
 * another's. The settings that are not per issuer (clock tolerance, token profile, key cache
 * timings, introspection cache and timeouts, the token cache, DPoP) come from base.
 *
 * Every refusal is a ConfigError for AUTH_ISSUERS_FILE naming the file, the entry (its index,
 * 0-based, and its issuer or template) and the field:
 *   AUTH_ISSUERS_FILE: ./issuers.yaml: issuers[1] (https://…/v2.0): audiences: must be …
 * Secrets are never echoed.
 */
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { parseAllDocuments } from 'yaml'
import {
  ASYMMETRIC_ALGS,
  ConfigError,
  HMAC_ALGS,
  PROVIDERS,
  type AuthConfig,
  type JwsAlg,
  type ProviderPreset,
  type TokenFormat
} from '../config.js'

/** The placeholder of an issuer template, filled with the token's `tid`. */
export const TENANT_PLACEHOLDER = '{tenantid}'

/**
 * What a tenant id (a listed one, and a token's `tid`) may be: letters, digits, `-` and `_`,
 * 1 to 64 of them. Entra's are lowercase GUIDs. No `/`, `.`, `%`, `?`, `#`, `\`, `:` or `@`, so
 * that filling a template can never add a path segment, a dot segment, a query or an authority.
 */
export const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/

/** The algorithms of AUTH_ALGORITHMS when unset. */
const DEFAULT_ALGORITHMS: readonly JwsAlg[] = ['RS256', 'PS256', 'ES256', 'EdDSA']

/**
 * Entra ID signs the tokens of every tenant with the same keys, published at the common
 * endpoint. An entry with one of these templates and `provider: entra` needs no `jwksUri`.
 */
export const ENTRA_COMMON_KEYS: Readonly<Record<string, string>> = {
  'https://login.microsoftonline.com/{tenantid}/v2.0': 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
  'https://sts.windows.net/{tenantid}/': 'https://login.microsoftonline.com/common/discovery/keys'
}

/** Larger than any list of issuers; a bigger file is someone's mistake. */
const MAX_FILE_BYTES = 1024 * 1024

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

interface TrustedIssuerBase {
  /** Stable, for logs and metrics labels: the issuer, or the template. */
  readonly id: string
  /** The entry's position in the file (0-based), for messages. */
  readonly index: number
  /**
   * The complete configuration of this issuer (base with the entry's settings). For a template
   * entry, `issuer` is undefined (there is no one issuer to discover or compare `iss` with: the
   * router gives the `iss` of each token) and `jwksUri` is always set.
   */
  readonly auth: AuthConfig
}

export interface ExactIssuer extends TrustedIssuerBase {
  readonly kind: 'exact'
  /** Compared with `iss` exactly: no normalisation, a trailing slash matters. */
  readonly issuer: string
}

export interface TemplateIssuer extends TrustedIssuerBase {
  readonly kind: 'template'
  /** Contains TENANT_PLACEHOLDER once, as a whole path segment. */
  readonly template: string
  /** The allowed tenant ids, or 'any' for `tenants: "*"`. */
  readonly tenants: ReadonlySet<string> | 'any'
}

export type TrustedIssuer = ExactIssuer | TemplateIssuer

type Env = Record<string, string | undefined>

const TOP_FIELDS = ['issuers'] as const
const ENTRY_FIELDS = [
  'issuer',
  'issuerTemplate',
  'tenants',
  'audiences',
  'jwksUri',
  'algorithms',
  'provider',
  'clientIds',
  'tokenFormats',
  'introspection'
] as const
const INTROSPECTION_FIELDS = ['url', 'clientId', 'clientSecret'] as const

/** The issuer's template with a tenant id in place of TENANT_PLACEHOLDER. */
export function fillTemplate(template: string, tenantId: string): string {
  return template.replace(TENANT_PLACEHOLDER, () => tenantId)
}

/** The one issuer of the single-issuer variables, as the router's only entry. */
export function singleIssuer(auth: AuthConfig): ExactIssuer {
  if (auth.issuer === undefined) throw new Error('the issuer is not known yet (DEV_ISSUER starts it first)')
  return { kind: 'exact', issuer: auth.issuer, id: auth.issuer, index: 0, auth }
}

/**
 * Reads and validates the issuers file. `base` is the configuration of the environment (for
 * AUTH_AUDIENCE and the settings shared by all issuers); `env` is where `{ "env": "NAME" }`
 * secrets are read.
 */
export function loadIssuersFile(path: string, base: AuthConfig, env: Env = process.env): TrustedIssuer[] {
  const document = parseFile(path, readText(path))
  const fail: (problem: string) => never = (problem) => {
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: ${problem}`)
  }
  if (!isPlainObject(document)) fail(`must hold an object {"issuers": [ … ]}, got ${describe(document)}`)
  const top = document as Record<string, unknown>
  refuseUnknown(top, TOP_FIELDS, (field, problem) => fail(`${field}: ${problem}`))
  const list = top.issuers
  if (!Array.isArray(list) || list.length === 0) {
    fail(`issuers: must be a non-empty list of issuer entries, got ${describe(list)}`)
  }
  const entries = (list as unknown[]).map((entry, index) => parseEntry(entry, index, path, base, env))
  checkAcrossEntries(entries, path)
  return entries
}

function readText(path: string): string {
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : code
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: cannot be read (${why ?? 'unknown error'})`)
  }
  if (bytes.length > MAX_FILE_BYTES) throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is larger than ${MAX_FILE_BYTES} bytes`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is not valid UTF-8`)
  }
  return text.startsWith('\uFEFF') ? text.slice(1) : text
}

function isYaml(path: string): boolean {
  const extension = extname(path).toLowerCase()
  return extension === '.yaml' || extension === '.yml'
}

/** JSON (duplicate member names refused), or YAML 1.2 core schema (duplicate keys, unknown tags and several documents refused). */
function parseFile(path: string, text: string): unknown {
  if (isYaml(path)) {
    const docs = parseAllDocuments(text, {
      schema: 'core',
      uniqueKeys: true,
      resolveKnownTags: false,
      logLevel: 'silent',
      prettyErrors: true
    })
    const [doc, second] = Array.isArray(docs) ? docs : []
    if (doc === undefined) return null
    if (second !== undefined)
      throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is not valid YAML: it holds several documents (---); write one`)
    const problem = doc.errors[0] ?? doc.warnings[0]
    if (problem !== undefined) {
      const where = problem.linePos === undefined ? '' : ` at line ${problem.linePos[0].line}, column ${problem.linePos[0].col}`
      const message = problem.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? problem.code
      throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is not valid YAML${where}: ${message}`)
    }
    try {
      return doc.toJS({ maxAliasCount: 50 })
    } catch (error) {
      throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is not valid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`)
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is not valid JSON (${(error as Error).message}); name a YAML file *.yaml or *.yml`)
  }
  const duplicate = duplicateMember(text)
  if (duplicate !== undefined)
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: is not valid JSON: the member "${duplicate}" appears twice in one object`)
  return value
}

/**
 * The first member name that appears twice in one object of a valid JSON text (JSON.parse
 * keeps the last one silently, which would hide a mistake such as two `audiences`).
 */
function duplicateMember(text: string): string | undefined {
  const stack: Array<Set<string> | null> = []
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      const start = i
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++
      const top = stack[stack.length - 1]
      if (expectKey && top instanceof Set) {
        const name = JSON.parse(text.slice(start, i + 1)) as string
        if (top.has(name)) return name.slice(0, 60)
        top.add(name)
      }
      expectKey = false
    } else if (c === '{') {
      stack.push(new Set())
      expectKey = true
    } else if (c === '[') {
      stack.push(null)
      expectKey = false
    } else if (c === '}' || c === ']') {
      stack.pop()
      expectKey = false
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] instanceof Set
    }
  }
  return undefined
}

// ---- one entry ----

type Fail = (field: string, problem: string) => never

function parseEntry(value: unknown, index: number, path: string, base: AuthConfig, env: Env): TrustedIssuer {
  let label = `issuers[${index}]`
  const fail: Fail = (field, problem) => {
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: ${label}: ${field}: ${problem}`)
  }
  if (!isPlainObject(value)) {
    throw new ConfigError(
      'AUTH_ISSUERS_FILE',
      `${path}: ${label}: must be an object with "issuer" or "issuerTemplate", got ${describe(value)}`
    )
  }
  const entry = value as Record<string, unknown>
  const hasIssuer = entry.issuer !== undefined
  const hasTemplate = entry.issuerTemplate !== undefined
  // the label first, so that every later message names the entry
  const named = hasIssuer ? entry.issuer : entry.issuerTemplate
  if (typeof named === 'string' && named.trim() !== '') label = `${label} (${clip(named, 100)})`
  refuseUnknown(entry, ENTRY_FIELDS, fail)
  if (hasIssuer && hasTemplate)
    fail('issuerTemplate', 'an entry has either "issuer" (one exact iss) or "issuerTemplate" (tenants), not both')
  if (!hasIssuer && !hasTemplate)
    fail('issuer', 'is required: the exact "iss" of the issuer\'s tokens (or "issuerTemplate" with "tenants" for multi-tenant Entra ID)')

  const provider = parseProvider(entry.provider, fail)
  let match: { kind: 'exact'; issuer: string } | { kind: 'template'; template: string; tenants: ReadonlySet<string> | 'any' }
  if (hasIssuer) {
    match = { kind: 'exact', issuer: parseIssuer(entry.issuer, fail) }
    if (entry.tenants !== undefined) fail('tenants', 'only an "issuerTemplate" entry has tenants')
  } else {
    const template = parseTemplate(entry.issuerTemplate, fail)
    match = { kind: 'template', template, tenants: parseTenants(entry.tenants, fail) }
  }

  const audiences = entry.audiences === undefined ? [...base.audiences] : stringList(entry.audiences, 'audiences', fail, 'an audience')
  let jwksUri = entry.jwksUri === undefined ? undefined : parseJwksUri(entry.jwksUri, fail)
  if (match.kind === 'template' && jwksUri === undefined) {
    const common = provider === 'entra' ? ENTRA_COMMON_KEYS[match.template] : undefined
    if (common === undefined) {
      fail(
        'jwksUri',
        'is required with an issuerTemplate: keys cannot be discovered from a template (with provider "entra" and the ' +
          `template ${Object.keys(ENTRA_COMMON_KEYS).join(' or ')}, it defaults to Entra's common keys)`
      )
    }
    jwksUri = common
  }
  const algorithms = entry.algorithms === undefined ? [...DEFAULT_ALGORITHMS] : parseAlgorithms(entry.algorithms, fail)
  const clientIds = entry.clientIds === undefined ? [] : stringList(entry.clientIds, 'clientIds', fail, 'a client id')
  if (provider === 'cognito' && clientIds.length === 0) {
    fail('clientIds', 'is required with provider "cognito" (Cognito access tokens carry client_id, not aud)')
  }
  const formats = entry.tokenFormats === undefined ? (['jwt'] as TokenFormat[]) : parseFormats(entry.tokenFormats, fail)
  const introspection = entry.introspection === undefined ? {} : parseIntrospection(entry.introspection, fail, env)
  if (formats.includes('opaque')) {
    if (match.kind === 'template') {
      fail(
        'tokenFormats',
        'an issuerTemplate entry accepts JWTs only: an opaque token names no tenant, and a template has no introspection endpoint'
      )
    }
    if (introspection.clientId === undefined) fail('introspection.clientId', 'is required when tokenFormats accepts opaque tokens')
    if (introspection.clientSecret === undefined) fail('introspection.clientSecret', 'is required when tokenFormats accepts opaque tokens')
  }

  const auth: AuthConfig = {
    ...base,
    issuer: match.kind === 'exact' ? match.issuer : undefined,
    audiences,
    jwksUri,
    algorithms,
    // a secret shared with "the issuer" cannot be shared with several (see parseAlgorithms)
    hsSecret: undefined,
    provider,
    clientIds,
    formats,
    introspection: {
      ...base.introspection,
      url: introspection.url,
      clientId: introspection.clientId,
      clientSecret: introspection.clientSecret
    },
    keys: { ...base.keys }
  }
  return match.kind === 'exact'
    ? { kind: 'exact', issuer: match.issuer, id: match.issuer, index, auth }
    : { kind: 'template', template: match.template, tenants: match.tenants, id: match.template, index, auth }
}

function parseIssuer(value: unknown, fail: Fail): string {
  const issuer = nonEmptyString(value, 'issuer', fail, 'the exact "iss" of the issuer\'s tokens')
  if (issuer.includes(TENANT_PLACEHOLDER)) fail('issuer', `contains ${TENANT_PLACEHOLDER}: name it "issuerTemplate" and list its "tenants"`)
  return httpUrl(issuer, 'issuer', fail)
}

function parseTemplate(value: unknown, fail: Fail): string {
  const field = 'issuerTemplate'
  const template = nonEmptyString(value, field, fail, `an issuer URL with ${TENANT_PLACEHOLDER}`)
  const parts = template.split(TENANT_PLACEHOLDER)
  if (parts.length !== 2) fail(field, `must contain ${TENANT_PLACEHOLDER} exactly once, got "${clip(template, 100)}"`)
  const [prefix = '', suffix = ''] = parts
  if (/[{}]/.test(prefix + suffix))
    fail(field, `${TENANT_PLACEHOLDER} is the only placeholder (braces elsewhere: "${clip(template, 100)}")`)
  const sample = httpUrl(prefix + 'tenant' + suffix, field, fail)
  // the placeholder is one whole path segment: after the authority, between slashes (or last)
  const authorityEnd = prefix.indexOf('/', prefix.indexOf('://') + 3)
  if (!prefix.endsWith('/') || authorityEnd === -1 || !(suffix === '' || suffix.startsWith('/')) || new URL(sample).search !== '') {
    fail(field, `${TENANT_PLACEHOLDER} must be a whole path segment, as in https://login.microsoftonline.com/${TENANT_PLACEHOLDER}/v2.0`)
  }
  return template
}

function parseTenants(value: unknown, fail: Fail): ReadonlySet<string> | 'any' {
  const field = 'tenants'
  if (value === undefined) {
    fail(field, 'is required with an issuerTemplate: the allowed tenant ids (Entra: directory GUIDs), or "*" for any tenant')
  }
  if (value === '*') return 'any'
  if (!Array.isArray(value) || value.length === 0) {
    fail(field, `must be a non-empty list of tenant ids, or "*" for any tenant, got ${describe(value)}`)
  }
  const tenants = new Set<string>()
  for (const [i, item] of (value as unknown[]).entries()) {
    const at = `${field}[${i}]`
    if (item === '*') fail(at, 'to allow any tenant write tenants: "*" instead of a list')
    const tenant = nonEmptyString(item, at, fail, 'a tenant id')
    if (!TENANT_ID.test(tenant)) {
      fail(
        at,
        `"${clip(tenant, 70)}" is not a tenant id (letters, digits, - and _, at most 64; Entra: the directory's GUID, not its domain)`
      )
    }
    if (GUID.test(tenant) && tenant !== tenant.toLowerCase()) {
      fail(at, `write the GUID in lowercase, as tokens carry it in "tid" ("${tenant.toLowerCase()}")`)
    }
    if (tenants.has(tenant)) fail(at, `"${tenant}" is listed twice`)
    tenants.add(tenant)
  }
  return tenants
}

function parseJwksUri(value: unknown, fail: Fail): string {
  const uri = nonEmptyString(value, 'jwksUri', fail, "the URL of the issuer's JSON Web Key Set")
  if (uri.includes('{') || uri.includes('}')) {
    fail('jwksUri', `is one URL for the whole entry, without placeholders (Entra signs every tenant's tokens with its common keys)`)
  }
  return httpUrl(uri, 'jwksUri', fail)
}

function parseProvider(value: unknown, fail: Fail): ProviderPreset {
  if (value === undefined) return 'generic'
  const provider = typeof value === 'string' ? value.toLowerCase() : undefined
  if (provider === undefined || !(PROVIDERS as readonly string[]).includes(provider)) {
    fail('provider', `must be one of ${PROVIDERS.join(', ')}, got ${describe(value)}`)
  }
  return provider as ProviderPreset
}

function parseAlgorithms(value: unknown, fail: Fail): JwsAlg[] {
  const algorithms = stringList(value, 'algorithms', fail, 'a JWS algorithm')
  for (const [i, alg] of algorithms.entries()) {
    const at = `algorithms[${i}]`
    if (alg.toLowerCase() === 'none') fail(at, '"none" is never accepted')
    if ((HMAC_ALGS as readonly string[]).includes(alg)) {
      fail(
        at,
        `${alg} needs a secret shared with the issuer; the issuers file has none (a secret shared by several issuers would let one sign for another)`
      )
    }
    if (!(ASYMMETRIC_ALGS as readonly string[]).includes(alg))
      fail(at, `unknown algorithm "${clip(alg, 30)}" (known: ${ASYMMETRIC_ALGS.join(', ')})`)
  }
  return algorithms as JwsAlg[]
}

function parseFormats(value: unknown, fail: Fail): TokenFormat[] {
  const formats = stringList(value, 'tokenFormats', fail, 'a token format')
  for (const [i, format] of formats.entries()) {
    if (format !== 'jwt' && format !== 'opaque') fail(`tokenFormats[${i}]`, `must be "jwt" or "opaque", got "${clip(format, 30)}"`)
  }
  return formats as TokenFormat[]
}

interface IntrospectionSettings {
  url?: string
  clientId?: string
  clientSecret?: string
}

function parseIntrospection(value: unknown, fail: Fail, env: Env): IntrospectionSettings {
  if (!isPlainObject(value)) fail('introspection', `must be an object { url, clientId, clientSecret }, got ${describe(value)}`)
  const section = value as Record<string, unknown>
  refuseUnknown(section, INTROSPECTION_FIELDS, (field, problem) => fail(`introspection.${field}`, problem))
  const settings: IntrospectionSettings = {}
  if (section.url !== undefined) {
    settings.url = httpUrl(nonEmptyString(section.url, 'introspection.url', fail, 'an http(s) URL'), 'introspection.url', fail)
  }
  const clientId = fromEnvOrText(section.clientId, 'introspection.clientId', fail, env)
  if (clientId !== undefined) settings.clientId = clientId
  const clientSecret = fromEnvOrText(section.clientSecret, 'introspection.clientSecret', fail, env)
  if (clientSecret !== undefined) settings.clientSecret = clientSecret
  return settings
}

/**
 * A credential: a string in the file, or `{ "env": "NAME" }` to read it from the environment
 * variable NAME (trimmed; unset or empty is an error). The value is never put into a message.
 */
function fromEnvOrText(value: unknown, field: string, fail: Fail, env: Env): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') {
    if (value.trim() === '') fail(field, 'must not be empty')
    return value
  }
  if (isPlainObject(value)) {
    const reference = value as Record<string, unknown>
    refuseUnknown(reference, ['env'], (name, problem) => fail(`${field}.${name}`, problem))
    const name = reference.env
    if (typeof name !== 'string' || !ENV_NAME.test(name)) {
      fail(`${field}.env`, `must be the name of an environment variable (letters, digits and _), got ${describe(name)}`)
    }
    const text = env[name as string]?.trim()
    if (text === undefined || text === '') fail(field, `the environment variable ${name as string} is not set or is empty`)
    return text
  }
  return fail(field, `must be a string, or { "env": "NAME" } to read it from the environment, got ${describe(value)}`)
}

// ---- across entries ----

function checkAcrossEntries(entries: readonly TrustedIssuer[], path: string): void {
  const fail = (entry: TrustedIssuer, field: string, problem: string): never => {
    throw new ConfigError('AUTH_ISSUERS_FILE', `${path}: issuers[${entry.index}] (${clip(entry.id, 100)}): ${field}: ${problem}`)
  }
  const exact = new Map<string, TrustedIssuer>()
  const templates = new Map<string, TrustedIssuer>()
  let opaque: TrustedIssuer | undefined
  for (const entry of entries) {
    const seen = entry.kind === 'exact' ? exact : templates
    const earlier = seen.get(entry.id)
    if (earlier !== undefined) fail(entry, entry.kind === 'exact' ? 'issuer' : 'issuerTemplate', `is already issuers[${earlier.index}]`)
    seen.set(entry.id, entry)
    if (entry.auth.formats.includes('opaque')) {
      if (opaque !== undefined) {
        fail(
          entry,
          'tokenFormats',
          `issuers[${opaque.index}] accepts opaque tokens already; an opaque token names no issuer, so only one issuer may accept them`
        )
      }
      opaque = entry
    }
  }
  // A listed tenant that also has its own exact entry would never reach the template.
  for (const entry of entries) {
    if (entry.kind !== 'template' || entry.tenants === 'any') continue
    for (const tenant of entry.tenants) {
      const other = exact.get(fillTemplate(entry.template, tenant))
      if (other !== undefined)
        fail(entry, 'tenants', `"${tenant}" has its own entry issuers[${other.index}], which takes precedence; remove it here`)
    }
  }
}

// ---- values ----

function isPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value) && !(value instanceof Map)
}

function refuseUnknown(object: Record<string, unknown>, known: readonly string[], fail: Fail): void {
  for (const name of Object.keys(object)) {
    if (known.includes(name)) continue
    const suggestion = known.find((field) => field.toLowerCase() === name.toLowerCase() || distance(field, name) <= 2)
    fail(
      JSON.stringify(clip(name, 40)),
      `is not a field${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}; the fields are ${known.join(', ')}`
    )
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length] ?? 0
}

function nonEmptyString(value: unknown, field: string, fail: Fail, what: string): string {
  if (typeof value !== 'string' || value === '') fail(field, `must be ${what} (a non-empty string), got ${describe(value)}`)
  const text = value as string
  if (text.trim() !== text) fail(field, `must not start or end with white space, got ${describe(text)}`)
  return text
}

/** A non-empty list of non-empty strings, duplicates dropped. */
function stringList(value: unknown, field: string, fail: Fail, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    fail(field, `must be a non-empty list of strings (leave "${field}" out for the default), got ${describe(value)}`)
  }
  const items = (value as unknown[]).map((item, i) => nonEmptyString(item, `${field}[${i}]`, fail, what))
  return [...new Set(items)]
}

function httpUrl(value: string, field: string, fail: Fail): string {
  const url = URL.parse(value)
  if (url === null) fail(field, `must be an absolute http(s) URL, got ${describe(value)}`)
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(field, `must be an http(s) URL, got ${describe(value)}`)
  if (url.username !== '' || url.password !== '') fail(field, 'must not contain credentials')
  if (value.includes('#')) fail(field, 'must not contain a fragment')
  return value
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`
}

/** A value in a message: strings quoted and clipped, the rest by their kind. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(clip(value, 80))
  if (value === null) return 'null'
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list'
  if (typeof value === 'object') return 'an object'
  if (value === undefined) return 'nothing'
  return `${typeof value} ${String(value).slice(0, 40)}`
}
