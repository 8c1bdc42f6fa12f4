/**
 * Outbound proxies: the issuer's metadata, keys and introspection calls (fetch-json.ts) go
 * through the proxy that HTTPS_PROXY / HTTP_PROXY names, except to the hosts NO_PROXY lists
 * (each variable in either case, the lower-case one first, as curl and Node read them).
 *
 * The mechanism is Node's own proxy support (http.setGlobalProxyFromEnv, what
 * NODE_USE_ENV_PROXY=1 turns on), here turned on whenever a proxy variable is set: fetch gets
 * undici's EnvHttpProxyAgent (a CONNECT tunnel per connection, Proxy-Authorization from the
 * URL's user and password), node:http and node:https their proxy-aware global agents. It is
 * process-wide, so the entry sets it once, before the first call; fetchJson's requests run on a
 * thread of their own (fetch-worker.ts), which applies the same settings there
 * (outboundProxySettings). fetchJson's timeout,
 * redirect refusal and size cap act on the request and its answer, not on the connection, and
 * hold through the proxy unchanged.
 *
 * A proxy URL is shown (logs, configuration errors) only without its user and password.
 */
import * as http from 'node:http'
import { ConfigError } from '../config.js'
import type { ProxySettings } from './fetch-worker.js'

type Env = Record<string, string | undefined>

/** What the log line of the start-up says: the proxies in use, without credentials. */
export interface ProxySummary {
  httpProxy?: string
  httpsProxy?: string
  noProxy?: string
}

export interface OutboundProxy {
  summary: ProxySummary
  /** Puts back the direct connections (for tests; the server keeps the proxy for its lifetime). */
  restore(): void
}

export interface UseProxyOptions {
  /** Hosts (`host` or `host:port`) always reached directly, added to NO_PROXY: the development issuer. */
  direct?: readonly string[]
}

/** The settings in use, for fetchJson's thread (proxy settings are per isolate); undefined: direct. */
let current: ProxySettings | undefined

export function outboundProxySettings(): ProxySettings | undefined {
  return current
}

/** The variable that holds a setting, the lower-case one first; an empty value counts as unset. */
function pick(env: Env, name: string): { variable: string; value: string } | undefined {
  for (const variable of [name.toLowerCase(), name]) {
    const value = env[variable]
    if (value !== undefined && value !== '') return { variable, value }
  }
  return undefined
}

/** The URL without its user and password (a proxy's credentials never reach a log). */
function withoutCredentials(url: URL): string {
  const shown = new URL(url.href)
  shown.username = ''
  shown.password = ''
  return shown.href
}

/** The proxy URL of `name`, checked: http:// or https://, with a host. */
function proxyUrl(env: Env, name: string): { value: string; shown: string } | undefined {
  const setting = pick(env, name)
  if (setting === undefined) return undefined
  const url = URL.parse(setting.value)
  // "proxy.corp:3128" parses with the protocol "proxy.corp:": a scheme is required, as Node requires it
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new ConfigError(
      setting.variable,
      'must be an http:// or https:// proxy URL, such as http://proxy.example:3128 (the value is not shown: it may hold a password)'
    )
  }
  return { value: setting.value, shown: withoutCredentials(url) }
}

/**
 * Routes the process's outbound HTTP through the proxies `env` names, or does nothing and
 * returns undefined when it names none. Throws a ConfigError naming the variable, and changes
 * nothing, when a proxy URL is unusable.
 */
export function useProxyFromEnvironment(env: Env, options: UseProxyOptions = {}): OutboundProxy | undefined {
  const httpProxy = proxyUrl(env, 'HTTP_PROXY')
  const httpsProxy = proxyUrl(env, 'HTTPS_PROXY')
  if (httpProxy === undefined && httpsProxy === undefined) return undefined
  // http.setGlobalProxyFromEnv is Node 24.14's: an older 24 would ignore the proxy silently
  const setGlobalProxy = (http as Partial<typeof http>).setGlobalProxyFromEnv
  if (setGlobalProxy === undefined) {
    throw new ConfigError(
      pick(env, 'HTTPS_PROXY')?.variable ?? pick(env, 'HTTP_PROXY')?.variable ?? 'HTTPS_PROXY',
      `needs Node.js 24.14 or later (this is ${process.version})`
    )
  }
  const noProxy = [pick(env, 'NO_PROXY')?.value, ...(options.direct ?? [])].filter((entry) => entry !== undefined).join(',')
  const settings: ProxySettings = {
    ...(httpProxy === undefined ? {} : { http_proxy: httpProxy.value }),
    ...(httpsProxy === undefined ? {} : { https_proxy: httpsProxy.value }),
    ...(noProxy === '' ? {} : { no_proxy: noProxy })
  }
  const restoreHere = setGlobalProxy({ ...settings })
  current = settings
  const restore = (): void => {
    restoreHere()
    if (current === settings) current = undefined
  }
  return {
    summary: {
      ...(httpProxy === undefined ? {} : { httpProxy: httpProxy.shown }),
      ...(httpsProxy === undefined ? {} : { httpsProxy: httpsProxy.shown }),
      ...(noProxy === '' ? {} : { noProxy })
    },
    restore
  }
}
