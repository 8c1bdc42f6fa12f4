/**
 * GET /api/me: what the access token says about its caller.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AccessTokenIdentity } from '../../../src/token/identity.js'
import { MeSchema, type MeBody } from './schemas.js'

/** ISO 8601 of a NumericDate; null when there is none or it is no printable date (never throws). */
function isoDate(seconds: number | undefined): string | null {
  if (seconds === undefined) return null
  const date = new Date(seconds * 1000)
  const year = date.getUTCFullYear()
  // NaN for an invalid date; toISOString throws on those and writes ±YYYYYY outside 0..9999
  return year >= 0 && year <= 9999 ? date.toISOString() : null
}

/** The body of GET /api/me: total over any identity the verifier produces. */
export function describeCaller(caller: AccessTokenIdentity): MeBody {
  return {
    sub: caller.sub ?? null,
    clientId: caller.clientId ?? null,
    scopes: [...caller.scopes],
    issuer: caller.issuer,
    expiresAt: isoDate(caller.expiresAt)
  }
}

const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.describeTag('me', 'What the access token says about its caller.')
  // A cached token comes back as the same frozen identity: its reply, serialized with the
  // route's own response schema, is built once per identity rather than once per request.
  const replies = new WeakMap<AccessTokenIdentity, string>()

  app.get(
    '/api/me',
    {
      config: { scopes: [] },
      schema: {
        tags: ['me'],
        summary: 'The caller, as the access token describes it',
        operationId: 'getMe',
        response: { 200: MeSchema }
      }
    },
    (request, reply) => {
      const caller = request.auth
      let json = replies.get(caller)
      if (json === undefined) {
        json = reply.serializeInput(describeCaller(caller), '200') as string
        replies.set(caller, json)
      }
      // a string with a JSON content type is sent as it is (already serialized above)
      reply.type('application/json; charset=utf-8').send(json as unknown as MeBody)
    }
  )
}

export default meRoutes
