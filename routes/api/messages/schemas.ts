import { Type } from 'typebox'

export const MessageSchema = Type.Object({
  id: Type.String({ format: 'uuid', examples: ['0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e'] }),
  text: Type.String({ minLength: 1, maxLength: 1000, examples: ['Hello from the API'] }),
  createdAt: Type.String({ format: 'date-time', examples: ['2026-11-22T10:00:00.000Z'] })
}, { $id: 'Message', title: 'Message', additionalProperties: false })

export const MessageListSchema = Type.Array(MessageSchema, { $id: 'MessageList', title: 'MessageList' })

export const NewMessageSchema = Type.Object({
  text: Type.String({ minLength: 1, maxLength: 1000, examples: ['Hello from the API'] })
}, { $id: 'NewMessage', title: 'NewMessage', additionalProperties: false })

export const MessageIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'The message\'s id', examples: ['0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e'] })
})

/** The `Location` response header of a created message. */
export const MessageLocationHeader = Type.String({
  format: 'uri-reference',
  description: 'The created message\'s URL',
  examples: ['/api/messages/0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e']
})
