/**
 * GET /api/me: what the access token says about its caller.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { callerOf } from '../plugins/auth.js'
import { MeSchema } from '../src/schemas/me.js'

const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/me', {
    config: { scopes: [] },
    schema: {
      tags: ['me'],
      summary: 'The caller, as the access token describes it',
      operationId: 'getMe',
      response: { 200: MeSchema }
    }
  }, async (request) => {
    const caller = callerOf(request)
    return {
      sub: caller.sub ?? null,
      clientId: caller.clientId ?? null,
      scopes: [...caller.scopes],
      issuer: caller.issuer,
      expiresAt: caller.expiresAt === undefined ? null : new Date(caller.expiresAt * 1000).toISOString()
    }
  })
}

export default meRoutes
