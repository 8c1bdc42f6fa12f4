/**
 * The challenges of a refusal: Bearer (RFC 6750 §3, RFC 9728 §5.1) and DPoP (RFC 9449 §7.1),
 * each while its scheme is accepted (AUTH_DPOP). The error's parameters (`error`,
 * `error_description`, `scope`) go into the challenge of the scheme the request used, or the
 * one the error belongs to (a proof's refusal is DPoP's); the others carry none. The challenge
 * with the error comes first, then Bearer, then DPoP.
 */
import type { DpopMode } from '../config.js'
import type { AuthError } from '../errors.js'
import type { AuthScheme } from '../token/bearer-credentials.js'

/** error_description and scope may only hold %x20-21 / %x23-5B / %x5D-7E: no quote, no backslash. */
function quotable(value: string): string {
  return value.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '')
}

function errorParameters(error: AuthError | undefined): string[] {
  if (error?.oauthError === undefined) return []
  const parts = [`error="${error.oauthError}"`, `error_description="${quotable(error.description)}"`]
  if (error.scope !== undefined) parts.push(`scope="${quotable(error.scope)}"`)
  return parts
}

export function bearerChallenge(realm: string, resourceMetadata: string, error?: AuthError): string {
  return [`Bearer realm="${quotable(realm)}"`, ...errorParameters(error), `resource_metadata="${quotable(resourceMetadata)}"`].join(', ')
}

export function dpopChallenge(algs: string, resourceMetadata: string, error?: AuthError): string {
  return [`DPoP algs="${quotable(algs)}"`, ...errorParameters(error), `resource_metadata="${quotable(resourceMetadata)}"`].join(', ')
}

export interface ChallengeSettings {
  realm: string
  resourceMetadata: string
  mode: DpopMode
  /** Space-separated DPoP proof algorithms. */
  algs: string
}

/** The scheme whose challenge carries the error. */
function schemeOf(error: AuthError | undefined, requested: AuthScheme | null): AuthScheme {
  if (error === undefined) return requested ?? 'Bearer'
  if (error.code === 'ERR_DPOP_NOT_ACCEPTED') return 'Bearer'
  if (error.code.startsWith('ERR_DPOP_')) return 'DPoP'
  return error.scheme ?? requested ?? 'Bearer'
}

/** The WWW-Authenticate value of a refusal (the challenges, comma-separated, RFC 9110 §11.6.1). */
export function challenges(settings: ChallengeSettings, error: AuthError | undefined, requested: AuthScheme | null): string {
  const bearer = settings.mode !== 'required'
  const dpop = settings.mode !== 'disabled'
  let carrier = schemeOf(error, requested)
  if (carrier === 'DPoP' && !dpop) carrier = 'Bearer'
  if (carrier === 'Bearer' && !bearer) carrier = 'DPoP'
  const bearerValue = bearer
    ? bearerChallenge(settings.realm, settings.resourceMetadata, carrier === 'Bearer' ? error : undefined)
    : undefined
  const dpopValue = dpop ? dpopChallenge(settings.algs, settings.resourceMetadata, carrier === 'DPoP' ? error : undefined) : undefined
  const ordered = carrier === 'DPoP' ? [dpopValue, bearerValue] : [bearerValue, dpopValue]
  return ordered.filter((value) => value !== undefined).join(', ')
}
