/** Where the SPA finds its issuer and API: `/config.json`, written by the server that serves the SPA. */
export interface SpaConfig {
  /** The OpenID provider's issuer identifier (discovery starts here). */
  issuer: string
  /** This SPA's client id at the issuer (a public client: no secret, PKCE instead). */
  clientId: string
  /** The API's base URL. */
  apiUrl: string
  /** The API's resource indicator (RFC 8707): the `aud` its access tokens must carry. */
  resource: string
  /** The scopes asked for: OpenID ones for the ID token, the API's for the access token. */
  scope: string
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`config.json: "${name}" must be a non-empty string`)
  return value
}

export async function loadConfig(): Promise<SpaConfig> {
  const response = await fetch('/config.json', { cache: 'no-store' })
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`)
  const body = (await response.json()) as Record<string, unknown>
  return {
    issuer: text(body['issuer'], 'issuer'),
    clientId: text(body['clientId'], 'clientId'),
    apiUrl: text(body['apiUrl'], 'apiUrl'),
    resource: text(body['resource'], 'resource'),
    scope: text(body['scope'], 'scope')
  }
}
