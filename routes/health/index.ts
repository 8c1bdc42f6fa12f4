/**
 * Liveness (the process runs) and readiness (the issuer's keys are loaded and fresh enough).
 * Both are public. While the server drains, every request, readiness included, gets a 503 from
 * plugins/problem-details.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema } from './schemas.js'
import { RetryAfterHeader } from '../../src/openapi/headers.js'
import { problemResponse } from '../../src/openapi/problems.js'
import { problem, sendProblem } from '../../src/http/problem.js'

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
      response: {
        200: HealthSchema,
        503: problemResponse('The issuer\'s signing keys are not loaded yet, or no longer fresh enough', ['ERR_NOT_READY'], { 'Retry-After': RetryAfterHeader })
      }
    }
  }, async (_request, reply) => {
    if (app.keyStore.ready) return { status: 'ready', keys: app.keyStore.keyCount }
    return sendProblem(reply.header('retry-after', '5'), problem('ERR_NOT_READY'))
  })
}

export default healthRoutes
