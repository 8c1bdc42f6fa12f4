/**
 * AUTH_PROVIDER presets: where each provider puts scopes/permissions, and what marks its
 * access tokens apart from its ID tokens.
 */
import type { ProviderPreset } from '../config.js'

export interface ProviderRules {
  /** Claims holding scopes or permissions, beyond the standard `scope` and `scp`. */
  extraScopeClaims: ReadonlyArray<'permissions' | 'roles' | 'realm_access.roles' | 'resource_access'>
  /**
   * The provider's access-token marker; returns a description of what is missing when the
   * token lacks it (the token is then an ID token or another token, not an access token).
   */
  accessTokenMarker: ((payload: Record<string, unknown>) => string | undefined) | undefined
  /** Access tokens may omit `aud`, with `client_id` checked against AUTH_CLIENT_IDS instead. */
  audienceOptionalWithClientId: boolean
}

const has = (payload: Record<string, unknown>, claim: string): boolean => payload[claim] !== undefined

export const PROVIDER_RULES: Record<ProviderPreset, ProviderRules> = {
  generic: { extraScopeClaims: [], accessTokenMarker: undefined, audienceOptionalWithClientId: false },
  auth0: { extraScopeClaims: ['permissions'], accessTokenMarker: undefined, audienceOptionalWithClientId: false },
  okta: {
    extraScopeClaims: [],
    accessTokenMarker: (payload) =>
      typeof payload.cid === 'string' ? undefined : 'it has no "cid" claim, which every Okta access token carries',
    audienceOptionalWithClientId: false
  },
  entra: {
    extraScopeClaims: ['roles'],
    accessTokenMarker: (payload) => {
      const client = typeof payload.azp === 'string' || typeof payload.appid === 'string'
      const grants = has(payload, 'scp') || has(payload, 'roles')
      return client && grants ? undefined : 'it lacks "azp"/"appid" with "scp" or "roles", which every Entra ID access token carries'
    },
    audienceOptionalWithClientId: false
  },
  keycloak: {
    extraScopeClaims: ['realm_access.roles', 'resource_access'],
    accessTokenMarker: (payload) =>
      payload.typ === 'Bearer' || payload.typ === 'DPoP'
        ? undefined
        : 'its "typ" claim is neither "Bearer" nor "DPoP", as in every Keycloak access token',
    audienceOptionalWithClientId: false
  },
  cognito: {
    extraScopeClaims: [],
    accessTokenMarker: (payload) => (payload.token_use === 'access' ? undefined : 'its "token_use" claim is not "access"'),
    audienceOptionalWithClientId: true
  }
}
