// The document builder (src/openapi/) on plain objects, without Fastify: which answers a route
// gets from what it declares, how headers are written, how a status with several reasons reads,
// and that the finished document does not depend on the order routes load in.
import { Type } from 'typebox'
import { PROBLEM_CODES } from '../../src/http/problem.js'
import { describe, expect, it } from 'vitest'
import type { Components } from '../../src/openapi/components.js'
import { finishDocument, type OpenApiDocument } from '../../src/openapi/document.js'
import { RetryAfterHeader } from '../../src/openapi/headers.js'
import { sharedReasons } from '../../src/openapi/error-responses.js'
import { describeOperation, responsesOf, RESPONSES_KEY, type RouteDeclaration } from '../../src/openapi/operation.js'
import { problemResponse, type ExampleCode } from '../../src/openapi/problems.js'
import { exampleCodes, type Json } from './document-helpers.js'

const Thing = Type.Object({ id: Type.String() }, { $id: 'Thing' })

function route(overrides: Partial<RouteDeclaration>): RouteDeclaration {
  return { method: 'GET', url: '/things', public: false, scopes: ['things:read'], schema: { response: { 200: Thing } }, ...overrides }
}

function emptyComponents(): Components {
  return { schemas: {}, headers: {}, examples: {} }
}

function answers(declaration: RouteDeclaration, components = emptyComponents()): Record<string, Json> {
  return responsesOf(declaration, components)
}

describe('the answers an operation documents', () => {
  it("a public GET without inputs: its answer, and the drain's 503 only", () => {
    const responses = answers(route({ public: true, scopes: [] }))
    expect(Object.keys(responses).sort()).toEqual(['200', '503'])
    expect(exampleCodes(responses['503'] ?? {})).toEqual(['ERR_SHUTTING_DOWN'])
    expect(responses['503']?.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/Retry-After' } })
  })

  it("a protected GET: the gate's 400, 401, 403 and 503; no 403 when it requires no scope", () => {
    expect(Object.keys(answers(route({}))).sort()).toEqual(['200', '400', '401', '403', '503'])
    expect(Object.keys(answers(route({ scopes: [] }))).sort()).toEqual(['200', '400', '401', '503'])
    const responses = answers(route({}))
    expect(exampleCodes(responses['400'] ?? {})).toEqual(['ERR_TOKEN_IN_QUERY'])
    expect(exampleCodes(responses['503'] ?? {})).toEqual(['ERR_KEYS_UNAVAILABLE', 'ERR_INTROSPECTION_UNAVAILABLE', 'ERR_SHUTTING_DOWN'])
    for (const status of ['401', '403']) {
      expect(responses[status]?.headers, status).toEqual({ 'WWW-Authenticate': { $ref: '#/components/headers/WWW-Authenticate' } })
    }
  })

  it('a method with a body: malformed body, 413 and 415, and validation only for a schema it has', () => {
    const unvalidated = answers(route({ method: 'DELETE', public: true, scopes: [] }))
    expect(Object.keys(unvalidated).sort()).toEqual(['200', '400', '413', '415', '503'])
    expect(exampleCodes(unvalidated['400'] ?? {})).toEqual(['ERR_MALFORMED_BODY'])

    const validated = answers(route({ method: 'POST', public: true, scopes: [], schema: { body: Thing, response: { 200: Thing } } }))
    expect(exampleCodes(validated['400'] ?? {})).toEqual(['ERR_VALIDATION', 'ERR_MALFORMED_BODY'])
    expect(validated['400']?.description).toContain("The body does not match the operation's schema")
  })

  it('path parameters: validation, a path that does not decode, and 414', () => {
    const responses = answers(
      route({
        url: '/things/:id',
        public: true,
        scopes: [],
        schema: { params: Type.Object({ id: Type.String() }), response: { 200: Thing } }
      })
    )
    expect(Object.keys(responses).sort()).toEqual(['200', '400', '414', '503'])
    expect(exampleCodes(responses['400'] ?? {})).toEqual(['ERR_VALIDATION', 'ERR_BAD_REQUEST'])
    expect(responses['400']?.description).toContain('The path parameters do not match')
  })

  it('a header is required when every reason of the status sends it, and written out (not referenced) when only some do', () => {
    const alone = answers(route({ scopes: [] }))['400']
    expect(alone?.headers).toEqual({ 'WWW-Authenticate': { $ref: '#/components/headers/WWW-Authenticate' } })
    const mixed = answers(route({ method: 'POST', schema: { body: Thing, response: { 200: Thing } } }))['400']
    expect(mixed?.headers).toEqual({
      'WWW-Authenticate': expect.objectContaining({ required: false, schema: expect.objectContaining({ type: 'string' }) })
    })
    expect(String(mixed?.description)).toMatch(/^Bad Request, for one of these reasons:\n\n- The credentials are malformed/)
  })

  it('names only codes of the catalogue, each with the status of the answer that names it', () => {
    const everything = sharedReasons({ public: false, scopes: ['s'], validated: ['body'], pathParameters: true, readsBody: true })
    const catalogue = new Map(PROBLEM_CODES.map(({ code, status }) => [String(code), status]))
    for (const reason of everything) {
      for (const code of [...reason.codes, ...reason.examples]) expect(catalogue.get(code), `${reason.status} ${code}`).toBe(reason.status)
    }
    // the gate's refusals of a token all are there
    const unauthorized = everything.filter((reason) => reason.status === '401').flatMap((reason) => reason.codes)
    expect(unauthorized.sort()).toEqual(
      [...catalogue]
        .filter(([, status]) => status === '401')
        .map(([code]) => code)
        .sort()
    )
  })
})

describe('headers and declared answers', () => {
  it('a 201 has no header unless the route declares it; a declared one is required, shared when its schema has an $id', () => {
    const components = emptyComponents()
    expect(answers(route({ method: 'POST', schema: { response: { 201: Thing } } }), components)['201']).toEqual({
      description: 'Created',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } }
    })

    const declared = answers(
      route({
        method: 'POST',
        schema: {
          response: {
            201: {
              description: 'Made',
              headers: { Location: Type.String({ description: 'Where' }), 'Retry-After': RetryAfterHeader },
              content: { 'application/json': { schema: Thing } }
            }
          }
        }
      }),
      components
    )['201']
    expect(declared?.headers).toEqual({
      Location: { description: 'Where', required: true, schema: { type: 'string' } },
      'Retry-After': { $ref: '#/components/headers/Retry-After' }
    })
    expect(components.headers['Retry-After']).toEqual({
      description: 'Seconds to wait before retrying.',
      required: true,
      schema: { type: 'integer', minimum: 0, examples: [5] }
    })
    expect(components.headers).not.toHaveProperty('Location')
  })

  it('a 204 declared by its description has no content', () => {
    expect(answers(route({ method: 'DELETE', schema: { response: { 204: { description: 'Gone' } } } }))['204']).toEqual({
      description: 'Gone'
    })
    expect(answers(route({ method: 'DELETE', schema: { response: { 204: Type.Null({ description: 'Gone' }) } } }))['204']).toEqual({
      description: 'Gone'
    })
  })

  it("a route's own error answer joins the shared reasons of its status, its headers included", () => {
    const components = emptyComponents()
    const ready = answers(
      route({
        public: true,
        scopes: [],
        schema: { response: { 200: Thing, 503: problemResponse('Not ready yet', ['ERR_NOT_READY'], { 'Retry-After': RetryAfterHeader }) } }
      }),
      components
    )['503']
    expect(exampleCodes(ready ?? {})).toEqual(['ERR_NOT_READY', 'ERR_SHUTTING_DOWN'])
    expect(ready?.headers).toEqual({ 'Retry-After': { $ref: '#/components/headers/Retry-After' } })
    expect(String(ready?.description)).toContain('- Not ready yet. `code`: `ERR_NOT_READY`.')
    expect(components.examples.ERR_NOT_READY).toMatchObject({ value: { status: 503, code: 'ERR_NOT_READY' } })
    expect(components.schemas).toHaveProperty('Problem')
  })

  it('refuses a code without an example, and an error answer that is not a Problem', () => {
    const unknown = problemResponse('Odd', ['ERR_NOPE' as ExampleCode])
    expect(() => answers(route({ schema: { response: { 409: unknown } } }))).toThrow(/no example body for the code ERR_NOPE/)
    expect(() =>
      answers(route({ schema: { response: { 409: { description: 'x', content: { 'application/json': { schema: Thing } } } } } }))
    ).toThrow(/its 409 answer must be a problem\+json body with the Problem schema/)
  })

  it('security from config: none for a public route, the scopes under both schemes otherwise', () => {
    expect(describeOperation(route({ public: true, scopes: [] }), emptyComponents()).security).toEqual([])
    const operation = describeOperation(
      route({ scopes: ['a', 'b'], schema: { description: 'Does things.', response: { 200: Thing } } }),
      emptyComponents()
    )
    expect(operation.security).toEqual([{ bearerAuth: ['a', 'b'] }, { oauth2: ['a', 'b'] }])
    expect(operation.description).toBe('Does things.\n\nRequires an access token with the scopes `a` and `b`.')
    expect(describeOperation(route({ schema: undefined }), emptyComponents())).toEqual({ hide: true })
  })
})

describe('the finished document', () => {
  function raw(paths: Array<[string, RouteDeclaration]>): OpenApiDocument {
    const components = emptyComponents()
    const document = {
      openapi: '3.1.0',
      info: {},
      paths: {} as OpenApiDocument['paths'],
      components: { ...components, securitySchemes: { oauth2: { flows: { authorizationCode: { scopes: {} } } } } }
    } as OpenApiDocument
    for (const [path, declaration] of paths) {
      const { operationId: _id, ...described } = describeOperation(declaration, document.components)
      document.paths[path] = {
        ...document.paths[path],
        [String(declaration.method).toLowerCase()]: { operationId: path, ...described, responses: {} } as never
      }
    }
    return document
  }

  it('is the same whatever order the routes come in, and keeps no internal key', () => {
    const a = route({ url: '/a', schema: { response: { 200: Thing, 404: problemResponse('No a', ['ERR_MESSAGE_NOT_FOUND']) } } })
    const b = route({ url: '/b', method: 'POST', scopes: ['b:write'], schema: { body: Thing, response: { 201: Thing } } })
    const one = finishDocument(
      raw([
        ['/a', a],
        ['/b', b]
      ]),
      () => undefined
    )
    const other = finishDocument(
      raw([
        ['/b', b],
        ['/a', a]
      ]),
      () => undefined
    )
    expect(JSON.stringify(one)).toBe(JSON.stringify(other))
    expect(Object.keys(one.paths['/a']?.get?.responses ?? {})).toEqual(['200', '400', '401', '403', '404', '503'])
    expect(JSON.stringify(one)).not.toContain(RESPONSES_KEY)
    expect((one.components.securitySchemes.oauth2 as { flows: { authorizationCode: Json } }).flows.authorizationCode.scopes).toEqual({
      'b:write': 'Required by /b',
      'things:read': 'Required by /a'
    })
  })
})
