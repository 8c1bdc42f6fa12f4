/**
 * What a route learns about the caller: one shape whatever the token's format.
 */
export interface AccessTokenIdentity {
  /** The resource owner (or the client, for client_credentials tokens). */
  sub: string | undefined
  /** The OAuth client the token was issued to (client_id, azp, cid or appid). */
  clientId: string | undefined
  scopes: readonly string[]
  issuer: string
  /** Seconds since the epoch; undefined only for an opaque token whose introspection gave no exp. */
  expiresAt: number | undefined
  format: 'jwt' | 'opaque'
  /** The key the token is bound to (`cnf`): undefined for a Bearer token; see keyBindingOf. */
  binding: { readonly jkt: string | undefined } | undefined
  /** The verified claims (JWT payload, or the introspection answer). */
  claims: Readonly<Record<string, unknown>>
}
