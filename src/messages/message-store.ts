/**
 * Messages belong to the `sub` that wrote them. The store is an interface so that a
 * database can replace the in-memory one without touching the routes.
 */
import { randomUUID } from 'node:crypto'

export interface Message {
  id: string
  text: string
  createdAt: string
}

export interface MessageStore {
  list(owner: string): Promise<Message[]>
  get(owner: string, id: string): Promise<Message | undefined>
  create(owner: string, text: string): Promise<Message>
  /** True when the owner had that message. */
  delete(owner: string, id: string): Promise<boolean>
}

export class MessageLimitReached extends Error {}

/** In memory, per owner, bounded so that one caller cannot exhaust the process. */
export class InMemoryMessageStore implements MessageStore {
  readonly #byOwner = new Map<string, Map<string, Message>>()
  readonly #maxPerOwner: number

  constructor (maxPerOwner = 1000) {
    this.#maxPerOwner = maxPerOwner
  }

  async list (owner: string): Promise<Message[]> {
    return [...(this.#byOwner.get(owner)?.values() ?? [])]
  }

  async get (owner: string, id: string): Promise<Message | undefined> {
    return this.#byOwner.get(owner)?.get(id)
  }

  async create (owner: string, text: string): Promise<Message> {
    let messages = this.#byOwner.get(owner)
    if (messages === undefined) {
      messages = new Map()
      this.#byOwner.set(owner, messages)
    }
    if (messages.size >= this.#maxPerOwner) throw new MessageLimitReached(`at most ${this.#maxPerOwner} messages per user`)
    const message: Message = { id: randomUUID(), text, createdAt: new Date().toISOString() }
    messages.set(message.id, message)
    return message
  }

  async delete (owner: string, id: string): Promise<boolean> {
    return this.#byOwner.get(owner)?.delete(id) ?? false
  }
}
