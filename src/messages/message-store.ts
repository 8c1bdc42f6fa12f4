/**
 * Messages belong to the owner (issuer and subject, see owner.ts) that wrote them. The store
 * is an interface so that a database can replace the in-memory one without touching the routes.
 */
import { randomUUID } from 'node:crypto'
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

export class MessageLimitReached extends Error {}

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
    if (messages.size >= this.#maxPerOwner) throw new MessageLimitReached(`at most ${this.#maxPerOwner} messages per user`)
    const message: Message = { id: randomUUID(), text, createdAt: new Date().toISOString() }
    messages.set(message.id, message)
    return message
  }

  async delete (owner: Owner, id: string): Promise<boolean> {
    return this.#byOwner.get(ownerKey(owner))?.delete(id) ?? false
  }
}
