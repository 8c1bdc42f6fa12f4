/**
 * Where messages live (src/messages/message-store.ts) as `app.messageStore`.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { InMemoryMessageStore, type MessageStore } from '../src/messages/message-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    messageStore: MessageStore
  }
}

async function messageStore (app: FastifyInstance, options: { store?: MessageStore }): Promise<void> {
  app.decorate('messageStore', options.store ?? new InMemoryMessageStore())
}

export default fp(messageStore, { name: 'message-store', fastify: '5.x' })
