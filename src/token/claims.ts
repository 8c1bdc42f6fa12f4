/**
 * Step 6: check the claims (RFC 9068 §4, RFC 8725 §3.8–3.9): `iss` exactly the configured
 * issuer, `aud` containing one configured audience, `exp` required, `nbf` and `iat` not in
 * the future, each with the clock tolerance; the claim types must be right, and a NumericDate
 * must be a date (finite, 1970 to the year 9999), so that no later step meets an absurd one.
 */
import { AuthError } from './errors.js'

export interface ClaimRules {
  issuer: string
  audiences: ReadonlySet<string>
  clockTolerance: number
  /** Cognito access tokens carry no `aud`: with this set, `client_id` in the list stands in for it. */
  clientIds: ReadonlySet<string>
  audienceOptionalWithClientId: boolean
  /** RFC 9068 §2.2 claims that must be present (beyond iss, aud, exp). */
  required: readonly string[]
}

function missing (claim: string): AuthError {
  return new AuthError('ERR_JWT_CLAIM_MISSING', `The access token has no "${claim}" claim.`, { claim, reason: `${claim} missing` })
}

function wrongType (claim: string, expected: string): AuthError {
  return new AuthError('ERR_JWT_CLAIM_INVALID', `The access token's "${claim}" claim is not ${expected}.`, { claim, reason: `${claim} has the wrong type` })
}

/** The last second of year 9999 (UTC): a later NumericDate is no date anyone issues. */
export const MAX_NUMERIC_DATE = 253_402_300_799

/** A NumericDate (RFC 7519 §2) this API can reason about and print: finite, from 1970 to year 9999. */
export function isNumericDate (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_NUMERIC_DATE
}

function numericDate (payload: Record<string, unknown>, claim: string): number | undefined {
  const value = payload[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw wrongType(claim, 'a NumericDate')
  if (!isNumericDate(value)) {
    throw new AuthError('ERR_JWT_CLAIM_INVALID', `The access token's "${claim}" claim is not a valid date (a NumericDate from 1970 to the year 9999).`, { claim, reason: `${claim} out of range` })
  }
  return value
}

export function clientIdOf (payload: Record<string, unknown>): string | undefined {
  for (const claim of ['client_id', 'azp', 'cid', 'appid']) {
    const value = payload[claim]
    if (typeof value === 'string') return value
  }
  return undefined
}

function checkAudience (payload: Record<string, unknown>, rules: ClaimRules): void {
  const aud = payload.aud
  if (aud === undefined) {
    if (rules.audienceOptionalWithClientId) {
      // the client allowlist, checked for every token below, stands in for the audience
      if (typeof payload.client_id !== 'string') throw missing('aud')
      return
    }
    throw missing('aud')
  }
  if (typeof aud === 'string') {
    if (rules.audiences.has(aud)) return
  } else if (Array.isArray(aud)) {
    if (aud.some((item) => typeof item !== 'string')) throw wrongType('aud', 'a string or an array of strings')
    for (const item of aud as string[]) if (rules.audiences.has(item)) return
  } else {
    throw wrongType('aud', 'a string or an array of strings')
  }
  throw new AuthError('ERR_JWT_AUDIENCE_INVALID', 'The access token is not meant for this API (its "aud" claim does not name this API).', { claim: 'aud', reason: 'aud mismatch' })
}

/** Throws on the first failed rule; `now` in seconds. */
export function checkClaims (payload: Record<string, unknown>, rules: ClaimRules, now: number): void {
  const iss = payload.iss
  if (iss === undefined) throw missing('iss')
  if (typeof iss !== 'string') throw wrongType('iss', 'a string')
  if (iss !== rules.issuer) {
    throw new AuthError('ERR_JWT_ISSUER_INVALID', 'The access token was not issued by the issuer this API trusts.', { claim: 'iss', reason: 'iss mismatch' })
  }

  checkAudience(payload, rules)

  const exp = numericDate(payload, 'exp')
  if (exp === undefined) throw missing('exp')
  const tolerance = rules.clockTolerance
  if (now - tolerance >= exp) {
    throw new AuthError('ERR_JWT_EXPIRED', 'The access token has expired.', { claim: 'exp', reason: 'exp in the past' })
  }
  const nbf = numericDate(payload, 'nbf')
  if (nbf !== undefined && nbf > now + tolerance) {
    throw new AuthError('ERR_JWT_NOT_YET_VALID', 'The access token is not valid yet (nbf).', { claim: 'nbf', reason: 'nbf in the future' })
  }
  const iat = numericDate(payload, 'iat')
  if (iat !== undefined && iat > now + tolerance) {
    throw new AuthError('ERR_JWT_ISSUED_IN_FUTURE', 'The access token was issued in the future (iat).', { claim: 'iat', reason: 'iat in the future' })
  }
  for (const claim of ['sub', 'client_id', 'azp', 'jti', 'scope']) {
    const value = payload[claim]
    if (value !== undefined && typeof value !== 'string') throw wrongType(claim, 'a string')
  }
  for (const claim of rules.required) {
    if (payload[claim] === undefined) throw missing(claim)
  }
  if (rules.clientIds.size > 0) {
    const clientId = clientIdOf(payload)
    if (clientId === undefined || !rules.clientIds.has(clientId)) {
      throw new AuthError('ERR_CLIENT_NOT_ALLOWED', 'The access token was issued to a client this API does not accept.', { claim: 'client_id', reason: 'client not in AUTH_CLIENT_IDS' })
    }
  }
}
