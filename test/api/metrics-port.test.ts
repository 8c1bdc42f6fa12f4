/**
 * METRICS_PORT: /metrics on a port of its own (so that the API's port need not expose it),
 * over real sockets; the API's port then has no /metrics.
 */
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../scripts/free-port.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

describe('METRICS_PORT', () => {
  let api: TestApi
  let apiUrl: string
  let metricsUrl: string
  beforeAll(async () => {
    const port = await freePort()
    api = await startTestApi({ env: { METRICS_PORT: String(port) } })
    await api.app.listen({ port: 0, host: '127.0.0.1' })
    apiUrl = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}`
    metricsUrl = `http://127.0.0.1:${port}`
  })
  afterAll(async () => {
    await api.close()
  })

  it("serves the metrics on their own port, counting the API's requests", async () => {
    expect((await fetch(`${apiUrl}/api/me`)).status).toBe(401)
    const res = await fetch(`${metricsUrl}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toMatch(/http_requests_total\{method="GET",route="\/api\/me",status="401"\} 1/)
    expect((await fetch(`${metricsUrl}/api/me`)).status).toBe(404)
  })

  it("the API's own port has no /metrics then, and it is not in the route table", async () => {
    const res = await fetch(`${apiUrl}/metrics`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { code: string }).code).toBe('ERR_ROUTE_NOT_FOUND')
    expect(api.app.routeTable.some((route) => route.url === '/metrics')).toBe(false)
  })

  it('closes with the app', async () => {
    const other = await startTestApi({ env: { METRICS_PORT: String(await freePort()) } })
    const server = other.app.metricsServer?.()
    expect(server?.listening).toBe(true)
    await other.close()
    expect(server?.listening).toBe(false)
  })

  it('a metrics port already in use stops start-up', async () => {
    await expect(startTestApi({ env: { METRICS_PORT: metricsUrl.split(':').pop() ?? '' } })).rejects.toThrow(/EADDRINUSE/)
  })
})

describe('scope declarations', () => {
  it('a scope described twice, differently, stops start-up; the same description twice is fine', async () => {
    await expect(
      startTestApi({
        instrument: (app) => {
          app.describeScopes({ 'read:messages': 'Something else entirely' })
        }
      })
    ).rejects.toThrow('scope read:messages is described twice, differently')
    const api = await startTestApi({
      instrument: (app) => {
        app.describeScopes({ 'read:messages': "Read the caller's messages" })
      }
    })
    expect(api.app.scopes().find((scope) => scope.name === 'read:messages')).toEqual({
      name: 'read:messages',
      description: "Read the caller's messages",
      requiredBy: ['GET /api/messages', 'GET /api/messages/:id']
    })
    await api.close()
  })
})
