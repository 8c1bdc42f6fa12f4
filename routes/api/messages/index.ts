/**
 * Per-user messages: the token's issuer and `sub` own them (src/messages/owner.ts); another
 * user's message is a 404 so that its existence does not leak.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { problem, sendProblem } from '../../../src/http/problem.js'
import { MessageLimitReached } from '../../../src/messages/message-store.js'
import { ownerOf } from '../../../src/messages/owner.js'
import { problemResponse } from '../../../src/openapi/problems.js'
import { MessageIdParamsSchema, MessageListSchema, MessageLocationHeader, MessageSchema, NewMessageSchema } from './schemas.js'
import type { FastifyReply } from 'fastify'

const READ = 'read:messages'
const WRITE = 'write:messages'
const NOT_FOUND = problemResponse('The caller has no message with this id: another user\'s message answers the same, so that its existence does not leak', ['ERR_MESSAGE_NOT_FOUND'])

function notFound (reply: FastifyReply): FastifyReply {
  return sendProblem(reply, problem('ERR_MESSAGE_NOT_FOUND'))
}

const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const store = app.messageStore
  app.describeScopes({
    [READ]: 'Read the caller\'s messages',
    [WRITE]: 'Create and delete the caller\'s messages'
  })

  app.get('/api/messages', {
    config: { scopes: [READ] },
    schema: { tags: ['messages'], summary: 'List the caller\'s messages', operationId: 'listMessages', response: { 200: MessageListSchema } }
  }, async (request) => store.list(ownerOf(request.auth)))

  app.post('/api/messages', {
    config: { scopes: [WRITE] },
    schema: {
      tags: ['messages'],
      summary: 'Create a message',
      description: 'The caller owns the new message. A caller holds a bounded number of messages: past it, the answer is 409.',
      operationId: 'createMessage',
      body: NewMessageSchema,
      response: {
        201: { description: 'The created message', headers: { Location: MessageLocationHeader }, content: { 'application/json': { schema: MessageSchema } } },
        409: problemResponse('The caller holds as many messages as allowed: delete one first', ['ERR_MESSAGE_LIMIT'])
      }
    }
  }, async (request, reply) => {
    try {
      const message = await store.create(ownerOf(request.auth), request.body.text)
      return reply.code(201).header('location', `/api/messages/${message.id}`).send(message)
    } catch (error) {
      if (!(error instanceof MessageLimitReached)) throw error
      return sendProblem(reply, problem(error))
    }
  })

  app.get('/api/messages/:id', {
    config: { scopes: [READ] },
    schema: {
      tags: ['messages'],
      summary: 'Read one of the caller\'s messages',
      operationId: 'getMessage',
      params: MessageIdParamsSchema,
      response: { 200: MessageSchema, 404: NOT_FOUND }
    }
  }, async (request, reply) => {
    const message = await store.get(ownerOf(request.auth), request.params.id)
    return message === undefined ? notFound(reply) : message
  })

  app.delete('/api/messages/:id', {
    config: { scopes: [WRITE] },
    schema: {
      tags: ['messages'],
      summary: 'Delete one of the caller\'s messages',
      operationId: 'deleteMessage',
      params: MessageIdParamsSchema,
      response: { 204: { description: 'The message is deleted (no body)' }, 404: NOT_FOUND }
    }
  }, async (request, reply) => {
    const deleted = await store.delete(ownerOf(request.auth), request.params.id)
    return deleted ? reply.code(204).send() : notFound(reply)
  })
}

export default messageRoutes
