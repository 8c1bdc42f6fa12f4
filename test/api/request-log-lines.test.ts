/**
 * Fastify's per-request log lines: written at LOG_LEVEL=info, and at a higher level not even
 * built (src/logger.ts RequestLogController), while the app's own warn lines still go out.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { RequestLogController } from '../../src/logger.js'
import { buildTestApp } from '../helpers/test-api.js'

type Entry = Record<string, unknown>

/** Every app a test opens, closed after it. */
const opened: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((app) => app.close()))
})

/** Two public test routes: one answers how many listeners the raw response has, one throws. */
function testRoutes(app: FastifyInstance): void {
  app.get('/test/listeners', { config: { public: true } }, async (_request, reply) => ({
    finish: reply.raw.listenerCount('finish'),
    error: reply.raw.listenerCount('error')
  }))
  app.get('/test/throws', { config: { public: true } }, async () => {
    throw new Error('boom in a handler')
  })
}

async function appLogging(level: string): Promise<{ app: Awaited<ReturnType<typeof buildTestApp>>; entries: () => Entry[] }> {
  const lines: string[] = []
  const app = await buildTestApp(
    { AUTH_ISSUER: 'http://127.0.0.1:9/', AUTH_AUDIENCE: 'https://api.example.test', LOG_LEVEL: level },
    { waitForKeys: false, logStream: { write: (line: string) => void lines.push(line) }, instrument: testRoutes }
  )
  opened.push(app)
  return { app, entries: () => lines.map((line) => JSON.parse(line) as Entry) }
}

describe('request log lines', () => {
  it('at info: "incoming request" and "request completed" for each request, under one request id', async () => {
    const { app, entries } = await appLogging('info')
    const before = entries().length
    const res = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'req-log-1' } })
    expect(res.statusCode).toBe(200)
    const mine = entries()
      .slice(before)
      .filter((entry) => entry.reqId === 'req-log-1')
    expect(mine.map((entry) => entry.msg)).toEqual(['incoming request', 'request completed'])
    expect(mine[0]?.req).toMatchObject({ method: 'GET', url: '/health/live' })
    expect(mine[1]?.res).toMatchObject({ statusCode: 200 })
    expect(typeof mine[1]?.responseTime).toBe('number')
  })

  it('at warn: no line for a request served or refused, and the app still logs its warnings', async () => {
    const { app, entries } = await appLogging('warn')
    const before = entries().length
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/api/me' })).statusCode).toBe(401)
    expect(entries().slice(before)).toEqual([])
    app.log.warn({ probe: 1 }, 'a warning')
    expect(entries().slice(before)).toMatchObject([{ level: 40, msg: 'a warning', probe: 1 }])
  })
})

describe('above info (Fastify given no logger of its own)', () => {
  async function listeners(app: FastifyInstance): Promise<{ finish: number; error: number }> {
    const res = await app.inject({ url: '/test/listeners' })
    expect(res.statusCode).toBe(200)
    return res.json()
  }

  it("no listener for the end of each response, where at info Fastify adds one (for 'request completed')", async () => {
    const bare = Fastify({ logger: false })
    opened.push(bare)
    testRoutes(bare)
    const baseline = await listeners(bare)

    const info = await appLogging('info')
    const atInfo = await listeners(info.app)
    const warn = await appLogging('warn')
    const atWarn = await listeners(warn.app)

    expect(atInfo).toEqual({ finish: baseline.finish + 1, error: baseline.error + 1 })
    expect(atWarn).toEqual(baseline)
  })

  it('an error is still logged with its request id, the error serialised as Fastify does', async () => {
    const { app, entries } = await appLogging('warn')
    const res = await app.inject({ url: '/test/throws', headers: { 'x-request-id': 'req-boom' } })
    expect(res.statusCode).toBe(500)
    const line = entries().find((entry) => entry.reqId === 'req-boom')
    expect(line).toMatchObject({ level: 50, msg: 'unhandled error', err: { type: 'Error', message: 'boom in a handler' } })
    expect(String((line?.err as { stack?: string }).stack)).toContain('boom in a handler')
    expect(JSON.stringify(res.json())).not.toContain('boom')
  })
})

describe('RequestLogController', () => {
  /** A request and reply whose logger answers isLevelEnabled with `enabled`, counting what the controller touches. */
  function fakes(enabled: boolean): { request: FastifyRequest; reply: FastifyReply; calls: string[] } {
    const calls: string[] = []
    const log = {
      isLevelEnabled: (level: string) => level !== 'info' || enabled,
      info: () => void calls.push('info'),
      error: () => void calls.push('error')
    }
    const request = { log } as unknown as FastifyRequest
    const reply = {
      log,
      get elapsedTime() {
        calls.push('elapsedTime')
        return 1
      }
    } as unknown as FastifyReply
    return { request, reply, calls }
  }

  it('builds no line, and reads no response time, when the logger drops info', () => {
    const controller = new RequestLogController()
    const { request, reply, calls } = fakes(false)
    controller.incomingRequest(request, reply)
    controller.requestCompleted(null, request, reply)
    expect(calls).toEqual([])
  })

  it('hands the lines to Fastify when info is logged, and an errored request at any level', () => {
    const controller = new RequestLogController()
    const on = fakes(true)
    controller.incomingRequest(on.request, on.reply)
    controller.requestCompleted(null, on.request, on.reply)
    expect(on.calls).toEqual(['info', 'elapsedTime', 'info'])
    const off = fakes(false)
    controller.requestCompleted(new Error('socket hang up'), off.request, off.reply)
    expect(off.calls).toEqual(['elapsedTime', 'error'])
  })
})
