/**
 * Messages belong to the owner (issuer, kind and id, see owner.ts) that wrote them. The store
 * is an interface: the routes see the same one whatever keeps the messages (the database,
 * ./sql-message-store.ts, in the app; the in-memory one below for tests of other parts).
 */
import { randomUUID } from 'node:crypto'
import { CodedError, sentenceOf, type ClientError } from '../errors.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { ownerKey, type Owner } from './owner.js'

/** The messages a caller may hold when nothing else is said. */
export const DEFAULT_MAX_PER_OWNER = 1000
export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

export interface PageRequest {
  /** 1..MAX_PAGE_SIZE. */
  limit: number
  /** From the previous page's `nextCursor`; absent for the first page. Invalid: InvalidCursor. */
  cursor?: string | undefined
}

export interface Page<T> {
  /** Newest first. */
  items: T[]
  /** Present when more items follow. */
  nextCursor?: string
}

export interface Message {
  id: string
  text: string
  createdAt: string
}

export interface MessageStore {
  /** Newest first, one page at a time. */
  list(owner: Owner, page: PageRequest): Promise<Page<Message>>
  get(owner: Owner, id: string): Promise<Message | undefined>
  create(owner: Owner, text: string): Promise<Message>
  /** True when the owner had that message. */
  delete(owner: Owner, id: string): Promise<boolean>
}

/** The caller holds as many messages as allowed: ERR_MESSAGE_LIMIT (409). */
export class MessageLimitReached extends CodedError implements ClientError {
  override readonly name = 'MessageLimitReached'
  readonly code = 'ERR_MESSAGE_LIMIT'
  readonly description: string

  constructor(max: number) {
    const description = sentenceOf('ERR_MESSAGE_LIMIT', { max })
    super(description)
    this.description = description
  }
}

interface Held {
  message: Message
  seq: number
}

/** In memory, per owner, bounded so that one caller cannot exhaust the process. Lost on restart, not shared between replicas. */
export class InMemoryMessageStore implements MessageStore {
  readonly #byOwner = new Map<string, Map<string, Held>>()
  readonly #lastSeq = new Map<string, number>()
  readonly #maxPerOwner: number

  constructor(maxPerOwner = DEFAULT_MAX_PER_OWNER) {
    this.#maxPerOwner = maxPerOwner
  }

  async list(owner: Owner, page: PageRequest): Promise<Page<Message>> {
    const below = page.cursor === undefined ? Infinity : decodeCursor(page.cursor)
    const held = [...(this.#byOwner.get(ownerKey(owner))?.values() ?? [])].filter((entry) => entry.seq < below).reverse()
    const items = held.slice(0, page.limit)
    const last = items.at(-1)
    return {
      items: items.map((entry) => entry.message),
      ...(held.length > page.limit && last !== undefined ? { nextCursor: encodeCursor(last.seq) } : {})
    }
  }

  async get(owner: Owner, id: string): Promise<Message | undefined> {
    return this.#byOwner.get(ownerKey(owner))?.get(id)?.message
  }

  async create(owner: Owner, text: string): Promise<Message> {
    const key = ownerKey(owner)
    let messages = this.#byOwner.get(key)
    if (messages === undefined) {
      messages = new Map()
      this.#byOwner.set(key, messages)
    }
    if (messages.size >= this.#maxPerOwner) throw new MessageLimitReached(this.#maxPerOwner)
    const seq = (this.#lastSeq.get(key) ?? 0) + 1
    this.#lastSeq.set(key, seq)
    const message: Message = { id: randomUUID(), text, createdAt: new Date().toISOString() }
    messages.set(message.id, { message, seq })
    return message
  }

  async delete(owner: Owner, id: string): Promise<boolean> {
    return this.#byOwner.get(ownerKey(owner))?.delete(id) ?? false
  }
}
