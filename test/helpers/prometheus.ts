/** Reading Prometheus text in tests. */

/** The value of the first sample of `name` whose labels include all of `labels` (0 when there is none). */
export function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue
    return Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return 0
}
