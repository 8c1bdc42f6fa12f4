import { errors } from 'oidc-provider'

/** A scope and what it means (the API's come from its routes' declarations, `app.scopes()`). */
export interface ScopeInfo {
  readonly name: string
  readonly description?: string | undefined
}

/** The OpenID Connect scopes: they give the ID token and userinfo their claims, never the API access. */
export const OIDC_SCOPES: readonly ScopeInfo[] = [
  { name: 'openid', description: 'Sign you in' },
  { name: 'profile', description: 'Your name' },
  { name: 'email', description: 'Your email address' },
  { name: 'offline_access', description: 'Stay signed in (a refresh token)' }
]

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** The API's scopes, checked: each one a valid scope token, none twice, none an OpenID Connect scope. */
export function checkApiScopes(scopes: readonly ScopeInfo[]): ScopeInfo[] {
  const seen = new Set<string>()
  const oidc = new Set(OIDC_SCOPES.map((scope) => scope.name))
  return scopes.map(({ name, description }) => {
    if (typeof name !== 'string' || !SCOPE_TOKEN.test(name)) {
      throw new Error(`development issuer: API scope ${JSON.stringify(name)} is not a valid OAuth scope (RFC 6749 §3.3)`)
    }
    if (oidc.has(name)) throw new Error(`development issuer: API scope "${name}" is an OpenID Connect scope`)
    if (seen.has(name)) throw new Error(`development issuer: API scope "${name}" is listed twice`)
    seen.add(name)
    return { name, description }
  })
}

/**
 * The scopes a request may ask for: the OpenID Connect scopes and the API's. Anything else is
 * refused with `invalid_scope` (RFC 6749 §4.1.2.1, §5.2): oidc-provider alone would leave an
 * unknown scope out of the token without a word.
 */
export function scopeGuard(apiScopes: readonly ScopeInfo[]): (requested: unknown) => void {
  const known = new Set([...OIDC_SCOPES, ...apiScopes].map((scope) => scope.name))
  return (requested) => {
    if (typeof requested !== 'string') return
    const unknown = [...new Set(requested.split(' '))].filter((scope) => scope !== '' && !known.has(scope))
    if (unknown.length > 0) {
      throw new errors.InvalidScope(`unknown scope: ${unknown.join(' ')} (this issuer knows ${[...known].join(' ')})`, unknown.join(' '))
    }
  }
}

/** Names and descriptions of the requested scopes, in request order, for the sign-in page. */
export function describeRequested(requested: unknown, apiScopes: readonly ScopeInfo[]): ScopeInfo[] {
  if (typeof requested !== 'string') return []
  const known = new Map([...OIDC_SCOPES, ...apiScopes].map((scope) => [scope.name, scope.description]))
  return [...new Set(requested.split(' '))].filter((name) => name !== '').map((name) => ({ name, description: known.get(name) }))
}
