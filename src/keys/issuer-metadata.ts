/**
 * Issuer discovery: OpenID Connect Discovery first, then RFC 8414 authorization server
 * metadata. The document's `issuer` must equal the configured issuer exactly.
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

/** The two well-known locations, in the order they are tried. */
export function discoveryUrls (issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const openid = `${url.origin}${path}/.well-known/openid-configuration`
  const oauth = `${url.origin}/.well-known/oauth-authorization-server${path}`
  return [openid, oauth]
}

export async function discoverIssuer (issuer: string, options: FetchJsonOptions): Promise<IssuerMetadata> {
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
