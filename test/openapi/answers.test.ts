// The document says only what the API does, and all of it. Every operation the document lists
// gets the same battery of requests — ordinary, unauthenticated, with a bad token, bad inputs,
// bad bodies, at a limit, while the issuer is down, while the server drains — built from what
// the document says of it (its path, its body schema, its scopes), never from a list of routes.
// Then: every answer is documented (status, a code the response names, the headers it says are
// always sent), and every documented status of every operation was given by some request.
import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import type { InjectOptions } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { PROBLEM_CODES } from '../../src/http/problem.js'
import type { OpenApiDocument } from '../../src/openapi/document.js'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import {
  exampleBody,
  nameOf,
  namedCodes,
  operations,
  requiredHeaders,
  requiredScopes,
  resolve,
  type DocumentedOperation,
  type Json
} from './document-helpers.js'

const UNKNOWN_ID = '0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e'
/** Over Fastify's body limit (1 MiB). */
const OVERSIZED = 1_100_000
/** Over Fastify's path parameter limit (100). */
const OVERLONG = 200

interface Answer {
  operation: DocumentedOperation
  provocation: string
  status: number
  headers: Record<string, unknown>
  body: string
}

/** What a provocation changes in the ordinary request to an operation. */
interface Twist {
  /** The token to send, undefined for none (default: one with the operation's scopes, for a caller of its own). */
  token?: string | undefined
  /** The value of every path parameter (default: an id nobody has). */
  pathValue?: string
  query?: string
  /** A body of this content type (default: the operation's own example body, as JSON). */
  body?: { type: string; payload: string }
}

interface Provocation {
  name: string
  /** undefined: nothing to provoke for this operation (it has no path parameter to lengthen). */
  twist: (api: TestApi, operation: DocumentedOperation) => Twist | undefined
}

const hasPathParameters = ({ path }: DocumentedOperation): boolean => path.includes('{')

/** The path an operation's first path parameter hangs off: `/api/messages` for `/api/messages/{id}`. */
const collectionOf = ({ path }: DocumentedOperation): string => path.slice(0, path.indexOf('/{'))

/**
 * How often the ordinary request is repeated, from one caller, to meet a documented 409: the
 * app's real limits (1000 messages per caller, and whatever a new resource's store allows) are
 * reached by asking, not by configuring a store the test knows. A 409 that this many identical
 * requests do not provoke is a 409 no request in this battery can show; the test then fails.
 */
const MAX_REPEATS = 5000

const PROVOCATIONS: Provocation[] = [
  { name: 'an ordinary request', twist: () => ({}) },
  { name: 'no token', twist: () => ({ token: undefined }) },
  { name: 'a token in the query string', twist: (api) => ({ token: undefined, query: `access_token=${api.token()}` }) },
  { name: 'an expired token', twist: (api) => ({ token: api.token({ exp: api.now() - 60 }) }) },
  { name: 'an ID token', twist: (api) => ({ token: api.token({ nonce: 'n-1', at_hash: 'aGFzaA' }) }) },
  { name: 'a token without scopes', twist: (api) => ({ token: api.token({ scope: undefined }) }) },
  {
    name: 'a path parameter its schema refuses',
    twist: (_api, { operation }) => {
      const max = operation.parameters?.find((parameter) => parameter.in === 'path')?.schema?.maxLength
      return typeof max === 'number' ? { pathValue: 'a'.repeat(max + 1) } : undefined
    }
  },
  {
    name: "a path parameter over the server's limit",
    twist: (_api, operation) => (hasPathParameters(operation) ? { pathValue: 'a'.repeat(OVERLONG) } : undefined)
  },
  {
    name: 'a path that does not decode',
    twist: (_api, operation) => (hasPathParameters(operation) ? { pathValue: '%E0%A4%A' } : undefined)
  },
  { name: 'a JSON body its schema refuses', twist: () => ({ body: { type: 'application/json', payload: '{"unexpected":true}' } }) },
  { name: 'a body that is not JSON', twist: () => ({ body: { type: 'application/json', payload: '{"text": "unfinished' } }) },
  {
    name: 'a body over the limit',
    twist: () => ({ body: { type: 'application/json', payload: JSON.stringify({ text: 'x'.repeat(OVERSIZED) }) } })
  },
  { name: 'a body of a type no route reads', twist: () => ({ body: { type: 'application/xml', payload: '<text>hello</text>' } }) }
]

/** The request a provocation makes of an operation. */
function requestFor(api: TestApi, document: OpenApiDocument, op: DocumentedOperation, twist: Twist, caller: string): InjectOptions {
  const scopes = requiredScopes(op.operation) ?? []
  const token = 'token' in twist ? twist.token : api.token({ sub: caller, scope: scopes.join(' ') })
  const path = op.path.replace(/\{[^}]+\}/g, twist.pathValue ?? UNKNOWN_ID)
  const example = exampleBody(document, op.operation)
  const body = twist.body ?? (example === undefined ? undefined : { type: 'application/json', payload: JSON.stringify(example) })
  return {
    method: op.method.toUpperCase() as 'GET',
    url: twist.query === undefined ? path : `${path}?${twist.query}`,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': body.type })
    },
    ...(body === undefined ? {} : { payload: body.payload })
  }
}

/** The request as HTTP/1.1 text, cut before the blank line that ends its head. */
function rawRequest(request: InjectOptions): { head: string; rest: string } {
  const payload = typeof request.payload === 'string' ? request.payload : ''
  const headers = {
    host: 'localhost',
    ...(request.headers as Record<string, string>),
    ...(payload === '' ? {} : { 'content-length': String(Buffer.byteLength(payload)) })
  }
  const lines = [
    `${request.method ?? 'GET'} ${String(request.url)} HTTP/1.1`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)
  ]
  return { head: lines.join('\r\n'), rest: `\r\n\r\n${payload}` }
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n')
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()])
  )
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) }
}

/**
 * Each request begun on its own connection before the server starts closing, and finished
 * once it has stopped listening: what a client meets while the server drains.
 */
async function duringDrain(api: TestApi, requests: InjectOptions[]): Promise<Array<ReturnType<typeof parseRaw>>> {
  await api.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (api.app.server.address() as AddressInfo).port
  let begun = 0
  const allBegun = new Promise<void>((resolve) => {
    api.app.server.on('connection', (socket) => {
      socket.once('data', () => {
        begun += 1
        if (begun === requests.length) resolve()
      })
    })
  })
  const clients = await Promise.all(
    requests.map(async (request) => {
      const socket = connect(port, '127.0.0.1')
      await once(socket, 'connect')
      let text = ''
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1')
      })
      const ended = once(socket, 'close')
      const { head, rest } = rawRequest(request)
      socket.write(head)
      return { socket, rest, ended, text: () => text }
    })
  )
  await allBegun
  const closed = api.app.close()
  while (api.app.server.listening) await new Promise((resolve) => setTimeout(resolve, 5))
  for (const client of clients) client.socket.write(client.rest)
  await Promise.all(clients.map((client) => client.ended))
  await closed
  return clients.map((client) => parseRaw(client.text()))
}

describe('what the document says each operation answers', () => {
  let document: OpenApiDocument
  const answers: Answer[] = []

  beforeAll(async () => {
    // the app as it runs, stores and limits included: nothing here knows a resource
    const api = await startTestApi()
    document = (await api.app.inject({ url: '/openapi.json' })).json<OpenApiDocument>()
    let callers = 0
    const record = (
      op: DocumentedOperation,
      provocation: string,
      res: { statusCode?: number; status?: number; headers: Record<string, unknown>; body: string }
    ): void => {
      answers.push({ operation: op, provocation, status: res.statusCode ?? res.status ?? 0, headers: res.headers, body: res.body })
    }
    try {
      for (const op of operations(document)) {
        for (const { name, twist } of PROVOCATIONS) {
          const twisted = twist(api, op)
          if (twisted !== undefined) record(op, name, await api.app.inject(requestFor(api, document, op, twisted, `caller-${callers++}`)))
        }
        if (hasPathParameters(op)) {
          // an id the API handed out to this caller: whatever the operations of the same collection
          // (`/api/messages` for `/api/messages/{id}`) answer with an `id`, never another resource's
          const caller = `caller-${callers++}`
          let id: unknown
          for (const other of operations(document).filter(
            (candidate) => !hasPathParameters(candidate) && candidate.path === collectionOf(op)
          )) {
            const res = await api.app.inject(requestFor(api, document, other, {}, caller))
            const body: unknown = res.statusCode < 300 && res.body.startsWith('{') ? res.json() : undefined
            if (typeof (body as { id?: unknown } | undefined)?.id === 'string') id = (body as { id: string }).id
          }
          expect(id, `${nameOf(op)}: some operation on ${collectionOf(op)} hands out an id`).toBeTypeOf('string')
          record(
            op,
            'an ordinary request for an id the caller was given',
            await api.app.inject(requestFor(api, document, op, { pathValue: String(id) }, caller))
          )
        }
        // the same ordinary request again from one caller; where the operation documents a 409,
        // repeated while it succeeds, until it meets the caller's limit (or another conflict)
        const again = requestFor(api, document, op, {}, `caller-${callers++}`)
        const repeats = '409' in op.operation.responses ? MAX_REPEATS : 1
        let res = await api.app.inject(again)
        for (let repeat = 0; repeat < repeats; repeat += 1) {
          res = await api.app.inject(again)
          if (res.statusCode >= 300) break
        }
        record(
          op,
          repeats === 1 ? 'an ordinary request, again' : `the ordinary request repeated (up to ${MAX_REPEATS} times) from one caller`,
          res
        )
      }
    } finally {
      await api.close()
    }

    // the issuer is down and its keys were never loaded
    const down = await startTestApi({ waitForKeys: false })
    await down.issuer.close()
    try {
      for (const op of operations(document))
        record(op, 'an ordinary request while the issuer is down', await down.app.inject(requestFor(down, document, op, {}, 'caller-down')))
    } finally {
      await down.app.close()
    }

    const draining = await startTestApi()
    try {
      const ops = operations(document)
      const raw = await duringDrain(
        draining,
        ops.map((op) => requestFor(draining, document, op, {}, 'caller-drain'))
      )
      raw.forEach((res, i) => record(ops[i] as DocumentedOperation, 'an ordinary request while the server drains', res))
    } finally {
      await draining.issuer.close()
    }
  }, 60_000)

  it('documents every answer: its status, a code its response names, and the headers it says are always sent', () => {
    expect(answers.length).toBeGreaterThan((operations(document).length * PROVOCATIONS.length) / 2)
    for (const { operation: op, provocation, status, headers, body } of answers) {
      const where = `${nameOf(op)}, ${provocation}: ${status} ${body.slice(0, 200)}`
      const response = op.operation.responses[String(status)]
      expect(response, where).toBeDefined()
      if (response === undefined) continue
      for (const header of requiredHeaders(document, response)) expect(headers[header], `${where}: header ${header}`).toBeDefined()
      if (status < 400) continue
      expect(String(headers['content-type']), where).toMatch(/^application\/problem\+json/)
      const { code } = JSON.parse(body) as { code: string }
      const named = namedCodes(response)
      const anyOfStatus =
        new RegExp(`any other ${status} code`).test(String(response.description)) &&
        PROBLEM_CODES.some((entry) => entry.code === code && entry.status === String(status))
      expect(named.includes(code) || anyOfStatus, `${where}: code ${code} is one of ${named.join(', ')}`).toBe(true)
    }
  })

  it('documents only what some request provokes: every documented status of every operation was answered', () => {
    for (const op of operations(document)) {
      const given = new Set(answers.filter((answer) => nameOf(answer.operation) === nameOf(op)).map((answer) => String(answer.status)))
      for (const status of Object.keys(op.operation.responses))
        expect(given.has(status), `${nameOf(op)} ${status} was never answered`).toBe(true)
    }
  })

  it('shows an example of each code these requests provoked', () => {
    for (const { operation: op, status, body } of answers) {
      if (status < 400) continue
      const { code } = JSON.parse(body) as { code: string }
      expect(Object.keys(resolve(document, op.operation.responses[String(status)]).content as Json), nameOf(op)).toEqual([
        'application/problem+json'
      ])
      const examples =
        (op.operation.responses[String(status)]?.content as Record<string, { examples?: Json }>)['application/problem+json']?.examples ?? {}
      expect(Object.keys(examples), `${nameOf(op)} ${status}`).toContain(code)
    }
  })

  it('answers every operation with 503 ERR_SHUTTING_DOWN and Retry-After while the server drains', () => {
    const drained = answers.filter((answer) => answer.provocation.includes('drains'))
    expect(drained.map((answer) => answer.operation.operation.operationId).sort()).toEqual(
      operations(document)
        .map(({ operation }) => operation.operationId)
        .sort()
    )
    for (const answer of drained) {
      expect(answer.status, nameOf(answer.operation)).toBe(503)
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'ERR_SHUTTING_DOWN' })
      expect(answer.headers['retry-after']).toBeDefined()
    }
  })
})
