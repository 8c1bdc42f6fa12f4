// The OpenAPI document: the committed openapi.yaml is what the code gives (drift check), it is
// what GET /openapi.json serves, it is OpenAPI 3.1 with stable names, and what it says about
// security, answers and headers follows from what each route declares (test/openapi/answers.test.ts
// checks it against what the running app does).
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyReply, type FastifyRequest, type LightMyRequestResponse, type RouteOptions } from 'fastify'
import { Type } from 'typebox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import swaggerPlugin from '../../plugins/swagger.js'
import { placeholderFlowUrls, type OpenApiDocument } from '../../src/openapi/document.js'
import { buildOpenApiDocument, checkOpenApi, EXAMPLE_ENV, OPENAPI_FILE, renderOpenApiYaml } from '../../scripts/openapi.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { exampleBody, exampleCodes, nameOf, operations, requiredScopes, resolve, type Json } from './document-helpers.js'

describe('the committed openapi.yaml', () => {
  let generated: string
  beforeAll(async () => {
    generated = renderOpenApiYaml(await buildOpenApiDocument())
  })

  it('is what `npm run openapi` gives now (run it and commit openapi.yaml when this fails)', async () => {
    const result = await checkOpenApi(OPENAPI_FILE, generated)
    expect(result.message).toMatch(/up to date/)
    expect(result.ok).toBe(true)
  })

  it('is generated deterministically', async () => {
    expect(renderOpenApiYaml(await buildOpenApiDocument())).toBe(generated)
  })

  it('fails the check, naming the first difference and the fix, when a route changed without regenerating', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openapi-check-'))
    try {
      const stale = join(dir, 'openapi.yaml')
      await writeFile(stale, generated.replace('summary: Create a message', 'summary: Create a note'))
      const result = await checkOpenApi(stale, generated)
      expect(result.ok).toBe(false)
      expect(result.message).toMatch(/out of date/)
      expect(result.message).toMatch(/committed: +summary: Create a note/)
      expect(result.message).toMatch(/generated: +summary: Create a message/)
      expect(result.message).toMatch(/npm run openapi/)

      const missing = await checkOpenApi(join(dir, 'absent.yaml'), generated)
      expect(missing).toMatchObject({ ok: false, message: expect.stringMatching(/missing/) })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('is served as GET /openapi.json by an app with the same configuration', async () => {
    const { buildApp } = await import('../../app.js')
    const { loadConfig } = await import('../../src/config.js')
    const app = await buildApp({ config: loadConfig({ ...EXAMPLE_ENV }), logger: false, fetchKeysOnReady: false })
    try {
      const res = await app.inject({ url: '/openapi.json' })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expect(res.json()).toEqual(parse(await readFile(OPENAPI_FILE, 'utf8')))
    } finally {
      await app.close()
    }
  })
})

/** Every `$id` in a schema tree. */
function schemaIds(schema: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const item of schema) schemaIds(item, found)
  else if (schema !== null && typeof schema === 'object') {
    for (const [key, value] of Object.entries(schema)) {
      if (key === '$id' && typeof value === 'string') found.add(value)
      else schemaIds(value, found)
    }
  }
  return found
}

/** A route's declared answers: status → the answer (a JSON schema or a response object). */
function declaredAnswers(route: RouteOptions): Record<string, Json> {
  return (route.schema?.response ?? {}) as Record<string, Json>
}

/** The headers a route declares for one answer: name → schema. */
function declaredHeaders(route: RouteOptions, status: string): Record<string, Json> {
  return (declaredAnswers(route)[status]?.headers ?? {}) as Record<string, Json>
}

/** The route's schemas of bodies and parameters, without the response headers (those are header components). */
function bodySchemas(route: RouteOptions): unknown[] {
  const { response: _response, ...inputs } = route.schema ?? {}
  const answers = Object.values(declaredAnswers(route)).map(({ headers: _headers, ...answer }) => answer)
  return [inputs, answers]
}

describe('the document', () => {
  let api: TestApi
  let document: OpenApiDocument
  /** The routes as declared, seen by a hook of the test's own: the expectations come from them, not from a list. */
  const declared: RouteOptions[] = []
  const documented = (): RouteOptions[] =>
    declared.filter((route) => route.method !== 'HEAD' && route.schema !== undefined && route.schema.hide !== true)
  const routeOf = (path: string, method: string): RouteOptions => {
    const route = documented().find(
      (candidate) => candidate.url.replace(/:(\w+)/g, '{$1}') === path && String(candidate.method).toLowerCase() === method
    )
    if (route === undefined) throw new Error(`no declared route for ${method} ${path}`)
    return route
  }
  beforeAll(async () => {
    api = await startTestApi({
      instrument: (app) => {
        app.addHook('onRoute', (route) => {
          declared.push(route)
        })
      }
    })
    document = (await api.app.inject({ url: '/openapi.json' })).json<OpenApiDocument>()
  })
  afterAll(async () => {
    await api.close()
  })

  it('is OpenAPI 3.1.0 with components named after the $id of schemas and headers, and every reference resolves', () => {
    expect(document.openapi).toBe('3.1.0')
    const ids = new Set(['Problem'])
    const headerIds = new Set<string>()
    for (const route of documented()) {
      schemaIds(bodySchemas(route), ids)
      for (const status of Object.keys(declaredAnswers(route))) schemaIds(Object.values(declaredHeaders(route, status)), headerIds)
    }
    expect(Object.keys(document.components.schemas)).toEqual([...ids].sort())
    expect(ids.size).toBeGreaterThanOrEqual(5)
    // the shared headers of the error answers, and any a route declares with an $id
    expect(Object.keys(document.components.headers)).toEqual([...new Set([...headerIds, 'Retry-After', 'WWW-Authenticate'])].sort())
    const text = JSON.stringify(document)
    expect(text).not.toMatch(/def-\d/)
    expect(text).not.toMatch(/"\$id"/)
    expect(text).not.toMatch(/"x-(?!usePkce)/)
    for (const ref of text.matchAll(/"\$ref":"#\/components\/(\w+)\/([^"]+)"/g)) {
      expect((document.components[ref[1] ?? ''] as Json | undefined)?.[ref[2] ?? ''], ref[0]).toBeDefined()
    }
    // every component is used
    for (const kind of ['schemas', 'headers', 'examples']) {
      for (const name of Object.keys(document.components[kind] as Json))
        expect(text, `${kind}/${name}`).toContain(`"#/components/${kind}/${name}"`)
    }
  })

  it('gives every operation a unique operationId, a summary and a tag, and leaves out /metrics and the viewer', () => {
    const all = operations(document)
    const operationIds = documented().map((route) => route.schema?.operationId as string)
    expect(operationIds.length).toBeGreaterThanOrEqual(8)
    expect(all.map(({ operation }) => operation.operationId).sort()).toEqual([...operationIds].sort())
    for (const { operation } of all) {
      expect(operation.summary, operation.operationId).toBeTruthy()
      expect(operation.tags?.length, operation.operationId).toBe(1)
    }
    expect(Object.keys(document.paths).filter((path) => /metrics|docs|openapi/.test(path))).toEqual([])
  })

  it('lists the tags the routes use, by name, each described where its routes are declared (app.describeTag)', () => {
    const used = [...new Set(documented().flatMap((route) => (route.schema?.tags ?? []) as string[]))].sort()
    expect(used.length).toBeGreaterThan(0)
    const tags = document.tags as Array<{ name: string; description: string }>
    expect(tags.map((tag) => tag.name)).toEqual(used)
    for (const tag of tags) expect(tag.description, tag.name).toMatch(/\S/)
  })

  it("declares bearerAuth (JWT) and an oauth2 authorization code flow with the API's scopes", () => {
    const { bearerAuth, oauth2 } = document.components.securitySchemes as Record<string, Json>
    expect(bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    expect(oauth2).toMatchObject({
      type: 'oauth2',
      flows: {
        authorizationCode: {
          // the test issuer's metadata
          authorizationUrl: `${api.issuer.url}/authorize`,
          tokenUrl: `${api.issuer.url}/token`,
          scopes: Object.fromEntries(
            [...new Set(declared.flatMap((route) => route.config?.scopes ?? []))].map((scope) => [scope, expect.any(String)])
          )
        }
      }
    })
  })

  it('documents every error answer as problem+json with the Problem schema, naming its codes with an example each', () => {
    expect(document.components.schemas.Problem).toMatchObject({ required: ['type', 'title', 'status', 'detail', 'code'] })
    let errors = 0
    for (const op of operations(document)) {
      for (const [status, response] of Object.entries(op.operation.responses)) {
        if (Number(status) < 400) continue
        errors += 1
        const where = `${nameOf(op)} ${status}`
        expect(Object.keys(response.content as Json), where).toEqual(['application/problem+json'])
        expect((response.content as Record<string, Json>)['application/problem+json']?.schema, where).toEqual({
          $ref: '#/components/schemas/Problem'
        })
        expect(response.description, where).toMatch(/`code`: /)
        const codes = exampleCodes(response)
        expect(codes.length, where).toBeGreaterThan(0)
        for (const code of codes) {
          const example = resolve(
            document,
            ((response.content as Record<string, { examples: Json }>)['application/problem+json']?.examples ?? {})[code]
          )
          expect(example.value, `${where} ${code}`).toEqual({
            type: expect.any(String),
            title: expect.any(String),
            status: Number(status),
            detail: expect.any(String),
            code
          })
        }
      }
    }
    expect(errors).toBeGreaterThanOrEqual(20)
  })

  it('gives each operation the errors its route declares or can produce: gate, inputs, body, path parameters, the drain', () => {
    for (const op of operations(document)) {
      const route = routeOf(op.path, op.method)
      const statuses = Object.keys(op.operation.responses).filter((status) => Number(status) >= 400)
      const scopes = requiredScopes(op.operation)
      const readsBody = !['GET', 'HEAD'].includes(String(route.method))
      const pathParameters = route.url.includes(':')
      const validated = ['params', 'querystring', 'headers', 'body'].some((input) => route.schema?.[input as 'body'] !== undefined)
      const expected = new Set([
        ...Object.keys(declaredAnswers(route)).filter((status) => Number(status) >= 400),
        '503',
        ...(scopes === undefined ? [] : ['400', '401']),
        ...(scopes !== undefined && scopes.length > 0 ? ['403'] : []),
        ...(validated || pathParameters || readsBody ? ['400'] : []),
        ...(pathParameters ? ['414'] : []),
        ...(readsBody ? ['413', '415'] : [])
      ])
      expect(statuses, nameOf(op)).toEqual([...expected].sort())
      // every operation can meet the drain, whatever else its 503 says
      expect(exampleCodes(op.operation.responses['503'] ?? {}), nameOf(op)).toContain('ERR_SHUTTING_DOWN')
      // a route's own error answer keeps the codes it declares
      for (const [status, answer] of Object.entries(declaredAnswers(route))) {
        if (Number(status) < 400) continue
        const ownCodes = Object.keys(
          (answer.content as Record<string, { examples?: Json }> | undefined)?.['application/problem+json']?.examples ?? {}
        )
        expect(ownCodes.length, `${nameOf(op)} declares the codes of its ${status}`).toBeGreaterThan(0)
        expect(exampleCodes(op.operation.responses[status] ?? {}), `${nameOf(op)} ${status}`).toEqual(expect.arrayContaining(ownCodes))
      }
    }
  })

  it('documents response headers only where the route declares them (Location on a 201 that sends one, and no other)', () => {
    let locations = 0
    for (const op of operations(document)) {
      const route = routeOf(op.path, op.method)
      for (const [status, response] of Object.entries(op.operation.responses)) {
        const documentedNames = Object.keys((response.headers ?? {}) as Json)
        const own = Object.keys(declaredHeaders(route, status))
        if (Number(status) < 400) {
          expect(documentedNames, `${nameOf(op)} ${status}`).toEqual(own)
        } else {
          // an error answer: the gate's challenge, Retry-After on a 503, and what the route declares
          expect(['WWW-Authenticate', 'Retry-After', ...own], `${nameOf(op)} ${status}`).toEqual(expect.arrayContaining(documentedNames))
        }
        if (documentedNames.includes('Location')) locations += 1
      }
    }
    // POST /api/messages declares it, and the test would say nothing if no route did
    expect(locations).toBe(
      documented().filter((route) => Object.keys(declaredAnswers(route)).some((status) => 'Location' in declaredHeaders(route, status)))
        .length
    )
    expect(locations).toBeGreaterThan(0)
  })

  it('says what the auth gate does: public operations answer without a token, protected ones need exactly the listed scopes', async () => {
    for (const { path, method, operation } of operations(document)) {
      const url = path.replace(/\{[^}]+\}/g, '0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e')
      // the operation's own example body (its request schema's examples), whatever its fields
      const body = exampleBody(document, operation)
      const send = (token?: string): Promise<LightMyRequestResponse> =>
        api.app.inject({
          method: method.toUpperCase() as 'GET',
          url,
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
          headers: {
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
          }
        })
      const scopes = requiredScopes(operation)
      const documented = (status: number): boolean => String(status) in operation.responses
      const name = `${method.toUpperCase()} ${path} (${operation.operationId})`

      const anonymous = await send()
      expect(documented(anonymous.statusCode), `${name}: ${anonymous.statusCode} is documented`).toBe(true)
      if (scopes === undefined) {
        expect(anonymous.statusCode, name).toBeLessThan(400)
        continue
      }
      expect(anonymous.statusCode, name).toBe(401)
      expect(anonymous.headers['www-authenticate'], name).toMatch(/^Bearer realm=/)

      const unscoped = await send(api.token({ scope: undefined }))
      expect(unscoped.statusCode, name).toBe(scopes.length === 0 ? 200 : 403)
      if (scopes.length > 0) expect(unscoped.headers['www-authenticate'], name).toContain(`scope="${scopes.join(' ')}"`)

      const scoped = await send(api.token({ scope: scopes.join(' ') }))
      expect(scoped.statusCode, name).toBeLessThan(500)
      expect([400, 401, 403], name).not.toContain(scoped.statusCode)
      expect(documented(scoped.statusCode), `${name}: ${scoped.statusCode} is documented`).toBe(true)
    }
  })

  it('leaves the answers as they were: /api/me has its five members, a 404 its problem members', async () => {
    const headers = { authorization: `Bearer ${api.token()}` }
    const me = await api.app.inject({ url: '/api/me', headers })
    expect(Object.keys(me.json()).sort()).toEqual(['clientId', 'expiresAt', 'issuer', 'scopes', 'sub'])
    const missing = await api.app.inject({ url: '/api/messages/nope', headers })
    expect(missing.statusCode).toBe(404)
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(missing.json()).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'No such message.',
      code: 'ERR_MESSAGE_NOT_FOUND'
    })
    const deleted = await api.app.inject({ method: 'DELETE', url: '/api/messages/nope', headers })
    expect(deleted.statusCode).toBe(404)
    const created = await api.app.inject({ method: 'POST', url: '/api/messages', headers, payload: { text: 'x' } })
    const gone = await api.app.inject({ method: 'DELETE', url: `/api/messages/${created.json<{ id: string }>().id}`, headers })
    expect(gone.statusCode).toBe(204)
    expect(gone.body).toBe('')
  })
})

describe('the swagger plugin', () => {
  async function appWith(
    register: (app: ReturnType<typeof Fastify>) => void,
    metadata?: () => Promise<Record<string, unknown> | undefined>,
    metadataTimeoutMs = 2000
  ): Promise<ReturnType<typeof Fastify>> {
    const app = Fastify()
    await app.register(swaggerPlugin, {
      issuer: 'https://issuer.example.org/tenant/',
      ...(metadata === undefined ? {} : { issuerMetadata: metadata as () => Promise<{ issuer: string } | undefined> }),
      metadataTimeoutMs
    })
    register(app)
    await app.ready()
    return app
  }

  it('derives security from config and names components after nested $ids', async () => {
    const Item = Type.Object({ n: Type.Integer() }, { $id: 'Item' })
    const Wrapper = Type.Object({ items: Type.Array(Item) }, { $id: 'Wrapper' })
    const app = await appWith((app) => {
      app.post(
        '/things',
        {
          config: { scopes: ['things:write', 'audit:write'] },
          schema: {
            operationId: 'makeThing',
            summary: 's',
            body: Wrapper,
            response: { 200: Type.Object({ n: Type.Integer() }, { $id: 'Item' }) }
          }
        },
        async () => ({ n: 1 })
      )
      app.get('/open', { config: { public: true }, schema: { operationId: 'open', summary: 's' } }, async () => 'ok')
    })
    const document = await app.openapiDocument()
    const make = document.paths['/things']?.post
    expect(make?.security).toEqual([{ bearerAuth: ['things:write', 'audit:write'] }, { oauth2: ['things:write', 'audit:write'] }])
    expect(make?.description).toBe('Requires an access token with the scopes `things:write` and `audit:write`.')
    expect(make?.requestBody).toEqual({
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Wrapper' } } }
    })
    expect(document.components.schemas.Wrapper).toMatchObject({ properties: { items: { items: { $ref: '#/components/schemas/Item' } } } })
    expect(document.components.schemas.Item).toEqual({ type: 'object', required: ['n'], properties: { n: { type: 'integer' } } })
    expect(make?.responses['200']).toEqual({
      description: 'OK',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } }
    })
    expect(document.paths['/open']?.get?.security).toEqual([])
    expect((document.components.securitySchemes.oauth2 as { flows: { authorizationCode: Json } }).flows.authorizationCode).toEqual({
      authorizationUrl: 'https://issuer.example.org/tenant/authorize',
      tokenUrl: 'https://issuer.example.org/tenant/token',
      scopes: { 'audit:write': 'Required by makeThing', 'things:write': 'Required by makeThing' }
    })
    await app.close()
  })

  it('documents a header only where the route declares it: a 201 without a declared Location has none', async () => {
    const Thing = Type.Object({ id: Type.String() }, { $id: 'Thing' })
    const app = await appWith((app) => {
      // a forker's new route: it creates something and sends no Location
      app.post(
        '/things',
        { config: { scopes: ['things:write'] }, schema: { operationId: 'makeThing', summary: 's', response: { 201: Thing } } },
        async (_request: FastifyRequest, reply: FastifyReply) => reply.code(201).send({ id: '1' })
      )
      app.post(
        '/located',
        {
          config: { scopes: ['things:write'] },
          schema: {
            operationId: 'makeLocated',
            summary: 's',
            response: {
              201: {
                description: 'Created',
                headers: { Location: Type.String({ description: 'Where it is' }) },
                content: { 'application/json': { schema: Thing } }
              }
            }
          }
        },
        async (_request: FastifyRequest, reply: FastifyReply) => reply.code(201).header('location', '/located/1').send({ id: '1' })
      )
    })
    const document = await app.openapiDocument()
    expect(document.paths['/things']?.post?.responses['201']).toEqual({
      description: 'Created',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } }
    })
    expect(JSON.stringify(document.paths['/things'])).not.toContain('Location')
    expect(document.paths['/located']?.post?.responses['201']).toEqual({
      description: 'Created',
      headers: { Location: { description: 'Where it is', required: true, schema: { type: 'string' } } },
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } }
    })
    expect(Object.keys(document.components.headers)).not.toContain('Location')
    // what the route declares is what it sends: Fastify serializes the body by the content's schema
    const res = await app.inject({ method: 'POST', url: '/located' })
    expect(res.statusCode).toBe(201)
    expect(res.headers.location).toBe('/located/1')
    expect(res.json()).toEqual({ id: '1' })
    await app.close()
  })

  it('refuses an error answer that is not a problem+json body with the Problem schema', async () => {
    const app = await appWith((app) => {
      app.get(
        '/odd',
        {
          config: { public: true },
          schema: { operationId: 'odd', summary: 's', response: { 404: Type.Object({ message: Type.String() }) } }
        },
        async () => ({})
      )
    })
    expect(() => app.swagger()).toThrow(/route GET \/odd: its 404 answer must be a problem\+json body with the Problem schema/)
    await app.close()
  })

  it('lists only the tags its operations use, with the descriptions their plugins give, and refuses a tag nobody describes', async () => {
    const described = await appWith((app) => {
      app.describeTag('things', 'Things of the caller.')
      app.describeTag('unused', 'No operation has this tag.')
      app.get(
        '/things',
        { config: { public: true }, schema: { tags: ['things'], operationId: 'listThings', summary: 's' } },
        async () => []
      )
      void app.register(async (child: ReturnType<typeof Fastify>) => {
        // a second plugin may describe the same tag, in the same words
        child.describeTag('things', 'Things of the caller.')
        child.get(
          '/things/count',
          { config: { public: true }, schema: { tags: ['things'], operationId: 'countThings', summary: 's' } },
          async () => 0
        )
      })
    })
    expect((await described.openapiDocument()).tags).toEqual([{ name: 'things', description: 'Things of the caller.' }])
    expect(() => described.describeTag('things', 'Other words.')).toThrow(/tag things is described twice, differently/)
    await described.close()

    const undescribed = await appWith((app) => {
      app.get('/notes', { config: { public: true }, schema: { tags: ['notes'], operationId: 'listNotes', summary: 's' } }, async () => [])
    })
    expect(() => undescribed.swagger()).toThrow(/the tag "notes" \(used by listNotes\) is not described: call app.describeTag\('notes'/)
    await undescribed.close()

    const untagged = await appWith((app) => {
      app.get('/plain', { config: { public: true }, schema: { operationId: 'plain', summary: 's' } }, async () => '')
    })
    expect((await untagged.openapiDocument()).tags).toBeUndefined()
    await untagged.close()
  })

  it('refuses two different schemas with one $id', async () => {
    const app = await appWith((app) => {
      app.get(
        '/a',
        {
          config: { public: true },
          schema: { operationId: 'a', summary: 's', response: { 200: Type.Object({ a: Type.String() }, { $id: 'Same' }) } }
        },
        async () => ({ a: '' })
      )
      app.get(
        '/b',
        {
          config: { public: true },
          schema: { operationId: 'b', summary: 's', response: { 200: Type.Object({ b: Type.String() }, { $id: 'Same' }) } }
        },
        async () => ({ b: '' })
      )
    })
    expect(() => app.swagger()).toThrow(/two different schemas have the \$id "Same"/)
    await app.close()
  })

  it('takes the oauth2 URLs from the issuer metadata, and keeps the placeholders while it is unknown', async () => {
    const metadata = {
      issuer: 'https://issuer.example.org/tenant/',
      authorization_endpoint: 'https://login.example.org/oauth2/authorize',
      token_endpoint: 'https://login.example.org/oauth2/token'
    }
    const flow = async (app: ReturnType<typeof Fastify>): Promise<Json> =>
      ((await app.openapiDocument()).components.securitySchemes.oauth2 as { flows: { authorizationCode: Json } }).flows.authorizationCode

    const known = await appWith(
      () => undefined,
      async () => metadata
    )
    expect(await flow(known)).toMatchObject({ authorizationUrl: metadata.authorization_endpoint, tokenUrl: metadata.token_endpoint })
    // the cached document keeps the placeholders: only the served copy changes
    expect(JSON.stringify(known.swagger())).toContain('https://issuer.example.org/tenant/authorize')
    await known.close()

    const failing = await appWith(
      () => undefined,
      async () => {
        throw new Error('issuer down')
      }
    )
    expect(await flow(failing)).toMatchObject(placeholderFlowUrls('https://issuer.example.org/tenant/'))
    await failing.close()

    const slow = await appWith(
      () => undefined,
      () => new Promise(() => undefined),
      20
    )
    expect(await flow(slow)).toMatchObject(placeholderFlowUrls('https://issuer.example.org/tenant/'))
    await slow.close()
  })
})
