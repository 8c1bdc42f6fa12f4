/** A Map used as a bounded cache: at `max`, the oldest entry leaves before a new one enters. */
export function remember<V>(map: Map<string, V>, max: number, key: string, value: V): V {
  if (map.size >= max) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
  map.set(key, value)
  return value
}
