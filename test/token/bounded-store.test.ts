/**
 * The bounded store under the verified-token cache and the introspection answers
 * (src/cache/bounded-store.ts): bounded with the oldest out first, exact ids only, never past
 * notAfter nor before notBefore, clear-safe, and admission on first or second use.
 */
import { describe, expect, it } from 'vitest'
import { BoundedStore, EXPIRED } from '../../src/cache/bounded-store.js'

const id = (n: number): string => `id-${n.toString(36).padStart(30, '0')}`

describe('BoundedStore', () => {
  it('admits on first use by default, and on second use with admitOnSecondUse', () => {
    const first = new BoundedStore<string>({ maxEntries: 10 })
    first.set('a', 'A', 0, 100)
    expect(first.get('a', 50)).toBe('A')
    const second = new BoundedStore<string>({ maxEntries: 10, admitOnSecondUse: true })
    second.set('a', 'A', 0, 100)
    expect(second.get('a', 50)).toBeUndefined()
    second.set('a', 'A', 0, 100)
    expect(second.get('a', 50)).toBe('A')
  })

  it('stays bounded and evicts the oldest first, in both admission modes, through many rounds', () => {
    for (const admitOnSecondUse of [false, true]) {
      const store = new BoundedStore<number>({ maxEntries: 100, admitOnSecondUse })
      for (let i = 0; i < 10_000; i++) {
        store.set(id(i), i, 0, 100)
        if (admitOnSecondUse) store.set(id(i), i, 0, 100)
        expect(store.size).toBeLessThanOrEqual(100)
      }
      expect(store.size).toBe(100)
      expect(store.get(id(9_899), 50)).toBeUndefined()
      expect(store.get(id(9_900), 50)).toBe(9_900)
      expect(store.get(id(9_999), 50)).toBe(9_999)
    }
  })

  it('serves a value only within [notBefore, notAfter); past it, says EXPIRED once and forgets it', () => {
    const store = new BoundedStore<string>({ maxEntries: 10 })
    store.set('a', 'A', 10, 20)
    expect(store.get('a', 9)).toBeUndefined()
    expect(store.get('a', 10)).toBe('A')
    expect(store.get('a', 19.999)).toBe('A')
    expect(store.get('a', 20)).toBe(EXPIRED)
    expect(store.get('a', 15)).toBeUndefined()
    expect(store.size).toBe(0)
  })

  it('keys the map by keyOf(id) but serves only the exact id; another id under the same key replaces it', () => {
    const store = new BoundedStore<string>({ maxEntries: 10, keyOf: (value) => value.slice(-4) })
    store.set('xxxx-tail', 'first', 0, 100)
    expect(store.get('yyyy-tail', 50)).toBeUndefined()
    store.set('yyyy-tail', 'second', 0, 100)
    expect(store.get('yyyy-tail', 50)).toBe('second')
    expect(store.get('xxxx-tail', 50)).toBeUndefined()
    expect(store.size).toBe(1)
  })

  it('refreshes an id set again in place, without taking a second slot', () => {
    const store = new BoundedStore<string>({ maxEntries: 2 })
    store.set('a', 'old', 0, 10)
    store.set('a', 'new', 0, 100)
    store.set('b', 'B', 0, 100)
    expect(store.get('a', 50)).toBe('new')
    expect(store.size).toBe(2)
  })

  it('does not store what was computed before clear(); clear() forgets entries and the doorkeeper', () => {
    const store = new BoundedStore<string>({ maxEntries: 10, admitOnSecondUse: true })
    const before = store.generation
    store.set('a', 'A', 0, 100, before)
    store.clear()
    store.set('a', 'A', 0, 100, before)
    store.set('a', 'A', 0, 100, before)
    expect(store.size).toBe(0)
    expect(store.generation).not.toBe(before)
    store.set('a', 'A', 0, 100, store.generation)
    expect(store.get('a', 50)).toBeUndefined() // the doorkeeper was cleared too
    store.set('a', 'A', 0, 100, store.generation)
    expect(store.get('a', 50)).toBe('A')
  })

  it('stores nothing with maxEntries 0; delete() removes only the exact id', () => {
    const off = new BoundedStore<string>({ maxEntries: 0 })
    off.set('a', 'A', 0, 100)
    expect(off.size).toBe(0)
    const store = new BoundedStore<string>({ maxEntries: 10, keyOf: (value) => value.slice(-1) })
    store.set('xa', 'A', 0, 100)
    store.delete('ya')
    expect(store.get('xa', 50)).toBe('A')
    store.delete('xa')
    expect(store.size).toBe(0)
  })

  it('keeps evicting correctly after entries left on their own (expired or deleted)', () => {
    const store = new BoundedStore<number>({ maxEntries: 3 })
    for (let i = 0; i < 3; i++) store.set(id(i), i, 0, 10)
    expect(store.get(id(0), 10)).toBe(EXPIRED)
    store.delete(id(1))
    for (let i = 3; i < 6; i++) store.set(id(i), i, 0, 100)
    expect(store.size).toBe(3)
    expect([3, 4, 5].map((i) => store.get(id(i), 5))).toEqual([3, 4, 5])
  })
})
