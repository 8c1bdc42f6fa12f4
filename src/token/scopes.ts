/**
 * Step 8: the route's requirement. The scopes a token grants are read with its claims
 * (scopesOf in access-token-claims.ts); every scope a route requires must be among them.
 * Matching is exact.
 */
import { AuthError } from '../errors.js'

/** Throws ERR_INSUFFICIENT_SCOPE unless every required scope is granted. */
export function requireScopes(granted: readonly string[], required: readonly string[]): void {
  for (const scope of required) {
    if (!granted.includes(scope)) {
      throw new AuthError('ERR_INSUFFICIENT_SCOPE', { scope: required.join(' '), reason: `missing scope ${scope}` })
    }
  }
}
