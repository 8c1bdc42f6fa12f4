// Minimal types for the parts of oidc-provider v9 the development issuer uses.
// The package ships no types; this covers only what dev/issuer needs.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export type JsonObject = Record<string, unknown>

  export interface Client {
    readonly clientId: string
    readonly clientAuthMethod: string
    readonly applicationType?: string
    readonly redirectUris: string[]
    grantTypeAllowed(type: string): boolean
  }

  export interface ResourceServer {
    readonly audience?: string
    readonly scope: string
  }

  export interface Token {
    readonly kind: string
    readonly jti: string
    readonly clientId?: string
    readonly accountId?: string
    readonly aud?: string | string[]
    readonly scope?: string
    readonly resourceServer?: ResourceServer
    readonly remainingTTL?: number
    isSenderConstrained(): boolean
  }

  export interface GrantSource {
    readonly scopes: Set<string>
    readonly resource?: string | string[]
  }

  export interface OIDCContext {
    readonly route?: string
    readonly client?: Client
    readonly entities: Record<string, unknown>
    readonly params?: Record<string, unknown>
  }

  export interface KoaContextWithOIDC {
    readonly oidc: OIDCContext
    type: string
    body: unknown
    status: number
  }

  export interface ClaimsParameterMember {
    essential?: boolean
    value?: string
    values?: string[]
  }

  export interface AccountClaims {
    sub: string
    [claim: string]: unknown
  }

  export interface Account {
    accountId: string
    claims(
      use: string,
      scope: string,
      claims: Record<string, ClaimsParameterMember | null>,
      rejected: string[]
    ): AccountClaims | Promise<AccountClaims>
  }

  export type FindAccount = (ctx: KoaContextWithOIDC, sub: string, token?: Token) => Promise<Account | undefined> | Account | undefined

  export interface ResourceServerInfo {
    scope: string
    audience?: string
    accessTokenTTL?: number
    accessTokenFormat?: 'opaque' | 'jwt'
    jwt?: { sign?: { alg?: string; kid?: string } }
  }

  export interface PromptDetail {
    readonly name: string
    readonly reasons: string[]
    readonly details: {
      missingOIDCScope?: string[]
      missingOIDCClaims?: string[]
      missingResourceScopes?: Record<string, string[]>
      [key: string]: unknown
    }
  }

  export interface InteractionResults {
    login?: { accountId: string; remember?: boolean; amr?: string[]; acr?: string; ts?: number }
    consent?: { grantId?: string }
    error?: string
    error_description?: string
    [key: string]: unknown
  }

  export interface Interaction {
    readonly uid: string
    readonly prompt: PromptDetail
    readonly params: Record<string, unknown>
    readonly session?: { accountId: string; uid: string; cookie: string }
    readonly grantId?: string
    readonly returnTo: string
    readonly lastSubmission?: InteractionResults
  }

  export class Grant {
    constructor(properties?: { accountId?: string; clientId?: string })
    accountId?: string
    clientId?: string
    addOIDCScope(scope: string): void
    addOIDCClaims(claims: string[]): void
    addResourceScope(resource: string, scope: string): void
    save(ttl?: number): Promise<string>
    static find(id: string, options?: { ignoreExpiration?: boolean }): Promise<Grant | undefined>
  }

  export interface AdapterPayload {
    grantId?: string
    uid?: string
    userCode?: string
    consumed?: unknown
    jti?: string
    [key: string]: unknown
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>
    find(id: string): Promise<AdapterPayload | undefined>
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>
    findByUid(uid: string): Promise<AdapterPayload | undefined>
    consume(id: string): Promise<void>
    destroy(id: string): Promise<void>
    revokeByGrantId(grantId: string): Promise<void>
  }

  export type AdapterFactory = (modelName: string) => Adapter

  export interface ClientMetadata {
    client_id: string
    client_secret?: string
    client_name?: string
    redirect_uris?: string[]
    post_logout_redirect_uris?: string[]
    grant_types?: string[]
    response_types?: string[]
    token_endpoint_auth_method?: string
    application_type?: 'web' | 'native'
    scope?: string
    [key: string]: unknown
  }

  type TtlFunction = (ctx: KoaContextWithOIDC, token: Token, client: Client) => number

  export interface Configuration {
    adapter?: AdapterFactory
    clients?: ClientMetadata[]
    jwks?: { keys: JsonObject[] }
    cookies?: {
      keys?: string[]
      long?: JsonObject
      short?: JsonObject
      names?: Record<string, string>
    }
    claims?: Record<string, string[] | null>
    scopes?: string[]
    responseTypes?: string[]
    conformIdTokenClaims?: boolean
    findAccount?: FindAccount
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: Client) => boolean
    extraTokenClaims?: (ctx: KoaContextWithOIDC, token: Token) => Promise<JsonObject | undefined> | JsonObject | undefined
    issueRefreshToken?: (ctx: KoaContextWithOIDC, client: Client, code: GrantSource) => Promise<boolean> | boolean
    rotateRefreshToken?: boolean | ((ctx: KoaContextWithOIDC) => boolean)
    pkce?: {
      required?: (ctx: KoaContextWithOIDC, client: Client) => boolean
    }
    interactions?: {
      url?: (ctx: KoaContextWithOIDC, interaction: Interaction) => string | Promise<string>
    }
    renderError?: (ctx: KoaContextWithOIDC, out: Record<string, string>, error: Error) => void | Promise<void>
    ttl?: Record<string, number | TtlFunction>
    enabledJWA?: { dPoPSigningAlgValues?: string[] }
    features?: {
      devInteractions?: { enabled: boolean }
      dPoP?: {
        enabled: boolean
        /** 32 bytes: the key of the stateless server nonces (RFC 9449 §8); without it, no nonces. */
        nonceSecret?: Buffer
        requireNonce?: (ctx: KoaContextWithOIDC) => boolean
        allowReplay?: boolean
      }
      clientCredentials?: { enabled: boolean }
      introspection?: {
        enabled: boolean
        allowedPolicy?: (ctx: KoaContextWithOIDC, client: Client, token: Token) => Promise<boolean> | boolean
      }
      revocation?: {
        enabled: boolean
        allowedPolicy?: (ctx: KoaContextWithOIDC, client: Client, token: Token) => Promise<boolean> | boolean
      }
      userinfo?: { enabled: boolean }
      rpInitiatedLogout?: {
        enabled: boolean
        logoutSource?: (ctx: KoaContextWithOIDC, form: string) => void | Promise<void>
        postLogoutSuccessSource?: (ctx: KoaContextWithOIDC) => void | Promise<void>
      }
      resourceIndicators?: {
        enabled: boolean
        defaultResource?: (
          ctx: KoaContextWithOIDC,
          client: Client,
          oneOf?: string[]
        ) => Promise<string | string[] | undefined> | string | string[] | undefined
        useGrantedResource?: (ctx: KoaContextWithOIDC, model: GrantSource) => Promise<boolean> | boolean
        getResourceServerInfo?: (
          ctx: KoaContextWithOIDC,
          resourceIndicator: string,
          client: Client
        ) => Promise<ResourceServerInfo> | ResourceServerInfo
      }
    }
  }

  export class OIDCProviderError extends Error {
    constructor(status: number, message: string)
    readonly status: number
    readonly statusCode: number
    readonly expose: boolean
    readonly error: string
    error_description?: string
  }

  export const errors: {
    OIDCProviderError: typeof OIDCProviderError
    InvalidTarget: new (description?: string, detail?: string) => OIDCProviderError
    InvalidRequest: new (description?: string, code?: number, detail?: string) => OIDCProviderError
    InvalidScope: new (description?: string, scope?: string, detail?: string) => OIDCProviderError
    AccessDenied: new (description?: string, detail?: string) => OIDCProviderError
    SessionNotFound: new (description?: string) => OIDCProviderError
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration)
    readonly issuer: string
    readonly Grant: typeof Grant
    proxy: boolean
    urlFor(name: string, options?: Record<string, unknown>): string
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean }
    ): Promise<void>
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean }
    ): Promise<string>
    on(event: string, listener: (...args: unknown[]) => void): this
  }

  export default Provider
}
