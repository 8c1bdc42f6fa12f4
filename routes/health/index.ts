/**
 * Liveness (the process runs) and readiness (the issuer's keys are loaded and fresh enough, and
 * the database is migrated and answers).
 * Both are public. While the server drains, every request, readiness included, gets a 503 from
 * plugins/problem-details.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthSchema } from './schemas.js'
import { RetryAfterHeader } from '../../src/openapi/headers.js'
import { problemResponse } from '../../src/openapi/problems.js'
import { problem, sendProblem } from '../../src/http/problem.js'

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.describeTag('health', 'Liveness and readiness probes.')
  app.get(
    '/health/live',
    {
      config: { public: true },
      schema: { tags: ['health'], summary: 'Liveness', operationId: 'getLiveness', response: { 200: HealthSchema } }
    },
    async () => ({ status: 'ok' })
  )

  app.get(
    '/health/ready',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: "Readiness: the issuer's signing keys are loaded and the database answers",
        operationId: 'getReadiness',
        response: {
          200: HealthSchema,
          503: problemResponse(
            "The issuer's signing keys are not loaded yet, or no longer fresh enough; or the database cannot be reached",
            ['ERR_NOT_READY', 'ERR_DATABASE_UNAVAILABLE'],
            { 'Retry-After': RetryAfterHeader }
          )
        }
      }
    },
    async (_request, reply) => {
      // several issuers: ready while one of them can verify tokens (another's outage refuses
      // only its own tokens; taking the pod out would refuse everyone's), and the answer says which is down
      const issuers = app.issuers.map(({ issuer, keyStore }) => ({ issuer: issuer.id, ready: keyStore.ready, keys: keyStore.keyCount }))
      if (!issuers.some((issuer) => issuer.ready)) return sendProblem(reply.header('retry-after', '5'), problem('ERR_NOT_READY'))
      if (!app.database.migrated || !(await app.database.ping()))
        return sendProblem(reply.header('retry-after', '5'), problem('ERR_DATABASE_UNAVAILABLE'))
      const keys = issuers.reduce((sum, issuer) => sum + (issuer.ready ? issuer.keys : 0), 0)
      return issuers.length === 1 ? { status: 'ready', keys } : { status: 'ready', keys, issuers }
    }
  )
}

export default healthRoutes
