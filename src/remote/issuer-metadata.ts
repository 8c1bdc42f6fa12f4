/**
 * Issuer discovery: OpenID Connect Discovery first, then RFC 8414 authorization server
 * metadata. The document's `issuer` must equal the configured issuer exactly. The key store
 * learns `jwks_uri` from it, the introspector `introspection_endpoint`, the OpenAPI document
 * the authorization endpoints; one IssuerDiscovery (held by the key store) serves them all.
 */
import { fetchJson, FetchFailed, type FetchJsonOptions } from './fetch-json.js'

export interface IssuerMetadata {
  issuer: string
  jwks_uri?: string
  introspection_endpoint?: string
  authorization_endpoint?: string
  token_endpoint?: string
  [member: string]: unknown
}

/** Whatever holds the issuer's metadata. */
export interface IssuerMetadataSource {
  /** The metadata, or undefined while it cannot be obtained; never rejects. */
  metadata(): Promise<IssuerMetadata | undefined>
}

/** The two well-known locations, in the order they are tried. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const openid = `${url.origin}${path}/.well-known/openid-configuration`
  const oauth = `${url.origin}/.well-known/oauth-authorization-server${path}`
  return [openid, oauth]
}

export async function discoverIssuer(issuer: string, options: FetchJsonOptions): Promise<IssuerMetadata> {
  const problems: string[] = []
  for (const url of discoveryUrls(issuer)) {
    try {
      const { body } = await fetchJson(url, options)
      if (body.issuer !== issuer) {
        problems.push(`${url}: its issuer ${JSON.stringify(body.issuer)} is not AUTH_ISSUER ${JSON.stringify(issuer)}`)
        continue
      }
      if (body.jwks_uri !== undefined && typeof body.jwks_uri !== 'string') {
        problems.push(`${url}: jwks_uri is not a string`)
        continue
      }
      return body as IssuerMetadata
    } catch (error) {
      problems.push((error as Error).message)
    }
  }
  throw new FetchFailed(`issuer discovery failed: ${problems.join('; ')}`)
}

/** A metadata() call after a failed discovery waits this long before trying again. */
const DISCOVERY_RETRY_MS = 5000

export interface IssuerDiscoveryOptions {
  issuer: string
  /** Timeout, size cap and the owner's abort signal. */
  fetch: FetchJsonOptions
  /** Milliseconds since the epoch. */
  now: () => number
  onFetch?: (outcome: 'success' | 'failure') => void
}

/** The issuer's metadata: discovered once (one discovery in flight at a time) and kept once it succeeds. */
export class IssuerDiscovery implements IssuerMetadataSource {
  readonly #options: IssuerDiscoveryOptions
  #metadata: IssuerMetadata | undefined
  #discovery: Promise<IssuerMetadata> | undefined
  #retryAt = 0

  constructor(options: IssuerDiscoveryOptions) {
    this.#options = options
  }

  /** The metadata; a failed discovery is not tried again by this for a few seconds. */
  async metadata(): Promise<IssuerMetadata | undefined> {
    if (this.#metadata === undefined && (this.#discovery !== undefined || this.#options.now() >= this.#retryAt)) {
      await this.discover().catch(() => undefined)
    }
    return this.#metadata
  }

  /** The metadata, discovering it now unless it is known or being discovered; rejects when discovery fails. */
  discover(): Promise<IssuerMetadata> {
    if (this.#metadata !== undefined) return Promise.resolve(this.#metadata)
    if (this.#discovery !== undefined) return this.#discovery
    const run = discoverIssuer(this.#options.issuer, this.#options.fetch)
      .then(
        (metadata) => {
          this.#metadata = metadata
          this.#options.onFetch?.('success')
          return metadata
        },
        (error: unknown) => {
          this.#retryAt = this.#options.now() + DISCOVERY_RETRY_MS
          this.#options.onFetch?.('failure')
          throw error
        }
      )
      .finally(() => {
        this.#discovery = undefined
      })
    this.#discovery = run
    return run
  }
}
