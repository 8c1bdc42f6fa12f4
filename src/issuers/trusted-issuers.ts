/**
 * The issuers this API trusts: those of AUTH_ISSUERS_FILE, or the one of AUTH_ISSUER (with its
 * per-issuer variables) as a list of one, so that the rest of the app has one code path.
 * Throws a ConfigError naming AUTH_ISSUERS_FILE (the file, the entry, the field) for a bad file.
 */
import type { Config } from '../config.js'
import { loadIssuersFile, singleIssuer, type TrustedIssuer } from './issuers-file.js'

export function trustedIssuers(config: Config, env: Record<string, string | undefined> = process.env): TrustedIssuer[] {
  return config.issuersFile === undefined ? [singleIssuer(config.auth)] : loadIssuersFile(config.issuersFile, config.auth, env)
}
