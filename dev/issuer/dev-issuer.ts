import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

import { Provider } from 'oidc-provider'

import { DEMO_USERS } from './demo-users.js'
import { createInteractionRoutes } from './interaction-routes.js'
import { DPOP_SIGNING_ALGS, providerConfiguration } from './provider-configuration.js'
import type { ClientCredentials, ResolvedIssuerSettings } from './provider-configuration.js'
import { checkApiScopes } from './scopes.js'
import type { ScopeInfo } from './scopes.js'
import { generateSigningKeys } from './signing-keys.js'

export interface DevIssuerOptions {
  /** Bind address; default `127.0.0.1`. */
  host?: string
  /** TCP port; default 0 (a random free port). */
  port?: number
  /** This API's resource identifier (RFC 8707 resource indicator) and the access tokens' `aud`. */
  audience: string
  /**
   * The API's scopes, with what they mean: the routes' declarations (`app.scopes()`), as the dev
   * entry points pass them. Other scopes than these and the OpenID Connect ones get `invalid_scope`.
   * Default: the example API's `read:messages` and `write:messages`, for tests that start the issuer alone.
   */
  scopes?: readonly ScopeInfo[]
  /** Access-token format for the API; default `'jwt'`. */
  accessTokenFormat?: 'jwt' | 'opaque'
  /** Access-token lifetime in seconds; default 600. */
  accessTokenTtl?: number
  /** The demo SPA, a public client (PKCE); default client id `demo-spa`. */
  spa?: { clientId?: string; redirectUris: string[]; origins: string[] }
  /** A confidential client for `client_credentials`; default `dev-cli` / `dev-cli-secret`. */
  cliClient?: ClientCredentials
  /** The API's own credentials for RFC 7662 introspection; default `resource-api` / `resource-api-secret`. */
  introspectionClient?: ClientCredentials
  /**
   * DPoP (RFC 9449) is always on: a client that sends a proof to the token endpoint gets
   * DPoP-bound tokens, one that sends none gets Bearer tokens. With `dpopNonce` the token
   * endpoint also requires a server nonce in every proof (§8). Default false.
   */
  dpopNonce?: boolean
}

export interface DevIssuer {
  /** e.g. `http://127.0.0.1:40123` (no trailing slash); equals the discovery document's `issuer`. */
  issuer: string
  jwksUri: string
  tokenEndpoint: string
  introspectionEndpoint: string
  revocationEndpoint: string
  authorizationEndpoint: string
  users: { username: string; password: string; name: string; email: string; sub: string }[]
  cliClient: ClientCredentials
  introspectionClient: ClientCredentials
  spaClientId: string
  /** The API's scopes it issues. */
  scopes: ScopeInfo[]
  /** The DPoP proof algorithms the token endpoint accepts (its `dpop_signing_alg_values_supported`). */
  dpopSigningAlgs: string[]
  /** The token endpoint requires a DPoP nonce in every proof. */
  dpopNonce: boolean
  close(): Promise<void>
}

/** The issuer's clients unless told otherwise; the dev stack configures the API with them before the issuer starts. */
export const DEFAULT_CLIENTS = {
  spaClientId: 'demo-spa',
  cliClient: { clientId: 'dev-cli', clientSecret: 'dev-cli-secret' },
  introspectionClient: { clientId: 'resource-api', clientSecret: 'resource-api-secret' }
} as const

const STANDALONE_SCOPES: readonly ScopeInfo[] = [{ name: 'read:messages' }, { name: 'write:messages' }]
const DEFAULT_SPA_REDIRECT_URIS = ['http://127.0.0.1:5173/callback', 'http://localhost:5173/callback']
const DEFAULT_SPA_ORIGINS = ['http://127.0.0.1:5173', 'http://localhost:5173']

function resolveSettings(options: DevIssuerOptions): ResolvedIssuerSettings {
  if (typeof options.audience !== 'string' || options.audience.length === 0) {
    throw new Error('development issuer: `audience` is required')
  }
  const accessTokenTtl = options.accessTokenTtl ?? 600
  if (!Number.isSafeInteger(accessTokenTtl) || accessTokenTtl <= 0) {
    throw new Error('development issuer: `accessTokenTtl` must be a positive integer (seconds)')
  }
  return {
    audience: options.audience,
    scopes: checkApiScopes(options.scopes ?? STANDALONE_SCOPES),
    accessTokenFormat: options.accessTokenFormat ?? 'jwt',
    accessTokenTtl,
    spa: {
      clientId: options.spa?.clientId ?? DEFAULT_CLIENTS.spaClientId,
      redirectUris: [...(options.spa?.redirectUris ?? DEFAULT_SPA_REDIRECT_URIS)],
      origins: [...(options.spa?.origins ?? DEFAULT_SPA_ORIGINS)]
    },
    cliClient: { ...(options.cliClient ?? DEFAULT_CLIENTS.cliClient) },
    introspectionClient: { ...(options.introspectionClient ?? DEFAULT_CLIENTS.introspectionClient) },
    signingKeys: generateSigningKeys(),
    dpopNonce: options.dpopNonce === true
  }
}

/** The host part of the issuer URL for a bind address (a wildcard address becomes loopback). */
function issuerHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1'
  if (address.address === '::') return '[::1]'
  return address.family === 'IPv6' ? `[${address.address}]` : address.address
}

/**
 * Starts a local OpenID provider (oidc-provider v9) for development: demo users, a sign-in page,
 * a public SPA client (authorization code + PKCE, rotating refresh tokens), a confidential CLI
 * client (client credentials) and introspection credentials for the API. Access tokens for the
 * API are RFC 9068 JWTs (or opaque tokens) whose `aud` is `options.audience`; DPoP-bound ones
 * (`cnf.jkt`, token_type DPoP) for a token request with a DPoP proof (RFC 9449).
 * Refuses to start when NODE_ENV is `production`.
 */
export async function startDevIssuer(options: DevIssuerOptions): Promise<DevIssuer> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error('development issuer: refusing to start with NODE_ENV=production (it has demo users and in-memory keys)')
  }
  const settings = resolveSettings(options)

  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  const server = createServer((req, res) => {
    if (handle === undefined) {
      res.statusCode = 503
      res.end()
      return
    }
    handle(req, res)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error === undefined ? resolve() : reject(error)))
      server.closeAllConnections()
    })
    return closing
  }

  try {
    const address = server.address() as AddressInfo
    const issuer = `http://${issuerHost(address)}:${address.port}`
    const provider = new Provider(issuer, providerConfiguration(settings))
    const interactionRoutes = createInteractionRoutes(provider, DEMO_USERS, settings.scopes)
    const providerCallback = provider.callback()

    handle = (req, res) => {
      interactionRoutes(req, res).then(
        (handled) => {
          if (!handled) providerCallback(req, res)
        },
        (error: unknown) => {
          console.error('development issuer: request failed', error)
          if (!res.headersSent) res.statusCode = 500
          res.end()
        }
      )
    }

    return {
      issuer,
      jwksUri: provider.urlFor('jwks'),
      tokenEndpoint: provider.urlFor('token'),
      introspectionEndpoint: provider.urlFor('introspection'),
      revocationEndpoint: provider.urlFor('revocation'),
      authorizationEndpoint: provider.urlFor('authorization'),
      users: DEMO_USERS.map((user) => ({ ...user })),
      cliClient: { ...settings.cliClient },
      introspectionClient: { ...settings.introspectionClient },
      spaClientId: settings.spa.clientId,
      scopes: settings.scopes.map((scope) => ({ ...scope })),
      dpopSigningAlgs: [...DPOP_SIGNING_ALGS],
      dpopNonce: settings.dpopNonce,
      close
    }
  } catch (error) {
    await close()
    throw error
  }
}
