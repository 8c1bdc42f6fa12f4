/**
 * Step 3: check the JOSE header before any key is looked up (RFC 8725 §3.1, RFC 7515 §4.1.11).
 * The algorithm must be one this API accepts; `crit` extensions are not understood and so
 * refused; `kid` and `typ` must be strings. Key-carrying parameters (`jku`, `x5u`, `jwk`,
 * `x5c`) are never used: keys come only from the configured issuer's JWKS.
 */
import type { JwsAlg } from '../config.js'
import { AuthError } from '../errors.js'

export interface CheckedHeader {
  alg: JwsAlg
  kid: string | undefined
  /** Normalised `typ`: lower case, "application/" removed; undefined when absent. */
  typ: string | undefined
}

export function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

export function checkHeader(header: Record<string, unknown>, allowed: ReadonlySet<string>): CheckedHeader {
  const { alg, kid, typ, crit } = header
  if (typeof alg !== 'string') {
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: 'no alg', reason: 'alg missing or not a string' })
  }
  if (!allowed.has(alg)) {
    throw new AuthError('ERR_JWS_ALG_NOT_ALLOWED', {
      alg,
      reason: `alg ${alg.slice(0, 16)} not in the allowed list`
    })
  }
  if (crit !== undefined) {
    throw new AuthError('ERR_JWS_CRIT_UNSUPPORTED', { reason: 'crit present' })
  }
  if (kid !== undefined && typeof kid !== 'string') {
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: 'kid type', reason: 'kid not a string' })
  }
  if (typ !== undefined && typeof typ !== 'string') {
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: 'typ type', reason: 'typ not a string' })
  }
  if (header.b64 !== undefined) {
    throw new AuthError('ERR_TOKEN_MALFORMED', { flaw: 'b64', reason: 'b64 present' })
  }
  return { alg: alg as JwsAlg, kid, typ: typ === undefined ? undefined : normaliseTyp(typ) }
}
