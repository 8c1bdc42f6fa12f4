/**
 * Step 8: the scopes a token grants, and the route's requirement. Scopes come from `scope`
 * (space-separated, RFC 8693/9068) or `scp` (array or string, Okta and Entra ID), plus the
 * preset's own claims (Auth0 `permissions`, Entra `roles`, Keycloak roles). Matching is exact.
 */
import { AuthError } from './errors.js'
import type { ProviderRules } from './providers.js'

function addAll (into: Set<string>, value: unknown): void {
  if (typeof value === 'string') {
    for (const item of value.split(' ')) if (item !== '') into.add(item)
  } else if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'string' && item !== '') into.add(item)
  }
}

function rolesOf (value: unknown): unknown {
  return value !== null && typeof value === 'object' ? (value as { roles?: unknown }).roles : undefined
}

export function scopesOf (payload: Record<string, unknown>, provider: ProviderRules, audiences: ReadonlySet<string>): string[] {
  const scopes = new Set<string>()
  addAll(scopes, payload.scope)
  addAll(scopes, payload.scp)
  for (const claim of provider.extraScopeClaims) {
    switch (claim) {
      case 'permissions':
      case 'roles':
        addAll(scopes, payload[claim])
        break
      case 'realm_access.roles':
        addAll(scopes, rolesOf(payload.realm_access))
        break
      case 'resource_access': {
        // Keycloak client roles: those of this API's client (its audience) only.
        const access = payload.resource_access
        if (access !== null && typeof access === 'object') {
          for (const audience of audiences) addAll(scopes, rolesOf((access as Record<string, unknown>)[audience]))
        }
        break
      }
    }
  }
  return [...scopes]
}

/** Throws ERR_INSUFFICIENT_SCOPE unless every required scope is granted. */
export function requireScopes (granted: readonly string[], required: readonly string[]): void {
  for (const scope of required) {
    if (!granted.includes(scope)) {
      throw new AuthError('ERR_INSUFFICIENT_SCOPE', `This request requires the scope${required.length > 1 ? 's' : ''} ${required.join(' ')}.`, {
        scope: required.join(' '),
        reason: `missing scope ${scope}`
      })
    }
  }
}
