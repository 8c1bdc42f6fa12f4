/**
 * The names of the oauth2 security schemes: one per issuer that has one (the single issuer,
 * or each exact issuer of AUTH_ISSUERS_FILE in configuration order). The first is `oauth2`,
 * as with a single issuer, so that a client written for one issuer keeps working.
 */

/** The name of the oauth2 scheme of the first issuer (the only one with a single issuer). */
export const OAUTH2_SCHEME = 'oauth2'

/** The oauth2 schemes' names for `count` issuers, in order: `oauth2`, `oauth2_2`, `oauth2_3`… */
export function oauth2SchemeNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => (index === 0 ? OAUTH2_SCHEME : `${OAUTH2_SCHEME}_${index + 1}`))
}
