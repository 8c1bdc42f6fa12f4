/**
 * Which introspection answers (RFC 7662 §2.2) make an opaque token acceptable here:
 * `active: true`, `exp` (when present) a date not past, `iss` (when present) the trusted issuer,
 * `aud` naming this API, no `cnf` (the Bearer scheme cannot prove possession), and the
 * token an access token. The identity has the same shape as for a JWT.
 */
import { isNumericDate } from '../token/claims.js'
import { AuthError } from '../token/errors.js'
import type { AccessTokenIdentity } from '../token/identity.js'

export interface AnswerRules {
  issuer: string
  audiences: ReadonlySet<string>
  clockTolerance: number
  clientIds: ReadonlySet<string>
}

function inactive (reason: string, description = 'The access token is not active (it is unknown, expired or revoked).'): AuthError {
  return new AuthError('ERR_TOKEN_INACTIVE', description, { reason })
}

export function checkIntrospectionAnswer (answer: Record<string, unknown>, rules: AnswerRules, now: number): AccessTokenIdentity {
  if (answer.active !== true) throw inactive('active is not true')
  const exp = answer.exp
  const nbf = answer.nbf
  for (const [claim, value] of [['exp', exp], ['nbf', nbf]] as const) {
    if (value !== undefined && typeof value !== 'number') {
      throw new AuthError('ERR_JWT_CLAIM_INVALID', `The access token's "${claim}" is not a NumericDate.`, { claim, reason: `introspection ${claim} is not a number` })
    }
    if (value !== undefined && !isNumericDate(value)) {
      throw new AuthError('ERR_JWT_CLAIM_INVALID', `The access token's "${claim}" is not a valid date (a NumericDate from 1970 to the year 9999).`, { claim, reason: `introspection ${claim} out of range` })
    }
  }
  if (typeof exp === 'number' && now - rules.clockTolerance >= exp) {
    throw new AuthError('ERR_JWT_EXPIRED', 'The access token has expired.', { claim: 'exp', reason: 'introspection exp in the past' })
  }
  if (typeof nbf === 'number' && nbf > now + rules.clockTolerance) {
    throw new AuthError('ERR_JWT_NOT_YET_VALID', 'The access token is not valid yet (nbf).', { claim: 'nbf', reason: 'introspection nbf in the future' })
  }
  if (answer.iss !== undefined && answer.iss !== rules.issuer) {
    throw new AuthError('ERR_JWT_ISSUER_INVALID', 'The access token was not issued by the issuer this API trusts.', { claim: 'iss', reason: 'introspection iss mismatch' })
  }
  const aud = answer.aud
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((item): item is string => typeof item === 'string') : []
  if (!audiences.some((item) => rules.audiences.has(item))) {
    throw new AuthError('ERR_JWT_AUDIENCE_INVALID', 'The access token is not meant for this API (its audience does not name this API).', { claim: 'aud', reason: 'introspection aud mismatch' })
  }
  const tokenType = typeof answer.token_type === 'string' ? answer.token_type.toLowerCase() : undefined
  // RFC 9449 §6.2: a DPoP-bound token introspects with token_type DPoP (and cnf.jkt); only Bearer is accepted here
  if (answer.cnf !== undefined || tokenType === 'dpop') {
    throw new AuthError('ERR_TOKEN_SENDER_CONSTRAINED', 'This access token is bound to a key ("cnf", e.g. DPoP) and cannot be used with the Bearer scheme.', { reason: answer.cnf !== undefined ? 'introspection cnf present' : 'introspection token_type DPoP' })
  }
  if (tokenType !== undefined && tokenType !== 'bearer' && tokenType !== 'access_token') {
    throw new AuthError('ERR_NOT_ACCESS_TOKEN', `A token of type "${tokenType.slice(0, 30)}" was presented where an access token is required; send the access token instead.`, { reason: 'introspection token_type' })
  }
  const clientId = typeof answer.client_id === 'string' ? answer.client_id : undefined
  if (rules.clientIds.size > 0 && (clientId === undefined || !rules.clientIds.has(clientId))) {
    throw new AuthError('ERR_CLIENT_NOT_ALLOWED', 'The access token was issued to a client this API does not accept.', { claim: 'client_id', reason: 'client not in AUTH_CLIENT_IDS' })
  }
  const scopes = typeof answer.scope === 'string' ? answer.scope.split(' ').filter((item) => item !== '') : []
  return Object.freeze({
    sub: typeof answer.sub === 'string' ? answer.sub : undefined,
    clientId,
    scopes: Object.freeze([...new Set(scopes)]),
    issuer: rules.issuer,
    expiresAt: typeof exp === 'number' ? exp : undefined,
    format: 'opaque' as const,
    claims: Object.freeze({ ...answer })
  })
}
