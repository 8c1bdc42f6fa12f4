/**
 * Liveness (the process runs) and readiness (the issuer's keys are loaded and fresh enough,
 * and the server is not shutting down). Both are public.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema } from '../src/schemas/health.js'
import { ProblemSchema } from '../src/schemas/problem.js'
import { PROBLEM_CONTENT_TYPE } from '../src/http/problem.js'

export interface HealthRouteOptions {
  /** True once the keys are loaded and not too stale. */
  isReady(): boolean
  keyCount(): number
}

const healthRoutes: FastifyPluginAsyncTypebox<HealthRouteOptions> = async (app, options) => {
  let closing = false
  app.addHook('preClose', (done) => { closing = true; done() })

  app.get('/health/live', {
    config: { public: true },
    schema: { tags: ['health'], summary: 'Liveness', operationId: 'getLiveness', response: { 200: HealthSchema } }
  }, async () => ({ status: 'ok' }))

  app.get('/health/ready', {
    config: { public: true },
    schema: {
      tags: ['health'],
      summary: 'Readiness: the issuer\'s signing keys are loaded',
      operationId: 'getReadiness',
      response: { 200: HealthSchema, 503: ProblemSchema }
    }
  }, async (_request, reply) => {
    if (!closing && options.isReady()) return { status: 'ready', keys: options.keyCount() }
    return reply.code(503).type(PROBLEM_CONTENT_TYPE).header('retry-after', '5').send({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: closing ? 'The server is shutting down.' : 'The issuer\'s signing keys are not loaded yet.'
    })
  })
}

export default healthRoutes
