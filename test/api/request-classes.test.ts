/**
 * Every route of the app's route files is served with the same Request and Reply classes.
 * Fastify gives each encapsulated plugin classes of its own, so route files registered as
 * encapsulated plugins would hand the code every request runs (Fastify's, Node's, the gate's
 * and the metrics' hooks) one object shape per file, and V8 would run it on megamorphic inline
 * caches: 12–14 % more event-loop CPU per request, measured (docs/decisions/0007).
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

/** Swagger UI's routes come from its own plugin, outside routes/, and are not on any hot path. */
const OUTSIDE_ROUTE_FILES = /^\/docs(\/|$)/

describe('request and reply classes', () => {
  let api: TestApi
  const routes: Array<{ method: string; url: string }> = []
  const requestClasses = new Map<object, string[]>()
  const replyClasses = new Map<object, string[]>()
  const record = (classes: Map<object, string[]>, of: object, route: string): void => {
    const prototype = Object.getPrototypeOf(of) as object
    classes.set(prototype, [...(classes.get(prototype) ?? []), route])
  }

  beforeAll(async () => {
    api = await startTestApi({
      instrument: (app) => {
        app.addHook('onRoute', (route: RouteOptions) => {
          const methods = Array.isArray(route.method) ? route.method : [route.method]
          for (const method of methods) if (!OUTSIDE_ROUTE_FILES.test(route.url)) routes.push({ method, url: route.url })
        })
        // onResponse runs for every answer, a refusal by the gate included
        app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
          const route = `${request.method} ${request.routeOptions.url ?? '(unmatched)'}`
          record(requestClasses, request, route)
          record(replyClasses, reply, route)
        })
      }
    })
  })
  afterAll(async () => {
    await api.close()
  })

  it('are one class each across every route of the route files', async () => {
    const token = api.token({ sub: 'alice', scope: 'read:messages write:messages' })
    expect(routes.map(({ url }) => url)).toEqual(expect.arrayContaining(['/api/me', '/api/messages', '/health/live']))
    for (const { method, url } of routes) {
      const res = await api.app.inject({
        method: method as 'GET',
        url: url.replace(/:[A-Za-z]+/g, '00000000-0000-0000-0000-000000000000'),
        headers: { authorization: `Bearer ${token}` },
        ...(method === 'POST' ? { payload: { text: 'hello' } } : {})
      })
      expect(res.statusCode, `${method} ${url}`).toBeLessThan(500)
    }
    const answered = [...requestClasses.values()].flat()
    expect(answered).toHaveLength(routes.length)
    expect([...requestClasses.values()]).toEqual([answered])
    expect([...replyClasses.values()]).toEqual([answered])
  })
})
