/**
 * Prometheus metrics (prom-client), one registry per app: requests by route and status,
 * latency, JWKS fetches and failures, refusals by reason code, introspection calls.
 * `GET /metrics` is public like the health routes, or on its own port (METRICS_PORT) so that
 * it need not be; METRICS_ENABLED=false removes it.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValue,
  type MetricValueWithName
} from 'prom-client'

export interface AppMetrics {
  registry: Registry
  /** What http_requests_total and http_request_duration_seconds report, by route and method (the onSend hook adds to it). */
  series: Map<string, Map<string, RouteSeries>>
  requests: Counter<'method' | 'route' | 'status'>
  latency: Histogram<'method' | 'route'>
  keyFetches: Counter<'kind' | 'outcome'>
  refusals: Counter<'code'>
  introspections: Counter<'outcome'>
  introspectionLatency: Histogram
  /** The gauge dpop_replay_entries reads `source` when scraped (plugins/dpop-replay-store.ts sets it). */
  dpopReplayEntries: { source: (() => number | undefined) | undefined }
  /** The gauge issuer_keys_ready{issuer} reads `source` when scraped (plugins/key-store.ts sets it). */
  issuerKeysReady: { source: (() => ReadonlyArray<{ issuer: string; ready: boolean }>) | undefined }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

/** Upper bounds of the request latency histogram, seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const

/** Status codes are three digits: a series counts them in an array indexed by the code. */
const STATUS_SLOTS = 1000

/** One method and route's requests (by status) and latency, as the onSend hook counts them. */
export interface RouteSeries {
  method: string
  route: string
  /** Requests by status code (the index); most stay 0. */
  byStatus: Float64Array
  /** Observations per latency bucket (not cumulative), the last one past every bound. */
  buckets: Float64Array
  sum: number
  count: number
}

function newSeries(method: string, route: string): RouteSeries {
  return {
    method,
    route,
    byStatus: new Float64Array(STATUS_SLOTS),
    buckets: new Float64Array(LATENCY_BUCKETS.length + 1),
    sum: 0,
    count: 0
  }
}

type Series = Map<string, Map<string, RouteSeries>>

/** performance.now() when the metrics' onRequest hook saw the request, on its reply; 0 once it is counted. */
const RECEIVED_AT = Symbol('receivedAt')
type Timed = { [RECEIVED_AT]: number }

function* eachSeries(series: Series): Generator<RouteSeries> {
  for (const byMethod of series.values()) yield* byMethod.values()
}

/** http_requests_total: prom-client's Counter, its values read from the series when scraped. */
class RouteRequests extends Counter<'method' | 'route' | 'status'> {
  readonly #series: Series
  constructor(series: Series, configuration: ConstructorParameters<typeof Counter<'method' | 'route' | 'status'>>[0]) {
    super(configuration)
    this.#series = series
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<'method' | 'route' | 'status'>>> {
    const own = await super.get()
    const values = [...own.values]
    for (const s of eachSeries(this.#series))
      s.byStatus.forEach((value, status) => {
        if (value > 0) values.push({ labels: { method: s.method, route: s.route, status }, value })
      })
    return { ...own, values }
  }
}

/**
 * http_request_duration_seconds: prom-client's Histogram, its values read from the series when
 * scraped, in the layout its own getForPromString gives (which the registry calls when it writes
 * the text format, and get() when it writes JSON). Nothing observes it directly.
 */
class RouteLatency extends Histogram<'method' | 'route'> {
  readonly #series: Series
  readonly #name: string
  readonly #help: string
  constructor(series: Series, configuration: ConstructorParameters<typeof Histogram<'method' | 'route'>>[0]) {
    super(configuration)
    this.#series = series
    this.#name = configuration.name
    this.#help = configuration.help
  }

  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<'method' | 'route'>>> {
    const values: MetricValueWithName<'method' | 'route'>[] = []
    const name = this.#name
    const value = (labels: Record<string, string | number>, sharedLabels: Record<string, string>, n: number, metricName: string) =>
      ({ labels, sharedLabels, value: n, metricName }) as MetricValueWithName<'method' | 'route'>
    for (const s of eachSeries(this.#series)) {
      const shared = { method: s.method, route: s.route }
      let cumulative = 0
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i] ?? 0
        values.push(value({ le }, shared, cumulative, `${name}_bucket`))
      })
      values.push(
        value({ le: '+Inf' }, shared, s.count, `${name}_bucket`),
        value({}, shared, s.sum, `${name}_sum`),
        value({}, shared, s.count, `${name}_count`)
      )
    }
    const data = { name, help: this.#help, type: 'histogram' as unknown as MetricType, values, aggregator: 'sum' as const }
    return Promise.resolve(data as MetricObjectWithValues<MetricValueWithName<'method' | 'route'>>)
  }
}

export function createMetrics(): AppMetrics {
  const registry = new Registry()
  const series: Series = new Map()
  collectDefaultMetrics({ register: registry })
  const dpopReplayEntries: AppMetrics['dpopReplayEntries'] = { source: undefined }
  new Gauge({
    name: 'dpop_replay_entries',
    help: 'DPoP proofs the in-process replay store remembers (0 when they are kept in the database)',
    registers: [registry],
    collect() {
      this.set(dpopReplayEntries.source?.() ?? 0)
    }
  })
  const issuerKeysReady: AppMetrics['issuerKeysReady'] = { source: undefined }
  new Gauge({
    name: 'issuer_keys_ready',
    help: "1 while a trusted issuer's signing keys are loaded and fresh enough, 0 while they cannot be obtained",
    labelNames: ['issuer'],
    registers: [registry],
    collect() {
      for (const { issuer, ready } of issuerKeysReady.source?.() ?? []) this.set({ issuer }, ready ? 1 : 0)
    }
  })
  return {
    dpopReplayEntries,
    issuerKeysReady,
    registry,
    series,
    requests: new RouteRequests(series, {
      name: 'http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry]
    }),
    latency: new RouteLatency(series, {
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [...LATENCY_BUCKETS],
      registers: [registry]
    }),
    keyFetches: new Counter({
      name: 'auth_key_fetches_total',
      help: 'Issuer discovery and JWKS fetches by outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry]
    }),
    refusals: new Counter({
      name: 'auth_refusals_total',
      help: 'Requests refused by the auth layer, by reason code',
      labelNames: ['code'],
      registers: [registry]
    }),
    introspections: new Counter({
      name: 'auth_introspections_total',
      help: 'RFC 7662 introspection calls by outcome',
      labelNames: ['outcome'],
      registers: [registry]
    }),
    introspectionLatency: new Histogram({
      name: 'auth_introspection_duration_seconds',
      help: 'RFC 7662 introspection call latency',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry]
    })
  }
}

export interface MetricsPluginOptions {
  /** Tests pass their own; the app makes one per instance. */
  metrics?: AppMetrics
}

/**
 * The registry as `app.metrics`, and the request counters. The `GET /metrics` route is
 * routes/metrics (behind the gate's route table, public); with METRICS_PORT the metrics are
 * served on that port instead, by a bare node:http server bound when the app is ready.
 */
async function metrics(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
  const m = options.metrics ?? createMetrics()
  app.decorate('metrics', m)
  const { metricsEnabled, metricsPort, host } = app.config
  if (!metricsEnabled) return

  // Each request's two samples are plain additions to its route's series (found in maps of
  // this plugin's own); prom-client reads them when scraped (RouteRequests, RouteLatency). Its
  // inc/observe with a label object would check, sort and hash the labels on every request.
  // They are taken when the reply is sent (onSend: its status is set by then), timed from
  // onRequest: an onResponse hook would make Fastify listen for the end of every response (two
  // listeners added and removed on each), which costs the public route more than everything
  // else here. The latency is the time to the reply's hand-over to the socket.
  //
  // A route's requests are counted by an onSend hook of that route's own, added as it is
  // declared (onRoute) and holding its series: the request's route is not looked up per request
  // (request.routeOptions builds a dozen-field object on every read). Requests that match no
  // route (the not-found handler) are counted by the app-wide onSend hook, as 'unmatched'.
  // The time a request arrived is kept on its reply under a symbol of this plugin's: Fastify
  // stores every decorator's initial value in each request and reply it makes, and the reply
  // has no other, so that store stays a single, fixed one (plugins/auth.ts keeps the request's).
  const { series } = m
  /** The series of `method` on `route`, made on first use. */
  const seriesOf = (route: string, method: string): RouteSeries => {
    let byMethod = series.get(route)
    if (byMethod === undefined) series.set(route, (byMethod = new Map()))
    let s = byMethod.get(method)
    if (s === undefined) byMethod.set(method, (s = newSeries(method, route)))
    return s
  }
  /**
   * What counts `route`'s requests: its series found once per method in a row (a route has one
   * method, or GET and its HEAD), and nothing done for a request counted already (its arrival
   * time is 0 once counted, so that a failing onSend hook that has the reply sent again does not
   * count it twice).
   */
  const counterOf = (route: string): ((request: FastifyRequest, reply: FastifyReply) => void) => {
    let last: RouteSeries | undefined
    return (request, reply) => {
      const timed = reply as unknown as Timed
      if (timed[RECEIVED_AT] === 0) return
      const seconds = (performance.now() - timed[RECEIVED_AT]) / 1000
      timed[RECEIVED_AT] = 0
      const method = request.method
      if (last?.method !== method) last = seriesOf(route, method)
      const s = last
      const status = reply.statusCode
      // a status outside 100-999 cannot be sent (node:http refuses it); counted as 0 should one get here
      const slot = status >= 100 && status < STATUS_SLOTS ? status : 0
      s.byStatus[slot] = (s.byStatus[slot] ?? 0) + 1
      let bucket = 0
      while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] ?? Infinity)) bucket++
      s.buckets[bucket] = (s.buckets[bucket] ?? 0) + 1
      s.sum += seconds
      s.count++
    }
  }
  app.decorateReply(RECEIVED_AT, 0)
  app.addHook('onRequest', (_request, reply, done) => {
    ;(reply as unknown as Timed)[RECEIVED_AT] = performance.now()
    done()
  })
  const countUnmatched = counterOf('unmatched')
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.is404) countUnmatched(request, reply)
    done(null, payload)
  })
  app.addHook('onRoute', (route) => {
    const count = counterOf(route.url)
    const counter: onSendHookHandler = (request, reply, payload, done) => {
      count(request, reply)
      done(null, payload)
    }
    const own = route.onSend
    route.onSend = own === undefined ? [counter] : [...(Array.isArray(own) ? own : [own]), counter]
  })

  if (metricsPort === undefined) return
  let server: Server | undefined
  // bound when the app is ready (before it listens), so that a port in use stops start-up
  app.addHook('onReady', async () => {
    server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: this port serves GET /metrics only\n')
        return
      }
      m.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': m.registry.contentType }).end(text)
        },
        () => {
          response.writeHead(500).end()
        }
      )
    })
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject).listen(metricsPort, host, () => resolve())
    })
    app.log.info({ port: (server.address() as AddressInfo).port }, 'metrics served on their own port')
  })
  app.addHook('onClose', async () => {
    if (server !== undefined) await new Promise((resolve) => server?.close(resolve))
  })
  app.decorate('metricsServer', () => server)
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The METRICS_PORT server once the app is ready (undefined otherwise). */
    metricsServer?: () => Server | undefined
  }
}

export default fp(metrics, { name: 'metrics', fastify: '5.x', dependencies: ['config'] })
