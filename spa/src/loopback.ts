import { allowInsecureRequests } from 'oauth4webapi'

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * oauth4webapi refuses plain http. The development issuer and API run on loopback over http, so
 * for those hosts only the SPA lets it through; any other http URL is still refused.
 */
export function insecureIfLoopback(url: string): { [allowInsecureRequests]?: true } {
  const { protocol, hostname } = new URL(url)
  return protocol === 'http:' && LOOPBACK.has(hostname) ? { [allowInsecureRequests]: true } : {}
}
