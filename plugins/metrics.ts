/**
 * Prometheus metrics (prom-client), one registry per app: requests by route and status,
 * latency, JWKS fetches and failures, refusals by reason code, introspection calls.
 * `GET /metrics` is public like the health routes; METRICS_ENABLED=false removes it.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface AppMetrics {
  registry: Registry
  requests: Counter<'method' | 'route' | 'status'>
  latency: Histogram<'method' | 'route'>
  keyFetches: Counter<'kind' | 'outcome'>
  refusals: Counter<'code'>
  introspections: Counter<'outcome'>
  introspectionLatency: Histogram
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: AppMetrics
  }
}

export function createMetrics (): AppMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    requests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    latency: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry]
    }),
    keyFetches: new Counter({ name: 'auth_key_fetches_total', help: 'Issuer discovery and JWKS fetches by outcome', labelNames: ['kind', 'outcome'], registers: [registry] }),
    refusals: new Counter({ name: 'auth_refusals_total', help: 'Requests refused by the auth layer, by reason code', labelNames: ['code'], registers: [registry] }),
    introspections: new Counter({ name: 'auth_introspections_total', help: 'RFC 7662 introspection calls by outcome', labelNames: ['outcome'], registers: [registry] }),
    introspectionLatency: new Histogram({
      name: 'auth_introspection_duration_seconds',
      help: 'RFC 7662 introspection call latency',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry]
    })
  }
}

async function metrics (app: FastifyInstance, options: { enabled: boolean; metrics: AppMetrics }): Promise<void> {
  const m = options.metrics
  app.decorate('metrics', m)
  if (!options.enabled) return

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    m.requests.inc({ method: request.method, route, status: reply.statusCode })
    m.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000)
    done()
  })

  app.get('/metrics', {
    config: { public: true }
  }, async (_request, reply) => {
    reply.type(m.registry.contentType)
    return m.registry.metrics()
  })
}

export default fp(metrics, { name: 'metrics', fastify: '5.x' })
