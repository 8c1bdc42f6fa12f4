/**
 * Decodes a JWT's header and payload for display only. Nothing here checks a signature, so the
 * app takes no decision from it: the ID token's claims that the app uses are the ones oauth4webapi
 * validated, and the access token is the API's business (the app only shows it to teach).
 */
export interface DecodedJwt {
  header: Record<string, unknown>
  payload: Record<string, unknown>
}

function decodePart(part: string | undefined): Record<string, unknown> {
  if (part === undefined || !/^[A-Za-z0-9_-]+$/.test(part)) throw new Error('not a compact JWS')
  const base64 = part
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(part.length / 4) * 4, '=')
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0))
  const value: unknown = JSON.parse(new TextDecoder().decode(bytes))
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
  return value as Record<string, unknown>
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.')
  if (parts.length !== 3) return undefined
  try {
    return { header: decodePart(parts[0]), payload: decodePart(parts[1]) }
  } catch {
    return undefined
  }
}
