/**
 * Step 6, for both access-token formats: the claims of a verified JWT (RFC 9068 §4, RFC 8725
 * §3.8–3.9) and the answer of an introspection endpoint about an opaque token (RFC 7662 §2.2)
 * pass the same rules, each written once below: the dates with the clock tolerance (and a
 * NumericDate must be a date, 1970 to the year 9999), the issuer, the audience, the client
 * allowlist, the key binding (held against the scheme by the gate); and both give the same identity.
 *
 * Where the two formats differ, the rule says so with its `format` argument:
 *
 * | rule     | JWT                                          | introspection answer                         |
 * | -------- | -------------------------------------------- | -------------------------------------------- |
 * | `exp`    | required                                     | optional (RFC 7662: the AS may omit it)      |
 * | `iat`    | not in the future                            | not checked                                  |
 * | `iss`    | required, a string                           | optional; any other value refused            |
 * | `aud`    | required (Cognito: `client_id` instead), a string or strings | only its strings count; absent: not this API |
 * | client   | `client_id`, `azp`, `cid`, `appid`           | `client_id`                                  |
 * | key binding | `cnf` (checked after the token type)      | `cnf`, or `token_type` DPoP                  |
 * | scopes   | `scope`, `scp` and the provider's claims     | `scope`                                      |
 *
 * Each format checks its rules in its own order (checkJwtClaims, checkIntrospectionAnswer),
 * which decides the refusal a token failing several rules gets. Everything here works on plain
 * objects; nothing trusts the claims before the signature (or the endpoint) vouched for them.
 */
import type { AuthConfig, TokenFormat } from '../config.js'
import { AuthError } from '../errors.js'
import type { AccessTokenIdentity } from './identity.js'
import { PROVIDER_RULES, type ProviderRules } from './providers.js'

export interface ClaimRules {
  /** The trusted issuer, compared with `iss` exactly. */
  issuer: string
  audiences: ReadonlySet<string>
  /** Seconds of leeway for `exp`, `nbf` and `iat`. */
  clockTolerance: number
  /** AUTH_CLIENT_IDS: when not empty, the token's client must be one of them. */
  clientIds: ReadonlySet<string>
  /** JWT: Cognito access tokens carry no `aud`; with this set, a `client_id` (checked against clientIds) stands in for it. */
  audienceOptionalWithClientId: boolean
  /** JWT: RFC 9068 §2.2 claims that must be present (beyond iss, aud, exp). */
  required: readonly string[]
  /** JWT: the provider's scope claims. */
  provider: ProviderRules
}

const RFC9068_REQUIRED = ['sub', 'client_id', 'iat', 'jti']

/** The rules of an issuer's configuration, for both formats. */
export function claimRulesFor(auth: AuthConfig, issuer: string): ClaimRules {
  const provider = PROVIDER_RULES[auth.provider]
  return {
    issuer,
    audiences: new Set(auth.audiences),
    clockTolerance: auth.clockTolerance,
    clientIds: new Set(auth.clientIds),
    audienceOptionalWithClientId: provider.audienceOptionalWithClientId,
    required: auth.profile === 'rfc9068' ? RFC9068_REQUIRED : [],
    provider
  }
}

/** Log reasons of the introspection path say where the value came from. */
function reasonOf(format: TokenFormat, reason: string): string {
  return format === 'jwt' ? reason : `introspection ${reason}`
}

function missing(claim: string): AuthError {
  return new AuthError('ERR_JWT_CLAIM_MISSING', { claim, reason: `${claim} missing` })
}

function wrongType(claim: string, expected: 'string' | 'strings' | 'numeric date', format: TokenFormat): AuthError {
  const reason = format === 'jwt' ? `${claim} has the wrong type` : `introspection ${claim} is not a number`
  return new AuthError('ERR_JWT_CLAIM_INVALID', { claim, expected, format, reason })
}

// ---- dates ----

/** The last second of year 9999 (UTC): a later NumericDate is no date anyone issues. */
export const MAX_NUMERIC_DATE = 253_402_300_799

/** A NumericDate (RFC 7519 §2) this API can reason about and print: finite, from 1970 to year 9999. */
export function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_NUMERIC_DATE
}

/** The value of a date claim when present: a number, and a date (see isNumericDate). */
export function dateClaim(claims: Record<string, unknown>, claim: 'exp' | 'nbf' | 'iat', format: TokenFormat): number | undefined {
  const value = claims[claim]
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw wrongType(claim, 'numeric date', format)
  if (!isNumericDate(value)) {
    throw new AuthError('ERR_JWT_CLAIM_INVALID', { claim, expected: 'date', format, reason: reasonOf(format, `${claim} out of range`) })
  }
  return value
}

/** `exp` (seconds) has not passed, with the tolerance; `now` in seconds. */
export function checkNotExpired(exp: number, rules: ClaimRules, now: number, format: TokenFormat): void {
  if (now - rules.clockTolerance >= exp) {
    throw new AuthError('ERR_JWT_EXPIRED', { claim: 'exp', reason: reasonOf(format, 'exp in the past') })
  }
}

/** `nbf` (when present) has come, with the tolerance. */
export function checkNotBefore(nbf: number | undefined, rules: ClaimRules, now: number, format: TokenFormat): void {
  if (nbf !== undefined && nbf > now + rules.clockTolerance) {
    throw new AuthError('ERR_JWT_NOT_YET_VALID', { claim: 'nbf', reason: reasonOf(format, 'nbf in the future') })
  }
}

/** `iat` (when present) is not in the future, with the tolerance (JWT only). */
export function checkIssuedAt(iat: number | undefined, rules: ClaimRules, now: number): void {
  if (iat !== undefined && iat > now + rules.clockTolerance) {
    throw new AuthError('ERR_JWT_ISSUED_IN_FUTURE', { claim: 'iat', reason: 'iat in the future' })
  }
}

/**
 * When a JWT that passed checkJwtClaims passes them again, in seconds: from `nbf` to `exp`
 * widened by the tolerance, as checkNotBefore and checkNotExpired compare them. The verified
 * token cache serves a token within this window only.
 */
export function jwtValidity(payload: Record<string, unknown>, rules: ClaimRules): { notBefore: number; notAfter: number } {
  const nbf = typeof payload.nbf === 'number' ? payload.nbf : -Infinity
  return { notBefore: nbf - rules.clockTolerance, notAfter: (payload.exp as number) + rules.clockTolerance }
}

// ---- issuer, audience, client ----

/** `iss` is the trusted issuer: required in a JWT, optional in an introspection answer. */
export function checkIssuer(claims: Record<string, unknown>, rules: ClaimRules, format: TokenFormat): void {
  const iss = claims.iss
  if (iss === undefined) {
    if (format === 'jwt') throw missing('iss')
    return
  }
  if (format === 'jwt' && typeof iss !== 'string') throw wrongType('iss', 'string', format)
  if (iss !== rules.issuer) {
    throw new AuthError('ERR_JWT_ISSUER_INVALID', { claim: 'iss', reason: reasonOf(format, 'iss mismatch') })
  }
}

/** `aud` names one of this API's audiences. */
export function checkAudience(claims: Record<string, unknown>, rules: ClaimRules, format: TokenFormat): void {
  const aud = claims.aud
  if (format === 'jwt') {
    if (aud === undefined) {
      // the client allowlist, checked for every token (checkClient), stands in for the audience
      if (rules.audienceOptionalWithClientId && typeof claims.client_id === 'string') return
      throw missing('aud')
    }
    if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((item) => typeof item === 'string'))) {
      throw wrongType('aud', 'strings', format)
    }
  }
  // of an introspection answer, only the strings count
  const named: readonly unknown[] = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : []
  for (const item of named) if (typeof item === 'string' && rules.audiences.has(item)) return
  throw new AuthError('ERR_JWT_AUDIENCE_INVALID', { format, claim: 'aud', reason: reasonOf(format, 'aud mismatch') })
}

const CLIENT_CLAIMS: Readonly<Record<TokenFormat, readonly string[]>> = {
  jwt: ['client_id', 'azp', 'cid', 'appid'],
  opaque: ['client_id']
}

/** The OAuth client the token was issued to, from the first of the format's client claims that is a string. */
export function clientIdOf(claims: Record<string, unknown>, format: TokenFormat): string | undefined {
  for (const claim of CLIENT_CLAIMS[format]) {
    const value = claims[claim]
    if (typeof value === 'string') return value
  }
  return undefined
}

/** With AUTH_CLIENT_IDS set, the token's client is one of them. */
export function checkClient(claims: Record<string, unknown>, rules: ClaimRules, format: TokenFormat): void {
  if (rules.clientIds.size === 0) return
  const clientId = clientIdOf(claims, format)
  if (clientId === undefined || !rules.clientIds.has(clientId)) {
    throw new AuthError('ERR_CLIENT_NOT_ALLOWED', { claim: 'client_id', reason: 'client not in AUTH_CLIENT_IDS' })
  }
}

// ---- key binding, introspection token type ----

/** An introspection answer's `token_type`, lower-cased; undefined unless a string. */
function tokenTypeOf(answer: Record<string, unknown>): string | undefined {
  return typeof answer.token_type === 'string' ? answer.token_type.toLowerCase() : undefined
}

/**
 * The key a token is bound to (RFC 7800 `cnf`; RFC 9449 §6): undefined for a token any bearer
 * may use; `{ jkt }` with the thumbprint for a DPoP-bound token (`cnf.jkt`); `{ jkt: undefined }`
 * for a token bound some other way (`x5t#S256`, mTLS) or whose key is not named (an
 * introspection answer with token_type DPoP and no `cnf.jkt`). Such a token is never usable
 * with the Bearer scheme (RFC 9449 §7.2), and with the DPoP scheme only with a proof signed by
 * the key `jkt` names.
 */
export function keyBindingOf(claims: Record<string, unknown>, format: TokenFormat): KeyBinding | undefined {
  const { cnf } = claims
  if (cnf !== undefined) {
    const jkt = cnf !== null && typeof cnf === 'object' ? (cnf as { jkt?: unknown }).jkt : undefined
    return { jkt: typeof jkt === 'string' && jkt !== '' ? jkt : undefined }
  }
  if (format === 'opaque' && tokenTypeOf(claims) === 'dpop') return { jkt: undefined }
  return undefined
}

export interface KeyBinding {
  /** The RFC 7638 thumbprint of the key (`cnf.jkt`); undefined when the token is bound otherwise. */
  jkt: string | undefined
}

/** A token bound to a key (`cnf`, e.g. DPoP or mTLS) cannot be used with the Bearer scheme (RFC 9449 §7.2). */
export function checkSenderConstraint(claims: Record<string, unknown>, format: TokenFormat): void {
  if (keyBindingOf(claims, format) === undefined) return
  throw new AuthError('ERR_TOKEN_SENDER_CONSTRAINED', {
    reason:
      claims.cnf !== undefined
        ? format === 'jwt'
          ? 'cnf present with the Bearer scheme'
          : 'introspection cnf present'
        : 'introspection token_type DPoP'
  })
}

/** An introspection answer's `token_type`, when present, names an access token (Bearer, or DPoP: RFC 9449 §6.2). */
export function checkIntrospectedTokenType(answer: Record<string, unknown>): void {
  const tokenType = tokenTypeOf(answer)
  if (tokenType !== undefined && tokenType !== 'bearer' && tokenType !== 'access_token' && tokenType !== 'dpop') {
    throw new AuthError('ERR_NOT_ACCESS_TOKEN', { tokenType, reason: 'introspection token_type' })
  }
}

// ---- scopes and identity ----

function addAll(into: Set<string>, value: unknown): void {
  if (typeof value === 'string') {
    for (const item of value.split(' ')) if (item !== '') into.add(item)
  } else if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'string' && item !== '') into.add(item)
  }
}

function rolesOf(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? (value as { roles?: unknown }).roles : undefined
}

/**
 * The scopes a token grants: `scope` (space-separated, RFC 8693/9068 and RFC 7662); of a JWT
 * also `scp` (array or string, Okta and Entra ID) and the provider's own claims (Auth0
 * `permissions`, Entra `roles`, Keycloak roles). Each once, in the order found.
 */
export function scopesOf(
  claims: Record<string, unknown>,
  rules: Pick<ClaimRules, 'provider' | 'audiences'>,
  format: TokenFormat
): string[] {
  const scopes = new Set<string>()
  if (typeof claims.scope === 'string') addAll(scopes, claims.scope)
  if (format === 'opaque') return [...scopes]
  addAll(scopes, claims.scp)
  for (const claim of rules.provider.extraScopeClaims) {
    switch (claim) {
      case 'permissions':
      case 'roles':
        addAll(scopes, claims[claim])
        break
      case 'realm_access.roles':
        addAll(scopes, rolesOf(claims.realm_access))
        break
      case 'resource_access': {
        // Keycloak client roles: those of this API's client (its audience) only.
        const access = claims.resource_access
        if (access !== null && typeof access === 'object') {
          for (const audience of rules.audiences) addAll(scopes, rolesOf((access as Record<string, unknown>)[audience]))
        }
        break
      }
    }
  }
  return [...scopes]
}

/** What a route learns about the caller, the same shape for both formats; the claims are frozen, not copied. */
export function identityOf(claims: Record<string, unknown>, rules: ClaimRules, format: TokenFormat): AccessTokenIdentity {
  return Object.freeze({
    sub: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: clientIdOf(claims, format),
    scopes: Object.freeze(scopesOf(claims, rules, format)),
    issuer: rules.issuer,
    expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
    format,
    binding: keyBindingOf(claims, format),
    claims: Object.freeze(claims)
  })
}

// ---- the two formats, each in its order ----

const STRING_CLAIMS = ['sub', 'client_id', 'azp', 'jti', 'scope']

/**
 * A verified JWT's claims: iss, aud, exp (required), nbf, iat, the types of the string claims,
 * the profile's required claims, the client. Throws on the first failed rule; `now` in seconds.
 * The token type (token-type.ts) comes after; the key binding (keyBindingOf) is the gate's, by scheme.
 */
export function checkJwtClaims(payload: Record<string, unknown>, rules: ClaimRules, now: number): void {
  checkIssuer(payload, rules, 'jwt')
  checkAudience(payload, rules, 'jwt')
  const exp = dateClaim(payload, 'exp', 'jwt')
  if (exp === undefined) throw missing('exp')
  checkNotExpired(exp, rules, now, 'jwt')
  checkNotBefore(dateClaim(payload, 'nbf', 'jwt'), rules, now, 'jwt')
  checkIssuedAt(dateClaim(payload, 'iat', 'jwt'), rules, now)
  for (const claim of STRING_CLAIMS) {
    const value = payload[claim]
    if (value !== undefined && typeof value !== 'string') throw wrongType(claim, 'string', 'jwt')
  }
  for (const claim of rules.required) {
    if (payload[claim] === undefined) throw missing(claim)
  }
  checkClient(payload, rules, 'jwt')
}

/**
 * An introspection answer (RFC 7662 §2.2) that makes an opaque token acceptable: `active:
 * true`, the dates, iss, aud, an access token's token_type, the client. Its key binding
 * (`cnf`) goes into the identity; the gate holds it against the scheme (keyBindingOf).
 * Returns the caller's identity; throws on the first failed rule; `now` in seconds.
 */
export function checkIntrospectionAnswer(answer: Record<string, unknown>, rules: ClaimRules, now: number): AccessTokenIdentity {
  if (answer.active !== true) throw new AuthError('ERR_TOKEN_INACTIVE', { reason: 'active is not true' })
  const exp = dateClaim(answer, 'exp', 'opaque')
  const nbf = dateClaim(answer, 'nbf', 'opaque')
  if (exp !== undefined) checkNotExpired(exp, rules, now, 'opaque')
  checkNotBefore(nbf, rules, now, 'opaque')
  checkIssuer(answer, rules, 'opaque')
  checkAudience(answer, rules, 'opaque')
  checkIntrospectedTokenType(answer)
  checkClient(answer, rules, 'opaque')
  return identityOf(answer, rules, 'opaque')
}
