/** Opaque tokens and RFC 7662 answers, for the tests of introspection. */
import { randomBytes } from 'node:crypto'

/** The API's introspection client, as the test issuer and the development stack know it. */
export const INTROSPECTION_CREDENTIALS = {
  AUTH_INTROSPECTION_CLIENT_ID: 'resource-api',
  AUTH_INTROSPECTION_CLIENT_SECRET: 'resource-api-secret'
}

/** A random opaque access token (not a JWS). */
export const opaque = (): string => `op_${randomBytes(24).toString('base64url')}`

/**
 * The answer an RFC 7662 endpoint gives for a valid access token: `active: true`,
 * `token_type: Bearer` and the token's `claims` (e.g. `api.claims()`), then `overrides`;
 * a member whose value is undefined is left out.
 */
export function activeAnswer(claims: Record<string, unknown>, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const answer: Record<string, unknown> = { active: true, token_type: 'Bearer', ...claims, ...overrides }
  return Object.fromEntries(Object.entries(answer).filter(([, value]) => value !== undefined))
}
