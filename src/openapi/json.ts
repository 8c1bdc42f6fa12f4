/**
 * Plain JSON values as the document builder handles them: objects in, objects out.
 */

export type JsonObject = Record<string, unknown>

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** The same record with its keys sorted (code-unit order): a stable order whatever the insertion order. */
export function sortedByKey<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/** The same object with `first` keys in that order, then the others as they were. */
export function ordered<T extends JsonObject>(object: T, first: readonly string[]): T {
  const result: JsonObject = {}
  for (const key of first) if (key in object) result[key] = object[key]
  for (const [key, value] of Object.entries(object)) if (!(key in result)) result[key] = value
  return result as T
}
