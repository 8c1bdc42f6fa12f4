/**
 * The Bearer challenge (RFC 6750 §3, RFC 9728 §5.1).
 */
import type { AuthError } from '../errors.js'

/** error_description and scope may only hold %x20-21 / %x23-5B / %x5D-7E: no quote, no backslash. */
function quotable(value: string): string {
  return value.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '')
}

export function bearerChallenge(realm: string, resourceMetadata: string, error?: AuthError): string {
  const parts = [`Bearer realm="${quotable(realm)}"`]
  if (error?.oauthError !== undefined) {
    parts.push(`error="${error.oauthError}"`, `error_description="${quotable(error.description)}"`)
    if (error.scope !== undefined) parts.push(`scope="${quotable(error.scope)}"`)
  }
  parts.push(`resource_metadata="${quotable(resourceMetadata)}"`)
  return parts.join(', ')
}
