/**
 * Messages belong to the owner (issuer and subject, see owner.ts) that wrote them. The store
 * is an interface so that a database can replace the in-memory one without touching the routes.
 */
import { randomUUID } from 'node:crypto'
import { CodedError, sentenceOf, type ClientError } from '../errors.js'
import { ownerKey, type Owner } from './owner.js'

export interface Message {
  id: string
  text: string
  createdAt: string
}

export interface MessageStore {
  list(owner: Owner): Promise<Message[]>
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

  constructor (max: number) {
    const description = sentenceOf('ERR_MESSAGE_LIMIT', { max })
    super(description)
    this.description = description
  }
}

/** In memory, per owner, bounded so that one caller cannot exhaust the process. */
export class InMemoryMessageStore implements MessageStore {
  readonly #byOwner = new Map<string, Map<string, Message>>()
  readonly #maxPerOwner: number

  constructor (maxPerOwner = 1000) {
    this.#maxPerOwner = maxPerOwner
  }

  async list (owner: Owner): Promise<Message[]> {
    return [...(this.#byOwner.get(ownerKey(owner))?.values() ?? [])]
  }

  async get (owner: Owner, id: string): Promise<Message | undefined> {
    return this.#byOwner.get(ownerKey(owner))?.get(id)
  }

  async create (owner: Owner, text: string): Promise<Message> {
    const key = ownerKey(owner)
    let messages = this.#byOwner.get(key)
    if (messages === undefined) {
      messages = new Map()
      this.#byOwner.set(key, messages)
    }
    if (messages.size >= this.#maxPerOwner) throw new MessageLimitReached(this.#maxPerOwner)
    const message: Message = { id: randomUUID(), text, createdAt: new Date().toISOString() }
    messages.set(message.id, message)
    return message
  }

  async delete (owner: Owner, id: string): Promise<boolean> {
    return this.#byOwner.get(ownerKey(owner))?.delete(id) ?? false
  }
}
