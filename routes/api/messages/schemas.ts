import { Type } from 'typebox'

export const MessageSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', examples: ['0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e'] }),
    text: Type.String({ minLength: 1, maxLength: 1000, examples: ['Hello from the API'] }),
    createdAt: Type.String({ format: 'date-time', examples: ['2026-11-22T10:00:00.000Z'] })
  },
  { $id: 'Message', title: 'Message', additionalProperties: false }
)

export const MessageListSchema = Type.Array(MessageSchema, { $id: 'MessageList', title: 'MessageList' })

export const NewMessageSchema = Type.Object(
  {
    text: Type.String({ minLength: 1, maxLength: 1000, examples: ['Hello from the API'] })
  },
  { $id: 'NewMessage', title: 'NewMessage', additionalProperties: false }
)

export const MessageIdParamsSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: "The message's id", examples: ['0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e'] })
})

/** The `Location` response header of a created message. */
export const MessageLocationHeader = Type.String({
  format: 'uri-reference',
  description: "The created message's URL",
  examples: ['/api/messages/0b6c5c49-6f6e-4d55-9a8e-0b1b0b6a3f0e']
})

/** `GET /api/messages?limit=&cursor=`: strings on the wire (the server does not coerce query values). */
export const ListMessagesQuerySchema = Type.Object(
  {
    limit: Type.Optional(
      Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: 'How many messages per page, 1 to 100 (default 20)', examples: ['20'] })
    ),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Where the page starts: the `cursor` of the previous page\'s `Link: rel="next"` URL, as it is (opaque)',
        examples: ['bTE6MjA']
      })
    )
  },
  { additionalProperties: false }
)

/** The `Link` response header of a list (RFC 8288): the first page, and the next one when more messages follow. */
export const PageLinkHeader = Type.String({
  description:
    'Page links (RFC 8288), built from PUBLIC_URL: always the first page (`rel="first"`); when more messages follow, also the next page (`rel="next"`). No `rel="next"`: this page is the last one.',
  examples: [
    '<https://api.example.com/api/messages?limit=20>; rel="first", <https://api.example.com/api/messages?limit=20&cursor=bTE6MjA>; rel="next"'
  ]
})
