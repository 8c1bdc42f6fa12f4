/**
 * http_requests_total and http_request_duration_seconds count each request once, when its reply
 * is sent (plugins/metrics.ts: onRequest + onSend, no onResponse hook): served, refused by the
 * gate in onRequest, unmatched, HEAD, and a handler's error. A route is counted by an onSend hook
 * of its own (added when it is declared), after any onSend hooks the route declares itself.
 */
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp } from '../helpers/test-api.js'
import { sample } from '../helpers/prometheus.js'

describe('request metrics', () => {
  let app: FastifyInstance
  beforeAll(async () => {
    app = await buildTestApp(
      { AUTH_ISSUER: 'http://127.0.0.1:9/', AUTH_AUDIENCE: 'https://api.example.test' },
      {
        waitForKeys: false,
        instrument: (a) => {
          a.get('/test/slow', { config: { public: true } }, async () => {
            await new Promise((resolve) => setTimeout(resolve, 30))
            return { ok: true }
          })
          a.get('/test/throws', { config: { public: true } }, async () => {
            throw new Error('boom')
          })
          // a route with an onSend hook of its own (a function, not a list) and two methods
          a.route({
            method: ['GET', 'DELETE'],
            url: '/test/own-hook',
            config: { public: true },
            onSend: (_request, reply, payload, done) => {
              reply.header('x-own-hook', 'ran')
              done(null, payload)
            },
            handler: async () => ({ ok: true })
          })
        }
      }
    )
  })
  afterAll(async () => {
    await app.close()
  })

  it('counts each request once with its route and status, and times it', async () => {
    // GET and HEAD of one route interleaved (its hook serves both), and one route with two statuses
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200)
    expect((await app.inject({ method: 'HEAD', url: '/health/live' })).statusCode).toBe(200)
    for (let i = 0; i < 2; i++) expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/api/me' })).statusCode).toBe(401)
    expect((await app.inject({ url: '/api/me?access_token=a.b.c', headers: { authorization: 'Bearer a.b.c' } })).statusCode).toBe(400)
    expect((await app.inject({ url: '/no/such/route' })).statusCode).toBe(404)
    expect((await app.inject({ url: '/test/throws' })).statusCode).toBe(500)
    expect((await app.inject({ url: '/test/slow' })).statusCode).toBe(200)
    const own = await app.inject({ url: '/test/own-hook' })
    expect(own.statusCode).toBe(200)
    expect(own.headers['x-own-hook']).toBe('ran')
    expect((await app.inject({ method: 'DELETE', url: '/test/own-hook' })).headers['x-own-hook']).toBe('ran')
    expect((await app.inject({ method: 'DELETE', url: '/test/own-hook' })).statusCode).toBe(200)

    const text = (await app.inject({ url: '/metrics' })).body
    const requests = (route: string, status: string, method = 'GET'): number =>
      sample(text, 'http_requests_total', { method, route, status })
    expect(requests('/health/live', '200')).toBe(3)
    expect(requests('/health/live', '200', 'HEAD')).toBe(1)
    expect(requests('/api/me', '401')).toBe(1)
    expect(requests('/api/me', '400')).toBe(1)
    expect(requests('unmatched', '404')).toBe(1)
    expect(requests('/test/throws', '500')).toBe(1)
    expect(requests('/test/own-hook', '200')).toBe(1)
    expect(requests('/test/own-hook', '200', 'DELETE')).toBe(2)
    // each request once: the sum over every series is the number of requests made above
    const total = [...text.matchAll(/^http_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, [, n]) => sum + Number(n), 0)
    expect(total).toBe(12)
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/health/live' })).toBe(3)
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/api/me' })).toBe(2)
    // the slow route's 30 ms are in its latency: nothing under 25 ms, all of it by 50 ms
    expect(sample(text, 'http_request_duration_seconds_bucket', { route: '/test/slow', le: '0.025' })).toBe(0)
    expect(sample(text, 'http_request_duration_seconds_bucket', { route: '/test/slow', le: '0.05' })).toBe(1)
    expect(sample(text, 'http_request_duration_seconds_sum', { route: '/test/slow' })).toBeGreaterThanOrEqual(0.029)
  })
})
