/**
 * Per-user messages: the token's issuer and `sub` own them (src/messages/owner.ts); another
 * user's message is a 404 so that its existence does not leak. The list is newest first, a page
 * at a time: the body stays the array of messages, and the pages' URLs come in a `Link`
 * header (RFC 8288), built from PUBLIC_URL: `rel="first"` always, `rel="next"` when more follow.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problem, sendProblem } from '../../../src/http/problem.js'
import { DEFAULT_PAGE_SIZE } from '../../../src/messages/message-store.js'
import { RetryAfterHeader } from '../../../src/openapi/headers.js'
import { ownerOf } from '../../../src/messages/owner.js'
import { problemResponse } from '../../../src/openapi/problems.js'
import {
  ListMessagesQuerySchema,
  MessageIdParamsSchema,
  MessageListSchema,
  MessageLocationHeader,
  MessageSchema,
  NewMessageSchema,
  PageLinkHeader
} from './schemas.js'
import type { FastifyReply } from 'fastify'

const READ = 'read:messages'
const WRITE = 'write:messages'
const NOT_FOUND = problemResponse(
  "The caller has no message with this id: another user's message answers the same, so that its existence does not leak",
  ['ERR_MESSAGE_NOT_FOUND']
)

/** Every route here needs the database: unreachable (or too slow), the answer is this 503. */
const DATABASE_UNAVAILABLE = problemResponse(
  'The database cannot be reached right now, or did not answer in time: retry after the delay given',
  ['ERR_DATABASE_UNAVAILABLE'],
  { 'Retry-After': RetryAfterHeader }
)

function notFound(reply: FastifyReply): FastifyReply {
  return sendProblem(reply, problem('ERR_MESSAGE_NOT_FOUND'))
}

const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const store = app.messageStore
  app.describeTag(
    'messages',
    "The caller's messages. The token's `sub` owns them: another user's message is answered as if it did not exist."
  )
  app.describeScopes({
    [READ]: "Read the caller's messages",
    [WRITE]: "Create and delete the caller's messages"
  })

  app.get(
    '/api/messages',
    {
      config: { scopes: [READ] },
      schema: {
        tags: ['messages'],
        summary: "List the caller's messages",
        description:
          'Newest first, one page at a time (`limit`, default 20). The answer\'s `Link` header (RFC 8288) names the first page (`rel="first"`) and, when more messages follow, the next one (`rel="next"`): follow that URL as it is. An invalid `cursor` is a 400 (`ERR_INVALID_CURSOR`).',
        operationId: 'listMessages',
        querystring: ListMessagesQuerySchema,
        response: {
          200: {
            description: "One page of the caller's messages, newest first",
            headers: { Link: PageLinkHeader },
            content: { 'application/json': { schema: MessageListSchema } }
          },
          400: problemResponse('The cursor is not one this API issued', ['ERR_INVALID_CURSOR']),
          503: DATABASE_UNAVAILABLE
        }
      }
    },
    async (request, reply) => {
      const limit = request.query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(request.query.limit)
      // a bad cursor (InvalidCursor) is answered 400 by the error handler, as every client error
      const page = await store.list(ownerOf(request.auth), { limit, cursor: request.query.cursor })
      const links = [`<${app.publicUrl}/api/messages?limit=${limit}>; rel="first"`]
      if (page.nextCursor !== undefined) {
        const next = new URLSearchParams({ limit: String(limit), cursor: page.nextCursor })
        links.push(`<${app.publicUrl}/api/messages?${next.toString()}>; rel="next"`)
      }
      reply.header('link', links.join(', '))
      return page.items
    }
  )

  app.post(
    '/api/messages',
    {
      config: { scopes: [WRITE] },
      schema: {
        tags: ['messages'],
        summary: 'Create a message',
        description: 'The caller owns the new message. A caller holds a bounded number of messages: past it, the answer is 409.',
        operationId: 'createMessage',
        body: NewMessageSchema,
        response: {
          201: {
            description: 'The created message',
            headers: { Location: MessageLocationHeader },
            content: { 'application/json': { schema: MessageSchema } }
          },
          409: problemResponse('The caller holds as many messages as allowed: delete one first', ['ERR_MESSAGE_LIMIT']),
          503: DATABASE_UNAVAILABLE
        }
      }
    },
    async (request, reply) => {
      // past the limit, MessageLimitReached is answered 409 by the error handler
      const message = await store.create(ownerOf(request.auth), request.body.text)
      return reply.code(201).header('location', `/api/messages/${message.id}`).send(message)
    }
  )

  app.get(
    '/api/messages/:id',
    {
      config: { scopes: [READ] },
      schema: {
        tags: ['messages'],
        summary: "Read one of the caller's messages",
        operationId: 'getMessage',
        params: MessageIdParamsSchema,
        response: { 200: MessageSchema, 404: NOT_FOUND, 503: DATABASE_UNAVAILABLE }
      }
    },
    async (request, reply) => {
      const message = await store.get(ownerOf(request.auth), request.params.id)
      return message === undefined ? notFound(reply) : message
    }
  )

  app.delete(
    '/api/messages/:id',
    {
      config: { scopes: [WRITE] },
      schema: {
        tags: ['messages'],
        summary: "Delete one of the caller's messages",
        operationId: 'deleteMessage',
        params: MessageIdParamsSchema,
        response: { 204: { description: 'The message is deleted (no body)' }, 404: NOT_FOUND, 503: DATABASE_UNAVAILABLE }
      }
    },
    async (request, reply) => {
      const deleted = await store.delete(ownerOf(request.auth), request.params.id)
      return deleted ? reply.code(204).send() : notFound(reply)
    }
  )
}

export default messageRoutes
