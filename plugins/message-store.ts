/**
 * Where messages live as `app.messageStore`: in the database (src/messages/sql-message-store.ts
 * over app.database), unless the app is given a store (tests of other parts).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { MessageStore } from '../src/messages/message-store.js'
import { SqlMessageStore } from '../src/messages/sql-message-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    messageStore: MessageStore
  }
}

async function messageStore(app: FastifyInstance, options: { store?: MessageStore }): Promise<void> {
  app.decorate('messageStore', options.store ?? new SqlMessageStore(app.database))
}

export default fp(messageStore, { name: 'message-store', fastify: '5.x', dependencies: ['database'] })
