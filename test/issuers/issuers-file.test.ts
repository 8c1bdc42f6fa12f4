/**
 * AUTH_ISSUERS_FILE (issue 18, item 1): the file's format, its defaults, secrets from the
 * environment, and a refusal naming the file, the entry and the field for every mistake.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, type AuthConfig } from '../../src/config.js'
import { ENTRA_COMMON_KEYS, loadIssuersFile, type TemplateIssuer, type TrustedIssuer } from '../../src/issuers/issuers-file.js'

const dir = mkdtempSync(join(tmpdir(), 'issuers-file-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const base: AuthConfig = loadConfig({ AUTH_ISSUER: 'https://single.example/', AUTH_AUDIENCE: 'https://api.example,api://default' }).auth

const AUTH0 = 'https://tenant.eu.auth0.example/'
const ENTRA_V2 = 'https://login.microsoftonline.com/{tenantid}/v2.0'
const ENTRA_V1 = 'https://sts.windows.net/{tenantid}/'
const T1 = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const T2 = '9188040d-6c67-4c5b-b112-36a304b66dad'

let files = 0
function write(content: string, extension = '.json'): string {
  const path = join(dir, `issuers-${++files}${extension}`)
  writeFileSync(path, content)
  return path
}

function writeJson(document: unknown): string {
  return write(JSON.stringify(document, null, 2))
}

function load(document: unknown, env: Record<string, string> = {}): TrustedIssuer[] {
  return loadIssuersFile(writeJson(document), base, env)
}

/** The message of the ConfigError loading the file throws. */
function problemOf(path: string, env: Record<string, string> = {}, authBase: AuthConfig = base): string {
  try {
    loadIssuersFile(path, authBase, env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).variable).toBe('AUTH_ISSUERS_FILE')
    return (error as ConfigError).message
  }
  throw new Error('expected a ConfigError')
}

/** The problem with one list of entries, checked to name the file, the entry and the field. */
function entryProblem(
  entries: unknown[],
  where: { index: number; label?: string; field: string },
  env: Record<string, string> = {}
): string {
  const path = writeJson({ issuers: entries })
  const message = problemOf(path, env)
  const entry = where.label === undefined ? `issuers[${where.index}]` : `issuers[${where.index}] (${where.label})`
  expect(message.startsWith(`AUTH_ISSUERS_FILE: ${path}: ${entry}: ${where.field}: `), message).toBe(true)
  return message
}

const entraV2 = { issuerTemplate: ENTRA_V2, tenants: [T1, T2], provider: 'entra', audiences: ['api-client-id'] }

describe('the issuers file', () => {
  it('reads exact issuers with the single-issuer defaults, audiences from AUTH_AUDIENCE', () => {
    const [entry] = load({ issuers: [{ issuer: AUTH0 }] })
    expect(entry).toMatchObject({ kind: 'exact', issuer: AUTH0, id: AUTH0, index: 0 })
    expect(entry?.auth).toMatchObject({
      issuer: AUTH0,
      audiences: ['https://api.example', 'api://default'],
      jwksUri: undefined,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      hsSecret: undefined,
      provider: 'generic',
      clientIds: [],
      formats: ['jwt'],
      clockTolerance: base.clockTolerance,
      profile: base.profile,
      tokenCacheSize: base.tokenCacheSize
    })
    expect(entry?.auth.introspection).toEqual({ ...base.introspection, url: undefined, clientId: undefined, clientSecret: undefined })
    expect(entry?.auth.keys).toEqual(base.keys)
    expect(entry?.auth.keys).not.toBe(base.keys)
  })

  it("never hands one issuer's variables (keys, provider, clients, credentials) to the file's issuers", () => {
    const env = {
      AUTH_ISSUER: 'https://single.example/',
      AUTH_AUDIENCE: 'https://api.example',
      AUTH_JWKS_URI: 'https://single.example/keys',
      AUTH_ALGORITHMS: 'ES256,HS256',
      AUTH_HS_SECRET: 'x'.repeat(32),
      AUTH_PROVIDER: 'okta',
      AUTH_CLIENT_IDS: 'one-client',
      AUTH_TOKEN_FORMATS: 'jwt,opaque',
      AUTH_INTROSPECTION_CLIENT_ID: 'api',
      AUTH_INTROSPECTION_CLIENT_SECRET: 'single-secret',
      AUTH_CLOCK_TOLERANCE: '30',
      AUTH_INTROSPECTION_CACHE_TTL: '7'
    }
    const busy = loadConfig(env).auth
    const [entry] = loadIssuersFile(writeJson({ issuers: [{ issuer: AUTH0 }] }), busy, {})
    expect(entry?.auth).toMatchObject({
      jwksUri: undefined,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      hsSecret: undefined,
      provider: 'generic',
      clientIds: [],
      formats: ['jwt'],
      clockTolerance: 30
    })
    expect(entry?.auth.introspection).toMatchObject({ url: undefined, clientId: undefined, clientSecret: undefined, cacheTtl: 7 })
  })

  it('applies every per-issuer setting', () => {
    const [entry] = load(
      {
        issuers: [
          {
            issuer: 'https://as.example/',
            audiences: ['https://api.example', 'https://api.example'],
            jwksUri: 'https://as.example/jwks',
            algorithms: ['ES256'],
            provider: 'Keycloak',
            clientIds: ['spa', 'cli'],
            tokenFormats: ['jwt', 'opaque'],
            introspection: { url: 'https://as.example/introspect', clientId: 'api', clientSecret: { env: 'AS_SECRET' } }
          }
        ]
      },
      { AS_SECRET: '  s3cret  ' }
    )
    expect(entry?.auth).toMatchObject({
      issuer: 'https://as.example/',
      audiences: ['https://api.example'],
      jwksUri: 'https://as.example/jwks',
      algorithms: ['ES256'],
      provider: 'keycloak',
      clientIds: ['spa', 'cli'],
      formats: ['jwt', 'opaque'],
      introspection: { url: 'https://as.example/introspect', clientId: 'api', clientSecret: 's3cret' }
    })
  })

  it('reads YAML: an Auth0 tenant beside a multi-tenant Entra ID, whose keys default to the common set', () => {
    const path = write(
      [
        '# two providers',
        'issuers:',
        `  - issuer: ${AUTH0}`,
        '    provider: auth0',
        '    audiences: [https://api.example]',
        `  - issuerTemplate: "${ENTRA_V2}"`,
        '    provider: entra',
        '    audiences: ["api-client-id"]',
        '    tenants:',
        `      - ${T1}`,
        `      - "${T2}"`,
        ''
      ].join('\n'),
      '.yaml'
    )
    const [auth0, entra] = loadIssuersFile(path, base, {})
    expect(auth0).toMatchObject({ kind: 'exact', issuer: AUTH0, auth: { provider: 'auth0', audiences: ['https://api.example'] } })
    expect(entra).toMatchObject({ kind: 'template', template: ENTRA_V2, id: ENTRA_V2, index: 1 })
    const template = entra as TemplateIssuer
    expect(template.tenants).toEqual(new Set([T1, T2]))
    expect(template.auth).toMatchObject({
      issuer: undefined,
      provider: 'entra',
      audiences: ['api-client-id'],
      jwksUri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys'
    })
  })

  it('reads .yml, "*" as any tenant, and the v1 template with its own common keys', () => {
    const path = write(`issuers:\n  - issuerTemplate: "${ENTRA_V1}"\n    tenants: "*"\n    provider: entra\n`, '.YML')
    const [entry] = loadIssuersFile(path, base, {})
    expect(entry).toMatchObject({ kind: 'template', tenants: 'any', auth: { jwksUri: ENTRA_COMMON_KEYS[ENTRA_V1] } })
  })

  it('takes an explicit jwksUri for any template', () => {
    const [entry] = load({
      issuers: [{ issuerTemplate: 'https://idp.example/tenants/{tenantid}', tenants: ['acme_1'], jwksUri: 'https://idp.example/keys' }]
    })
    expect(entry).toMatchObject({ kind: 'template', tenants: new Set(['acme_1']), auth: { jwksUri: 'https://idp.example/keys' } })
  })

  it('reads secrets from the file or from the environment, never echoing them', () => {
    const opaque = (clientSecret: unknown): unknown => ({
      issuers: [{ issuer: AUTH0, tokenFormats: ['opaque'], introspection: { clientId: { env: 'AS_ID' }, clientSecret } }]
    })
    expect(load(opaque('in-the-file'), { AS_ID: 'api' })[0]?.auth.introspection).toMatchObject({
      clientId: 'api',
      clientSecret: 'in-the-file'
    })
    expect(load(opaque({ env: 'AS_SECRET' }), { AS_ID: 'api', AS_SECRET: 'from-env' })[0]?.auth.introspection.clientSecret).toBe('from-env')
    const where = { index: 0, label: AUTH0, field: 'introspection.clientSecret' }
    expect(entryProblem((opaque({ env: 'AS_SECRET' }) as { issuers: unknown[] }).issuers, where, { AS_ID: 'api' })).toContain(
      'the environment variable AS_SECRET is not set or is empty'
    )
    expect(
      entryProblem((opaque({ env: 'AS_SECRET' }) as { issuers: unknown[] }).issuers, where, { AS_ID: 'api', AS_SECRET: ' ' })
    ).toContain('AS_SECRET is not set')
    const bad = entryProblem(
      (opaque({ env: 'not a name' }) as { issuers: unknown[] }).issuers,
      { ...where, field: 'introspection.clientSecret.env' },
      {
        AS_ID: 'api'
      }
    )
    expect(bad).toContain('must be the name of an environment variable')
    expect(
      entryProblem(
        (opaque({ env: 'S', value: 'x' }) as { issuers: unknown[] }).issuers,
        { ...where, field: 'introspection.clientSecret."value"' },
        { AS_ID: 'api' }
      )
    ).toContain('is not a field')
    expect(entryProblem((opaque(42) as { issuers: unknown[] }).issuers, where, { AS_ID: 'api' })).toContain('{ "env": "NAME" }')
  })
})

describe('refusals of the whole file', () => {
  it('names the file when it cannot be read or parsed', () => {
    const missing = join(dir, 'missing.json')
    expect(problemOf(missing)).toBe(`AUTH_ISSUERS_FILE: ${missing}: cannot be read (no such file)`)
    expect(problemOf(dir)).toMatch(/cannot be read \(is a folder\)/)
    const json = write('{"issuers": [')
    expect(problemOf(json)).toMatch(new RegExp(`^AUTH_ISSUERS_FILE: ${json}: is not valid JSON`))
    const yaml = write('issuers:\n  - issuer: [a\n  b: c\n', '.yaml')
    expect(problemOf(yaml)).toMatch(new RegExp(`^AUTH_ISSUERS_FILE: ${yaml}: is not valid YAML at line \\d+, column \\d+: `))
    expect(problemOf(write(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), '.json'))).toMatch(/is not valid JSON|UTF-8/)
  })

  it('refuses duplicate keys, YAML tags and several documents', () => {
    const json = write(`{"issuers": [{"issuer": "${AUTH0}", "audiences": ["a"], "audiences": ["b"]}]}`)
    expect(problemOf(json)).toBe(`AUTH_ISSUERS_FILE: ${json}: is not valid JSON: the member "audiences" appears twice in one object`)
    const yaml = write(`issuers:\n  - issuer: ${AUTH0}\n    issuer: https://other.example/\n`, '.yml')
    expect(problemOf(yaml)).toMatch(/is not valid YAML at line 3, column 5: Map keys must be unique/)
    expect(problemOf(write(`issuers:\n  - issuer: !!binary aGk=\n`, '.yaml'))).toMatch(/is not valid YAML at line 2.*tag/)
    expect(problemOf(write(`issuers: []\n---\nissuers: []\n`, '.yaml'))).toMatch(/is not valid YAML: it holds several documents/)
  })

  it('refuses a file that is not {"issuers": [ … ]}', () => {
    const cases: Array<[unknown, string]> = [
      [[{ issuer: AUTH0 }], 'must hold an object {"issuers": [ … ]}, got a list'],
      [{}, 'issuers: must be a non-empty list of issuer entries, got nothing'],
      [{ issuers: [] }, 'issuers: must be a non-empty list of issuer entries, got an empty list'],
      [{ issuers: { issuer: AUTH0 } }, 'issuers: must be a non-empty list of issuer entries, got an object'],
      [{ issuers: [{ issuer: AUTH0 }], issuer: AUTH0 }, '"issuer": is not a field (did you mean "issuers"?); the fields are issuers']
    ]
    for (const [document, problem] of cases) {
      const path = writeJson(document)
      expect(problemOf(path)).toBe(`AUTH_ISSUERS_FILE: ${path}: ${problem}`)
    }
    const empty = write('', '.yaml')
    expect(problemOf(empty)).toBe(`AUTH_ISSUERS_FILE: ${empty}: must hold an object {"issuers": [ … ]}, got null`)
  })
})

describe('refusals of one entry name the file, the entry and the field', () => {
  it('an entry that is not an object', () => {
    const path = writeJson({ issuers: [{ issuer: AUTH0 }, 'https://other.example/'] })
    expect(problemOf(path)).toBe(
      `AUTH_ISSUERS_FILE: ${path}: issuers[1]: must be an object with "issuer" or "issuerTemplate", got "https://other.example/"`
    )
  })

  it('unknown fields, with a suggestion', () => {
    expect(entryProblem([{ issuer: AUTH0, audience: ['x'] }], { index: 0, label: AUTH0, field: '"audience"' })).toContain(
      'is not a field (did you mean "audiences"?); the fields are issuer, issuerTemplate, tenants, audiences'
    )
    expect(entryProblem([{ issuer: AUTH0, jwksURI: 'https://x/' }], { index: 0, label: AUTH0, field: '"jwksURI"' })).toContain(
      'did you mean "jwksUri"?'
    )
    expect(entryProblem([{ issuer: AUTH0, __proto__x: 1, sausage: 1 }], { index: 0, label: AUTH0, field: '"__proto__x"' })).toContain(
      'is not a field;'
    )
    const yaml = write(`issuers:\n  - issuer: ${AUTH0}\n    __proto__: {provider: okta}\n`, '.yaml')
    expect(problemOf(yaml)).toContain(`issuers[0] (${AUTH0}): "__proto__": is not a field`)
    expect(
      entryProblem([{ issuer: AUTH0, introspection: { clientID: 'x' } }], { index: 0, label: AUTH0, field: 'introspection."clientID"' })
    ).toContain('did you mean "clientId"?')
  })

  it('issuer and issuerTemplate: exactly one', () => {
    expect(
      entryProblem([{ issuer: AUTH0 }, { issuer: AUTH0, issuerTemplate: ENTRA_V2, tenants: '*' }], {
        index: 1,
        label: AUTH0,
        field: 'issuerTemplate'
      })
    ).toContain('not both')
    expect(entryProblem([{ audiences: ['x'] }], { index: 0, field: 'issuer' })).toContain('is required')
  })

  it('issuer: an exact http(s) URL', () => {
    const cases: Array<[unknown, string | undefined, string]> = [
      ['not a url', 'not a url', 'must be an absolute http(s) URL, got "not a url"'],
      ['ftp://as.example/', 'ftp://as.example/', 'must be an http(s) URL'],
      ['https://as.example/#x', 'https://as.example/#x', 'must not contain a fragment'],
      ['https://u:p@as.example/', 'https://u:p@as.example/', 'must not contain credentials'],
      [' https://as.example/', ' https://as.example/', 'must not start or end with white space'],
      [ENTRA_V2, ENTRA_V2, 'name it "issuerTemplate"'],
      [42, undefined, 'must be the exact "iss" of the issuer\'s tokens (a non-empty string), got number 42'],
      ['', undefined, 'got ""']
    ]
    for (const [issuer, label, problem] of cases) {
      expect(entryProblem([{ issuer }], { index: 0, ...(label === undefined ? {} : { label }), field: 'issuer' })).toContain(problem)
    }
  })

  it('issuerTemplate: {tenantid} once, as a whole path segment', () => {
    const cases: Array<[string, string]> = [
      ['https://login.microsoftonline.com/common/v2.0', 'must contain {tenantid} exactly once'],
      ['https://x.example/{tenantid}/{tenantid}', 'must contain {tenantid} exactly once'],
      ['https://x.example/{tenantId}/v2.0', 'must contain {tenantid} exactly once'],
      ['https://{tenantid}.example/v2.0', 'must be a whole path segment'],
      ['https://x.example/t-{tenantid}/v2.0', 'must be a whole path segment'],
      ['https://x.example/{tenantid}v2.0', 'must be a whole path segment'],
      ['https://x.example/?tenant={tenantid}', 'must be a whole path segment'],
      ['https://x.example/{tenantid}/{region}', 'is the only placeholder'],
      ['ftp://x.example/{tenantid}/', 'must be an http(s) URL']
    ]
    for (const [template, problem] of cases) {
      expect(
        entryProblem([{ issuerTemplate: template, tenants: '*', jwksUri: 'https://x.example/keys' }], {
          index: 0,
          label: template,
          field: 'issuerTemplate'
        })
      ).toContain(problem)
    }
  })

  it('tenants: required with a template, a list of tenant ids or "*"', () => {
    const at = { index: 0, label: ENTRA_V2 }
    const entry = (tenants: unknown): unknown[] => [{ ...entraV2, tenants }]
    expect(entryProblem([{ ...entraV2, tenants: undefined }], { ...at, field: 'tenants' })).toContain('is required with an issuerTemplate')
    expect(entryProblem(entry([]), { ...at, field: 'tenants' })).toContain('must be a non-empty list of tenant ids, or "*"')
    expect(entryProblem(entry('any'), { ...at, field: 'tenants' })).toContain('got "any"')
    expect(entryProblem(entry([T1, '*']), { ...at, field: 'tenants[1]' })).toContain('write tenants: "*"')
    expect(entryProblem(entry(['a/b']), { ...at, field: 'tenants[0]' })).toContain('is not a tenant id')
    expect(entryProblem(entry(['..']), { ...at, field: 'tenants[0]' })).toContain('is not a tenant id')
    expect(entryProblem(entry(['contoso.onmicrosoft.com']), { ...at, field: 'tenants[0]' })).toContain('not its domain')
    expect(entryProblem(entry([T1.toUpperCase()]), { ...at, field: 'tenants[0]' })).toContain(`write the GUID in lowercase`)
    expect(entryProblem(entry([T1, T1]), { ...at, field: 'tenants[1]' })).toContain('is listed twice')
    expect(entryProblem(entry([7]), { ...at, field: 'tenants[0]' })).toContain('must be a tenant id')
    expect(entryProblem([{ issuer: AUTH0, tenants: [T1] }], { index: 0, label: AUTH0, field: 'tenants' })).toContain(
      'only an "issuerTemplate"'
    )
  })

  it('audiences and clientIds: non-empty lists of strings', () => {
    const at = { index: 0, label: AUTH0 }
    expect(entryProblem([{ issuer: AUTH0, audiences: [] }], { ...at, field: 'audiences' })).toContain('must be a non-empty list of strings')
    expect(entryProblem([{ issuer: AUTH0, audiences: 'https://api.example' }], { ...at, field: 'audiences' })).toContain(
      'got "https://api.example"'
    )
    expect(entryProblem([{ issuer: AUTH0, audiences: ['ok', 3] }], { ...at, field: 'audiences[1]' })).toContain('must be an audience')
    expect(entryProblem([{ issuer: AUTH0, audiences: [''] }], { ...at, field: 'audiences[0]' })).toContain('got ""')
    expect(entryProblem([{ issuer: AUTH0, clientIds: [] }], { ...at, field: 'clientIds' })).toContain('leave "clientIds" out')
    expect(entryProblem([{ issuer: AUTH0, provider: 'cognito' }], { ...at, field: 'clientIds' })).toContain(
      'is required with provider "cognito"'
    )
  })

  it('jwksUri: one http(s) URL; required with a template unless Entra', () => {
    const at = { index: 0, label: AUTH0, field: 'jwksUri' }
    expect(entryProblem([{ issuer: AUTH0, jwksUri: 'keys' }], at)).toContain('must be an absolute http(s) URL')
    expect(entryProblem([{ issuer: AUTH0, jwksUri: 'file:///etc/keys' }], at)).toContain('must be an http(s) URL')
    const template = { ...entraV2, jwksUri: 'https://login.microsoftonline.com/{tenantid}/discovery/v2.0/keys' }
    expect(entryProblem([template], { ...at, label: ENTRA_V2 })).toContain('without placeholders')
    expect(entryProblem([{ ...entraV2, provider: 'generic' }], { ...at, label: ENTRA_V2 })).toContain('is required with an issuerTemplate')
    const other = 'https://idp.example/{tenantid}'
    expect(entryProblem([{ issuerTemplate: other, tenants: '*', provider: 'entra' }], { ...at, label: other })).toContain(
      "defaults to Entra's common keys"
    )
  })

  it('algorithms: asymmetric JWS algorithms only', () => {
    const at = { index: 0, label: AUTH0 }
    expect(entryProblem([{ issuer: AUTH0, algorithms: [] }], { ...at, field: 'algorithms' })).toContain('non-empty list')
    expect(entryProblem([{ issuer: AUTH0, algorithms: ['RS256', 'none'] }], { ...at, field: 'algorithms[1]' })).toContain(
      '"none" is never accepted'
    )
    expect(entryProblem([{ issuer: AUTH0, algorithms: ['HS256'] }], { ...at, field: 'algorithms[0]' })).toContain('needs a secret shared')
    expect(entryProblem([{ issuer: AUTH0, algorithms: ['RS1'] }], { ...at, field: 'algorithms[0]' })).toContain('unknown algorithm "RS1"')
  })

  it('provider, tokenFormats and introspection', () => {
    const at = { index: 0, label: AUTH0 }
    expect(entryProblem([{ issuer: AUTH0, provider: 'google' }], { ...at, field: 'provider' })).toContain(
      'must be one of generic, auth0, okta, entra, keycloak, cognito, got "google"'
    )
    expect(entryProblem([{ issuer: AUTH0, tokenFormats: ['jwe'] }], { ...at, field: 'tokenFormats[0]' })).toContain(
      'must be "jwt" or "opaque"'
    )
    expect(entryProblem([{ issuer: AUTH0, tokenFormats: ['opaque'] }], { ...at, field: 'introspection.clientId' })).toContain(
      'is required when tokenFormats accepts opaque tokens'
    )
    expect(
      entryProblem([{ issuer: AUTH0, tokenFormats: ['opaque'], introspection: { clientId: 'api' } }], {
        ...at,
        field: 'introspection.clientSecret'
      })
    ).toContain('is required when tokenFormats accepts opaque tokens')
    expect(entryProblem([{ issuer: AUTH0, introspection: 'https://as/introspect' }], { ...at, field: 'introspection' })).toContain(
      'must be an object { url, clientId, clientSecret }'
    )
    expect(entryProblem([{ issuer: AUTH0, introspection: { url: 'as/introspect' } }], { ...at, field: 'introspection.url' })).toContain(
      'must be an absolute http(s) URL'
    )
    const opaqueTemplate = { ...entraV2, tokenFormats: ['jwt', 'opaque'], introspection: { clientId: 'a', clientSecret: 'b' } }
    expect(entryProblem([opaqueTemplate], { index: 0, label: ENTRA_V2, field: 'tokenFormats' })).toContain('accepts JWTs only')
  })
})

describe('refusals across entries', () => {
  it('the same issuer or template twice', () => {
    expect(
      entryProblem([{ issuer: AUTH0 }, { issuer: 'https://b.example/' }, { issuer: AUTH0 }], { index: 2, label: AUTH0, field: 'issuer' })
    ).toContain('is already issuers[0]')
    expect(entryProblem([entraV2, { ...entraV2, tenants: '*' }], { index: 1, label: ENTRA_V2, field: 'issuerTemplate' })).toContain(
      'is already issuers[0]'
    )
  })

  it('is exact: a trailing slash makes another issuer, and v1 and v2 templates are different', () => {
    const entries = load({
      issuers: [
        { issuer: 'https://as.example' },
        { issuer: 'https://as.example/' },
        entraV2,
        { issuerTemplate: ENTRA_V1, tenants: [T1], provider: 'entra' }
      ]
    })
    expect(entries.map((entry) => entry.id)).toEqual(['https://as.example', 'https://as.example/', ENTRA_V2, ENTRA_V1])
  })

  it('a listed tenant that has its own exact entry', () => {
    const own = `https://login.microsoftonline.com/${T2}/v2.0`
    expect(entryProblem([{ issuer: own, audiences: ['special'] }, entraV2], { index: 1, label: ENTRA_V2, field: 'tenants' })).toContain(
      `"${T2}" has its own entry issuers[0], which takes precedence`
    )
    // with "*", the exact entry is the deliberate exception for one tenant
    expect(
      load({
        issuers: [
          { issuer: own, audiences: ['special'] },
          { ...entraV2, tenants: '*' }
        ]
      })
    ).toHaveLength(2)
  })

  it('opaque tokens accepted by one issuer at most', () => {
    const opaque = { tokenFormats: ['jwt', 'opaque'], introspection: { clientId: 'api', clientSecret: 'x' } }
    expect(
      entryProblem(
        [
          { issuer: AUTH0, ...opaque },
          { issuer: 'https://b.example/', ...opaque }
        ],
        { index: 1, label: 'https://b.example/', field: 'tokenFormats' }
      )
    ).toContain('issuers[0] accepts opaque tokens already')
  })
})
