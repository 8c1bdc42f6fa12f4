import { randomBytes } from 'node:crypto'

import { errors } from 'oidc-provider'
import type { Client, ClientMetadata, Configuration, KoaContextWithOIDC, Token } from 'oidc-provider'

import { findAccount } from './find-account.js'
import { htmlDocument, escapeHtml } from './html.js'
import { createMemoryAdapter } from './memory-adapter.js'
import { OIDC_SCOPES, scopeGuard } from './scopes.js'
import type { ScopeInfo } from './scopes.js'
import type { PrivateSigningJwk } from './signing-keys.js'

export interface ClientCredentials {
  clientId: string
  clientSecret: string
}

/** The development issuer's options with every default applied. */
export interface ResolvedIssuerSettings {
  audience: string
  /** The API's scopes (the OpenID Connect ones are the provider's own). */
  scopes: ScopeInfo[]
  accessTokenFormat: 'jwt' | 'opaque'
  accessTokenTtl: number
  spa: { clientId: string; redirectUris: string[]; origins: string[] }
  cliClient: ClientCredentials
  introspectionClient: ClientCredentials
  signingKeys: PrivateSigningJwk[]
  /** DPoP (RFC 9449 §8): the token endpoint requires a server nonce in every proof. */
  dpopNonce: boolean
}

const ID_TOKEN_TTL = 60 * 60
const REFRESH_TOKEN_TTL = 24 * 60 * 60
const SESSION_TTL = 8 * 60 * 60
const INTERACTION_TTL = 10 * 60
const AUTHORIZATION_CODE_TTL = 60

function audienceOf(token: Token): string[] {
  const { aud } = token
  if (aud === undefined) return []
  return Array.isArray(aud) ? aud : [aud]
}

function clients(settings: ResolvedIssuerSettings): ClientMetadata[] {
  return [
    {
      client_id: settings.spa.clientId,
      client_name: 'Demo SPA',
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: settings.spa.redirectUris,
      post_logout_redirect_uris: settings.spa.origins.map((origin) => `${origin}/`)
    },
    {
      client_id: settings.cliClient.clientId,
      client_secret: settings.cliClient.clientSecret,
      client_name: 'Development CLI',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: []
      // no `scope` metadata: oidc-provider v9 accepts only its static (OpenID) scopes there; the
      // API's scopes are granted through the resource server (getResourceServerInfo) instead
    },
    {
      client_id: settings.introspectionClient.clientId,
      client_secret: settings.introspectionClient.clientSecret,
      client_name: 'Resource API (introspection)',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: []
    }
  ]
}

/** The DPoP proof algorithms the issuer accepts: what browsers' WebCrypto makes, as the API accepts them. */
export const DPOP_SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256']

/** oidc-provider v9 configuration for the development issuer. */
export function providerConfiguration(settings: ResolvedIssuerSettings): Configuration {
  const { audience, spa, introspectionClient } = settings
  const spaOrigins = new Set(spa.origins)
  const apiScope = settings.scopes.map((scope) => scope.name).join(' ')
  const refuseUnknownScopes = scopeGuard(settings.scopes)

  return {
    adapter: createMemoryAdapter(),
    clients: clients(settings),
    jwks: { keys: settings.signingKeys },
    cookies: {
      keys: [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')]
    },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified']
    },
    // the OpenID Connect scopes (profile and email also give the claims above); the API's are the resource server's
    scopes: OIDC_SCOPES.map((scope) => scope.name),
    responseTypes: ['code'],
    // The SPA's access token is for the API (resource indicator), so it cannot be used at the
    // userinfo endpoint: the ID token carries the profile and email claims itself.
    conformIdTokenClaims: false,
    enabledJWA: { dPoPSigningAlgValues: DPOP_SIGNING_ALGS },
    features: {
      // RFC 9449: a token request that carries a DPoP proof gets DPoP-bound tokens (token_type
      // DPoP, the access token's cnf.jkt; a public client's refresh token bound to the same key);
      // one without a proof gets Bearer tokens as before. With `dpopNonce`, every proof at the
      // token endpoint must carry a current server nonce (401/400 use_dpop_nonce and a DPoP-Nonce).
      dPoP: {
        enabled: true,
        ...(settings.dpopNonce ? { nonceSecret: randomBytes(32), requireNonce: () => true } : {})
      },
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // The API's own client may introspect access tokens issued for the API; any other
        // confidential client may introspect only its own tokens.
        allowedPolicy: (_ctx, caller: Client, token: Token) => {
          if (caller.clientId === introspectionClient.clientId) {
            return (token.kind === 'AccessToken' || token.kind === 'ClientCredentials') && audienceOf(token).includes(audience)
          }
          return caller.clientAuthMethod !== 'none' && token.clientId === caller.clientId
        }
      },
      revocation: {
        enabled: true,
        allowedPolicy: (_ctx, caller: Client, token: Token) => {
          if (token.clientId === caller.clientId) return true
          if (caller.clientAuthMethod === 'none') return false
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
        }
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
          ctx.type = 'html'
          ctx.body = htmlDocument(
            'Sign out - development issuer',
            `<h1>Sign out?</h1>${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`
          )
        },
        postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
          ctx.type = 'html'
          ctx.body = htmlDocument('Signed out - development issuer', '<h1>Signed out</h1>')
        }
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => {
          if (oneOf === undefined) return audience
          return oneOf.includes(audience) ? audience : oneOf
        },
        useGrantedResource: () => true,
        // Every authorization request (PAR included), once its client and redirect_uri are
        // checked, and every client_credentials or refresh_token request comes here: defaultResource
        // names the API when the request names no resource. oidc-provider would issue the scopes it
        // knows and drop the others silently; here an unknown one is an error, invalid_scope,
        // redirected to the client at the authorization endpoint (RFC 6749 §4.1.2.1) and a 400 at
        // the token endpoint (§5.2). (oidc-provider itself refuses a refresh_token request a scope
        // its refresh token lacks; an authorization_code token request carries no scope.)
        getResourceServerInfo: (ctx, resourceIndicator) => {
          if (resourceIndicator !== audience) {
            throw new errors.InvalidTarget(`unknown resource indicator; this issuer only issues tokens for ${audience}`)
          }
          refuseUnknownScopes(ctx.oidc.params?.['scope'])
          return {
            scope: apiScope,
            audience,
            accessTokenFormat: settings.accessTokenFormat,
            accessTokenTTL: settings.accessTokenTtl,
            jwt: { sign: { alg: 'RS256' } }
          }
        }
      }
    },
    // RFC 9068 §2.2: without an end user, `sub` is the client's id. oidc-provider already does so
    // in JWT access tokens; this makes introspection of opaque client-credentials tokens agree.
    extraTokenClaims: (_ctx, token) =>
      token.kind === 'ClientCredentials' && token.clientId !== undefined ? { sub: token.clientId } : undefined,
    clientBasedCORS: (_ctx, origin, client) => client.clientId === spa.clientId && spaOrigins.has(origin),
    issueRefreshToken: (_ctx, client) => client.clientId === spa.clientId && client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: (ctx, out) => {
      ctx.type = 'html'
      ctx.body = htmlDocument(
        'Error - development issuer',
        `<h1>Something went wrong</h1>${Object.entries(out)
          .map(([key, value]) => `<p><strong>${escapeHtml(key)}</strong>: ${escapeHtml(String(value))}</p>`)
          .join('')}`
      )
    },
    ttl: {
      AccessToken: () => settings.accessTokenTtl,
      ClientCredentials: () => settings.accessTokenTtl,
      AuthorizationCode: AUTHORIZATION_CODE_TTL,
      IdToken: ID_TOKEN_TTL,
      RefreshToken: (ctx, token, client) => {
        const rotated = ctx.oidc?.entities['RotatedRefreshToken'] as Token | undefined
        if (rotated?.remainingTTL !== undefined && client.clientAuthMethod === 'none' && !token.isSenderConstrained()) {
          // a public client's rotated refresh token never outlives the one it replaces
          return rotated.remainingTTL
        }
        return REFRESH_TOKEN_TTL
      },
      Interaction: INTERACTION_TTL,
      Session: SESSION_TTL,
      Grant: REFRESH_TOKEN_TTL
    }
  }
}
