/**
 * One rule decides whether a route is public (plugins/auth.ts `settleRoute`): its config says
 * `public: true` and declares no scopes; everything else is protected (default deny), and a
 * contradictory or malformed declaration stops start-up. The same rule settles the route table
 * at ready and leaves the gate out of a public route's onRequest hooks, so the two agree on
 * every route: checked here over a table of declarations, including one a later onRoute hook
 * makes public and one it strips the gate from.
 */
import type { FastifyInstance, RouteOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { settleRoute } from '../../plugins/auth.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'

describe('settleRoute: the rule', () => {
  const protectedRoute = (scopes: readonly string[]): unknown => ({ public: false, scopes })

  it.each([
    ['no config', undefined, protectedRoute([])],
    ['an empty config', {}, protectedRoute([])],
    ['public: true', { public: true }, { public: true, scopes: [] }],
    ['public: true, scopes: []', { public: true, scopes: [] }, { public: true, scopes: [] }],
    ['scopes only', { scopes: ['read:messages', 'write:messages'] }, protectedRoute(['read:messages', 'write:messages'])],
    ['scopes: []', { scopes: [] }, protectedRoute([])],
    ['public: false', { public: false }, protectedRoute([])],
    ['public: "yes" (not true)', { public: 'yes' }, protectedRoute([])]
  ])('%s', (_name, config, expected) => {
    const settled = settleRoute('GET', '/x', config as RouteOptions['config'])
    expect(settled).toEqual(expected)
    if (!('error' in settled)) expect(Object.isFrozen(settled.scopes)).toBe(true)
  })

  it.each([
    [{ public: true, scopes: ['read:messages'] }, 'route GET /x is declared both public and with scopes'],
    [{ scopes: 'read:messages' }, 'route GET /x: config.scopes must be a list of scope names'],
    [{ scopes: ['read messages'] }, 'route GET /x: config.scopes must be a list of scope names'],
    [{ scopes: [''] }, 'route GET /x: config.scopes must be a list of scope names'],
    [{ scopes: [7] }, 'route GET /x: config.scopes must be a list of scope names'],
    [{ public: true, scopes: ['read messages'] }, 'route GET /x: config.scopes must be a list of scope names']
  ])('refuses %j', (config, error) => {
    expect(settleRoute('GET', '/x', config as unknown as RouteOptions['config'])).toEqual({ error })
  })
})

describe('the route table and the gate in each route’s hooks agree', () => {
  let api: TestApi
  /** Each test route's options object, as the gate's onRoute hook left it (its onRequest list is read through it). */
  const seen = new Map<string, RouteOptions>()
  let reached = 0

  const declare = (app: FastifyInstance): void => {
    const ok = async (): Promise<{ ok: true }> => {
      reached++
      return { ok: true }
    }
    // runs after the gate's onRoute hook, for the routes declared below: a plugin that marks a
    // route public, or throws its hooks away
    app.addHook('onRoute', (route) => {
      if (route.url === '/test/made-public-later') route.config = { ...route.config, public: true }
      if (route.url === '/test/stripped-later') route.onRequest = []
      if (route.url.startsWith('/test/')) seen.set(`${String(route.method)} ${route.url}`, route)
    })
    app.get('/test/public', { config: { public: true } }, ok)
    app.get('/test/public-no-scopes', { config: { public: true, scopes: [] } }, ok)
    app.get('/test/scoped', { config: { scopes: ['read:messages'] } }, ok)
    app.get('/test/undeclared', ok)
    app.get('/test/made-public-later', ok)
    app.get('/test/stripped-later', { config: { scopes: [] } }, ok)
  }

  beforeAll(async () => {
    api = await startTestApi({ instrument: declare })
  })
  afterAll(async () => {
    await api.close()
  })

  it('public exactly where the rule says, with the gate first on every other route and absent from public ones', async () => {
    const table = api.app.routeTable.filter((route) => route.url.startsWith('/test/') && route.method === 'GET')
    expect(Object.fromEntries(table.map((route) => [route.url, route.public]))).toEqual({
      '/test/public': true,
      '/test/public-no-scopes': true,
      '/test/scoped': false,
      '/test/undeclared': false,
      '/test/made-public-later': true,
      '/test/stripped-later': false
    })
    for (const route of table) {
      const options = seen.get(`GET ${route.url}`)
      expect(options, route.url).toBeDefined()
      const hooks = (options?.onRequest ?? []) as Array<{ name: string }>
      const names = hooks.map((hook) => hook.name)
      if (route.public) expect(names, route.url).not.toContain('gate')
      else expect(names[0], route.url).toBe('gate')
      const settled = settleRoute('GET', route.url, options?.config)
      expect(settled, route.url).toEqual({ public: route.public, scopes: route.scopes })
    }
  })

  it('without a token: a public route answers, every other route is refused before its handler', async () => {
    for (const url of ['/test/public', '/test/public-no-scopes', '/test/made-public-later']) {
      expect((await api.app.inject({ url })).statusCode, url).toBe(200)
    }
    expect(reached).toBe(3)
    for (const url of ['/test/scoped', '/test/undeclared', '/test/stripped-later']) {
      expect((await api.app.inject({ url })).statusCode, url).toBe(401)
    }
    expect(reached).toBe(3)
    const token = api.token({ scope: 'read:messages' })
    expect((await api.app.inject({ url: '/test/scoped', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200)
    expect(reached).toBe(4)
  })

  it('a malformed scope list stops start-up, naming the route', async () => {
    await expect(
      startTestApi({
        instrument: (app) => {
          app.get('/api/spaced', { config: { scopes: ['read messages'] } }, async () => ({}))
        }
      })
    ).rejects.toThrow('route GET /api/spaced: config.scopes must be a list of scope names')
  })
})
