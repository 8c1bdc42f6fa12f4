/**
 * The `htu` of a DPoP proof and the URI it must match (RFC 9449 §4.3 check 9): both compared
 * without query and fragment, after the normalisation of RFC 3986 §6.2.2 and §6.2.3 — scheme
 * and host in lower case, the scheme's default port dropped, dot segments removed, an empty
 * path as "/", percent-encodings in upper case, and those of unreserved characters decoded.
 * The request's side is built from PUBLIC_URL and the request's path, never from its Host.
 */

const PERCENT = /%([0-9A-Fa-f]{2})/g
const UNRESERVED = /[A-Za-z0-9\-._~]/

function normalisePath(path: string): string {
  if (!path.includes('%')) return path
  return path.replace(PERCENT, (_match, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16))
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`
  })
}

/** The normalised form of an absolute http(s) URI, without query and fragment; undefined when it is none. */
export function normaliseHtu(value: string): string | undefined {
  if (value.length > 4096) return undefined
  const url = URL.parse(value)
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined
  if (url.username !== '' || url.password !== '') return undefined
  return `${url.protocol}//${url.host}${normalisePath(url.pathname)}`
}

/** The path of a request target (origin-form, or the path of an absolute-form one), without query and fragment. */
export function targetPath(target: string): string {
  const end = target.search(/[?#]/)
  const path = end === -1 ? target : target.slice(0, end)
  if (path.startsWith('/')) return path
  return URL.parse(path)?.pathname ?? '/'
}

/** A dot segment, literal or percent-encoded (`.`, `..`, `%2e`, `.%2E`, …). */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i

/**
 * The URI a proof's htu must name for a request at `target`, with the API at `publicUrl` (no
 * trailing slash); undefined (no proof matches) for a target whose path has a backslash or a
 * dot segment: the router takes those as they are, while normalising them would name another
 * path, so a proof made for one route would pass on another.
 */
export function expectedHtu(publicUrl: string, target: string): string | undefined {
  const path = targetPath(target)
  if (path.includes('\\') || DOT_SEGMENT.test(path)) return undefined
  return normaliseHtu(`${publicUrl}${path}`)
}
