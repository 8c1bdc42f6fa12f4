import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.js'

const base = { AUTH_ISSUER: 'https://issuer.example/', AUTH_AUDIENCE: 'https://api.example' }

function problem(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as ConfigError).message
  }
  throw new Error('expected a ConfigError')
}

describe('configuration', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig(base)
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      logLevel: 'info',
      corsOrigins: [],
      metricsEnabled: true,
      devIssuer: false
    })
    expect(config.auth).toMatchObject({
      issuer: 'https://issuer.example/',
      audiences: ['https://api.example'],
      jwksUri: undefined,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      clockTolerance: 5,
      profile: 'auto',
      provider: 'generic',
      clientIds: [],
      formats: ['jwt']
    })
    expect(config.auth.introspection.cacheTtl).toBe(30)
  })

  it('reads every variable', () => {
    const config = loadConfig({
      ...base,
      PORT: '8080',
      HOST: '0.0.0.0',
      AUTH_AUDIENCE: 'a, b',
      AUTH_JWKS_URI: 'https://issuer.example/keys',
      AUTH_ALGORITHMS: 'ES256,EdDSA',
      AUTH_CLOCK_TOLERANCE: '0',
      AUTH_TOKEN_PROFILE: 'rfc9068',
      CORS_ORIGINS: 'http://127.0.0.1:5173, https://app.example',
      AUTH_PROVIDER: 'okta',
      AUTH_CLIENT_IDS: 'c1,c2',
      AUTH_TOKEN_FORMATS: 'jwt,opaque',
      AUTH_INTROSPECTION_URL: 'https://issuer.example/introspect',
      AUTH_INTROSPECTION_CLIENT_ID: 'api',
      AUTH_INTROSPECTION_CLIENT_SECRET: 'secret',
      AUTH_INTROSPECTION_CACHE_TTL: '10',
      LOG_LEVEL: 'warn',
      METRICS_ENABLED: 'false'
    })
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      logLevel: 'warn',
      metricsEnabled: false,
      corsOrigins: ['http://127.0.0.1:5173', 'https://app.example']
    })
    expect(config.auth).toMatchObject({
      audiences: ['a', 'b'],
      jwksUri: 'https://issuer.example/keys',
      algorithms: ['ES256', 'EdDSA'],
      clockTolerance: 0,
      profile: 'rfc9068',
      provider: 'okta',
      clientIds: ['c1', 'c2'],
      formats: ['jwt', 'opaque'],
      introspection: { url: 'https://issuer.example/introspect', clientId: 'api', clientSecret: 'secret', cacheTtl: 10 }
    })
  })

  it.each([
    [{ AUTH_AUDIENCE: 'x' }, /^AUTH_ISSUER: is required/],
    [{ AUTH_ISSUER: 'https://i.example' }, /^AUTH_AUDIENCE: is required/],
    [{ ...base, AUTH_ISSUER: 'not a url' }, /^AUTH_ISSUER: /],
    [{ ...base, AUTH_ISSUER: 'ftp://i.example' }, /^AUTH_ISSUER: /],
    [{ ...base, PORT: 'eighty' }, /^PORT: must be a whole number/],
    [{ ...base, PORT: '70000' }, /^PORT: must be between/],
    [{ ...base, AUTH_ALGORITHMS: 'none' }, /^AUTH_ALGORITHMS: "none" is never accepted/],
    [{ ...base, AUTH_ALGORITHMS: 'RS256,NONE' }, /^AUTH_ALGORITHMS: "none"/],
    [{ ...base, AUTH_ALGORITHMS: 'HS256' }, /^AUTH_ALGORITHMS: HS256 needs a shared secret/],
    [{ ...base, AUTH_ALGORITHMS: 'RS257' }, /^AUTH_ALGORITHMS: unknown algorithm/],
    [{ ...base, AUTH_ALGORITHMS: 'RS256,,ES256' }, /^AUTH_ALGORITHMS: has an empty item/],
    [{ ...base, AUTH_CLOCK_TOLERANCE: '-1' }, /^AUTH_CLOCK_TOLERANCE: /],
    [{ ...base, AUTH_CLOCK_TOLERANCE: '1.5' }, /^AUTH_CLOCK_TOLERANCE: /],
    [{ ...base, AUTH_TOKEN_PROFILE: 'strict' }, /^AUTH_TOKEN_PROFILE: must be one of auto, rfc9068/],
    [{ ...base, CORS_ORIGINS: '*' }, /^CORS_ORIGINS: /],
    [{ ...base, CORS_ORIGINS: 'https://app.example/path' }, /^CORS_ORIGINS: /],
    [{ ...base, AUTH_PROVIDER: 'google' }, /^AUTH_PROVIDER: must be one of/],
    [{ ...base, AUTH_PROVIDER: 'cognito' }, /^AUTH_CLIENT_IDS: is required/],
    [{ ...base, AUTH_TOKEN_FORMATS: 'jwe' }, /^AUTH_TOKEN_FORMATS: /],
    [{ ...base, AUTH_TOKEN_FORMATS: 'opaque' }, /^AUTH_INTROSPECTION_CLIENT_ID: is required/],
    [{ ...base, AUTH_TOKEN_FORMATS: 'jwt,opaque', AUTH_INTROSPECTION_CLIENT_ID: 'api' }, /^AUTH_INTROSPECTION_CLIENT_SECRET: is required/],
    [{ ...base, AUTH_INTROSPECTION_URL: 'nope' }, /^AUTH_INTROSPECTION_URL: /],
    [{ ...base, AUTH_INTROSPECTION_CACHE_TTL: 'soon' }, /^AUTH_INTROSPECTION_CACHE_TTL: /],
    [{ ...base, LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
    [{ ...base, METRICS_ENABLED: 'maybe' }, /^METRICS_ENABLED: /],
    [{ ...base, AUTH_JWKS_URI: 'keys.json' }, /^AUTH_JWKS_URI: /],
    [{ AUTH_AUDIENCE: 'x', DEV_ISSUER: '1', NODE_ENV: 'production' }, /^DEV_ISSUER: /],
    [{ ...base, AUTH_JWKS_CACHE_TTL: '3600', AUTH_JWKS_MAX_STALE: '600' }, /^AUTH_JWKS_MAX_STALE: must be at least AUTH_JWKS_CACHE_TTL/],
    [{ ...base, AUTH_JWKS_COOLDOWN: 'often' }, /^AUTH_JWKS_COOLDOWN: /],
    [{ ...base, AUTH_HS_SECRET: 'short' }, /^AUTH_HS_SECRET: must be at least 32 bytes/]
  ])('refuses %j', (env, message) => {
    expect(problem(env as Record<string, string>)).toMatch(message)
  })

  it('DEV_ISSUER=1 makes AUTH_ISSUER optional', () => {
    expect(loadConfig({ AUTH_AUDIENCE: 'x', DEV_ISSUER: '1' }).auth.issuer).toBeUndefined()
  })

  it('keeps the issuer exactly as given (no slash normalisation)', () => {
    expect(loadConfig({ ...base, AUTH_ISSUER: 'https://i.example' }).auth.issuer).toBe('https://i.example')
  })
})

describe('PUBLIC_URL', () => {
  it.each([
    ['the audience when it is an https URL', { AUTH_AUDIENCE: 'https://api.example' }, 'https://api.example'],
    ['its origin and path, without the trailing slash', { AUTH_AUDIENCE: 'https://api.example/v1/' }, 'https://api.example/v1'],
    ['without query or fragment', { AUTH_AUDIENCE: 'https://api.example:8443/v1?x=1#f' }, 'https://api.example:8443/v1'],
    [
      'the first audience that is an http(s) URL',
      { AUTH_AUDIENCE: 'urn:api, api, http://127.0.0.1:3000, https://later.example' },
      'http://127.0.0.1:3000'
    ],
    [
      'http://HOST:PORT when no audience is a URL',
      { AUTH_AUDIENCE: 'urn:api,my-api', HOST: '10.0.0.5', PORT: '8080' },
      'http://10.0.0.5:8080'
    ],
    ['http://HOST:PORT with the defaults', { AUTH_AUDIENCE: 'api' }, 'http://127.0.0.1:3000'],
    ['an IPv6 HOST in brackets', { AUTH_AUDIENCE: 'api', HOST: '::1' }, 'http://[::1]:3000']
  ])('defaults to %s', (_name, env, expected) => {
    expect(loadConfig({ ...base, ...env }).publicUrl).toBe(expected)
  })

  it.each([
    ['https://api.example.com', 'https://api.example.com'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['https://gateway.example.com/resource-api/', 'https://gateway.example.com/resource-api'],
    ['HTTP://API.Example.COM:80', 'http://api.example.com']
  ])('takes %s as %s, whatever the audience', (value, expected) => {
    expect(loadConfig({ ...base, AUTH_AUDIENCE: 'https://audience.example', PUBLIC_URL: value }).publicUrl).toBe(expected)
  })

  it.each([
    'api.example.com',
    '/api',
    'ftp://api.example.com',
    'https://api.example.com/?x=1',
    'https://api.example.com/?',
    'https://api.example.com/#top',
    'https://user:pass@api.example.com',
    'https://'
  ])('refuses %j, naming PUBLIC_URL', (value) => {
    expect(problem({ ...base, PUBLIC_URL: value })).toMatch(/^PUBLIC_URL: /)
  })
})

describe('TRUST_PROXY', () => {
  it('is off by default', () => {
    expect(loadConfig(base).trustProxy).toBe(false)
  })

  it.each([
    ['true', true],
    ['TRUE', true],
    ['yes', true],
    ['false', false],
    ['off', false],
    ['127.0.0.1', ['127.0.0.1']],
    ['10.0.0.0/8, 192.168.1.10', ['10.0.0.0/8', '192.168.1.10']],
    ['fd00::/8,::1', ['fd00::/8', '::1']],
    ['10.0.0.0/255.0.0.0', ['10.0.0.0/255.0.0.0']],
    ['loopback,uniquelocal,linklocal', ['loopback', 'uniquelocal', 'linklocal']]
  ])('reads %j as %j', (value, expected) => {
    expect(loadConfig({ ...base, TRUST_PROXY: value }).trustProxy).toEqual(expected)
  })

  it.each([
    ['1', /^TRUST_PROXY: a number of hops/],
    ['2', /^TRUST_PROXY: a number of hops/],
    ['maybe', /^TRUST_PROXY: "maybe" is not/],
    ['10.0.0.0/33', /^TRUST_PROXY: "10.0.0.0\/33" is not/],
    ['fd00::/129', /^TRUST_PROXY: "fd00::\/129" is not/],
    ['300.1.1.1', /^TRUST_PROXY: "300.1.1.1" is not/],
    ['10.0.0.1,,10.0.0.2', /^TRUST_PROXY: has an empty item/],
    ['proxy.internal', /^TRUST_PROXY: "proxy.internal" is not/]
  ])('refuses %j', (value, message) => {
    expect(problem({ ...base, TRUST_PROXY: value })).toMatch(message)
  })

  it("METRICS_PORT: unset by default; a port of its own, never the API's", () => {
    expect(loadConfig(base).metricsPort).toBeUndefined()
    expect(loadConfig({ ...base, METRICS_PORT: '9464' }).metricsPort).toBe(9464)
    expect(problem({ ...base, METRICS_PORT: '3000' })).toMatch(/^METRICS_PORT: must differ from PORT/)
    expect(problem({ ...base, METRICS_PORT: 'metrics' })).toMatch(/^METRICS_PORT: must be a whole number/)
    expect(problem({ ...base, METRICS_PORT: '0' })).toMatch(/^METRICS_PORT: must be between 1 and 65535/)
  })

  it("DOCS_OAUTH_CLIENT_ID and DOCS_OAUTH_PARAMS configure /docs; the development issuer's client by default with it", () => {
    expect(loadConfig(base).docs).toEqual({ clientId: undefined, authorizationParams: {} })
    expect(loadConfig({ AUTH_AUDIENCE: 'x', DEV_ISSUER: '1' }).docs.clientId).toBe('demo-spa')
    expect(
      loadConfig({ ...base, DOCS_OAUTH_CLIENT_ID: 'abc', DOCS_OAUTH_PARAMS: 'audience=https%3A%2F%2Fapi.example&prompt=login' }).docs
    ).toEqual({ clientId: 'abc', authorizationParams: { audience: 'https://api.example', prompt: 'login' } })
    expect(problem({ ...base, DOCS_OAUTH_PARAMS: 'audience' })).toMatch(/^DOCS_OAUTH_PARAMS: must be form-encoded name=value pairs/)
  })
})
