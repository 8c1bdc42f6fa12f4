/**
 * Prometheus metrics (prom-client), one registry per app: requests by route and status,
 * latency, JWKS fetches and failures, refusals by reason code, introspection calls.
 * `GET /metrics` is public like the health routes, or on its own port (METRICS_PORT) so that
 * it need not be; METRICS_ENABLED=false removes it.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface AppMetrics {
  registry: Registry
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

export function createMetrics(): AppMetrics {
  const registry = new Registry()
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
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry]
    }),
    latency: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
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

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    m.requests.inc({ method: request.method, route, status: reply.statusCode })
    m.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000)
    done()
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
