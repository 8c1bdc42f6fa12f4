/**
 * A bounded store of values that are valid for a while: the verified-token cache
 * (src/token/verified-token-cache.ts) and the introspection answers (src/introspection/
 * introspector.ts) both keep theirs here.
 *
 * - Bounded: at most `maxEntries` entries (0: nothing is stored), the oldest evicted first,
 *   in O(1) (see `#ring`).
 * - Never stale: an entry is served only while notBefore <= now < notAfter; past notAfter it
 *   is removed when found, and get() says so (EXPIRED), so that the caller can tell an expired
 *   entry from an unknown one.
 * - Exact: an entry serves only the very id it was stored for. The map is keyed by `keyOf(id)`
 *   (a short key hashes faster than a long id), and the whole id is compared on every hit.
 * - Clear-safe: clear() starts a new generation; a result computed before it (with what clear()
 *   was meant to forget) is not stored when it arrives after it.
 * - Admission (optional): with `admitOnSecondUse`, an id enters on its second set() only, as
 *   remembered by a fixed-size table of fingerprints (a "doorkeeper", as in TinyLFU). Ids seen
 *   once never enter, so a stream of one-off ids never fills V8's old generation with entries
 *   that die there. The table is a typed array: no allocation, no garbage, bounded memory.
 *
 * Times are numbers in whatever unit the caller uses consistently (seconds, milliseconds).
 */

/** What get() returns for an entry past its notAfter (the entry is removed). */
export const EXPIRED: unique symbol = Symbol('expired')

export interface BoundedStoreOptions {
  maxEntries: number
  /** The map key of an id (default: the id itself). */
  keyOf?: (id: string) => string
  /** Doorkeeper admission: an id is stored on its second set() only (default: on its first). */
  admitOnSecondUse?: boolean
}

interface Entry<V> {
  key: string
  /** The whole id: an entry serves only the very id it was stored for. */
  id: string
  value: V
  notBefore: number
  notAfter: number
}

/** FNV-1a over the key's last 24 characters (of a JWS, its signature), never 0. */
function fingerprint(key: string): number {
  let hash = 0x811c9dc5
  for (let i = Math.max(0, key.length - 24); i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash | 1) >>> 0
}

const sameId = (id: string): string => id

export class BoundedStore<V> {
  readonly #max: number
  readonly #keyOf: (id: string) => string
  /** Fingerprints of ids set once and not admitted yet; empty without admitOnSecondUse. */
  readonly #door: Uint32Array
  readonly #doorMask: number
  readonly #entries = new Map<string, Entry<V>>()
  /**
   * The entries in insertion order, as a ring of `max` slots (grown on demand): the slot the
   * next insertion takes holds the oldest entry, which it evicts. Finding the oldest entry
   * through the Map's own order (`keys().next()`) walks past every slot freed since the Map
   * last compacted, about 5 µs per insertion once 10,000 entries churn; this is O(1).
   */
  readonly #ring: Array<Entry<V>> = []
  #next = 0
  #generation = 0

  constructor(options: BoundedStoreOptions) {
    this.#max = options.maxEntries
    this.#keyOf = options.keyOf ?? sameId
    let slots = 1024
    while (slots < options.maxEntries * 4) slots *= 2
    this.#door = new Uint32Array(options.admitOnSecondUse === true && options.maxEntries > 0 ? slots : 0)
    this.#doorMask = slots - 1
  }

  get size(): number {
    return this.#entries.size
  }

  /** Read before computing a value, and given back to set() with it. */
  get generation(): number {
    return this.#generation
  }

  /** The value stored for `id` if it is valid at `now`; EXPIRED (and forgotten) past its notAfter; undefined otherwise. */
  get(id: string, now: number): V | typeof EXPIRED | undefined {
    const key = this.#keyOf(id)
    const entry = this.#entries.get(key)
    if (entry === undefined || entry.id !== id) return undefined
    if (now >= entry.notAfter) {
      this.#entries.delete(key)
      return EXPIRED
    }
    if (now < entry.notBefore) return undefined
    return entry.value
  }

  /**
   * Stores `value` for `id`, valid while notBefore <= now < notAfter. `generation` (when given)
   * is the one read before the value was computed: if the store was cleared since, it is not stored.
   */
  set(id: string, value: V, notBefore: number, notAfter: number, generation?: number): void {
    if (this.#max === 0) return
    if (generation !== undefined && generation !== this.#generation) return
    const key = this.#keyOf(id)
    const existing = this.#entries.get(key)
    if (existing !== undefined && existing.id === id) {
      // The same id computed twice (concurrent first requests): refreshed in place.
      existing.value = value
      existing.notBefore = notBefore
      existing.notAfter = notAfter
      return
    }
    if (this.#door.length > 0) {
      const seen = fingerprint(key)
      const slot = seen & this.#doorMask
      if (this.#door[slot] !== seen) {
        this.#door[slot] = seen // first time: remembered, not stored
        return
      }
      this.#door[slot] = 0
    }
    const entry: Entry<V> = { key, id, value, notBefore, notAfter }
    if (this.#ring.length < this.#max) {
      this.#ring.push(entry)
    } else {
      // Drop the oldest entry unless it already left (expired, or replaced under its key):
      // every entry in the map holds a slot of the ring, so memory stays bounded whatever the traffic.
      const oldest = this.#ring[this.#next]
      if (oldest !== undefined && this.#entries.get(oldest.key) === oldest) this.#entries.delete(oldest.key)
      this.#ring[this.#next] = entry
      this.#next = this.#next + 1 === this.#max ? 0 : this.#next + 1
    }
    this.#entries.set(key, entry)
  }

  delete(id: string): void {
    const key = this.#keyOf(id)
    if (this.#entries.get(key)?.id === id) this.#entries.delete(key)
  }

  /** Forgets every entry (and the doorkeeper's memory) and starts a new generation. */
  clear(): void {
    this.#generation++
    this.#door.fill(0)
    this.#entries.clear()
    this.#ring.length = 0
    this.#next = 0
  }
}
