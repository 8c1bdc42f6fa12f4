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
  /** The verified claims (JWT payload, or the introspection answer). */
  claims: Readonly<Record<string, unknown>>
}
