/**
 * GET /metrics: Prometheus text (plugins/metrics.ts), public like the health routes. Absent
 * with METRICS_ENABLED=false, and with METRICS_PORT, where the metrics are served on that port
 * instead so that this one need not expose them.
 */
import type { FastifyPluginAsync } from 'fastify'

const metricsRoute: FastifyPluginAsync = async (app) => {
  const { metricsEnabled, metricsPort } = app.config
  if (!metricsEnabled || metricsPort !== undefined) return
  const { registry } = app.metrics
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType)
    return registry.metrics()
  })
}

export default metricsRoute
