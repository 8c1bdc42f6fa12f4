/**
 * Never-repeated tokens for the distinct-token scenarios (issue 19). A pool holds a list of
 * distinct tokens (one per line of its file); each load of one server process is given its
 * own slice of the list, starting where the last load's sends ended, written to a file of its
 * own, and wrk sends that slice in order, once (bench/wrk.lua with BENCH_TOKEN_ONCE=1, which
 * counts any send past the slice's end as "repeated"). A new server process starts from the
 * top of the list again (`reset`): its verified-token cache has never seen any of them.
 *
 * So no token reaches one server twice, across slices, warm-ups and scenarios alike: no
 * request of a distinct-token scenario can be a cache hit, and the cache's admission on
 * second use never admits one.
 */
import { readFileSync, writeFileSync } from 'node:fs'

export class TokenPool {
  readonly file: string
  readonly #data: Buffer
  /** Byte offset of each token's first character; one more entry, the end. */
  readonly #starts: Uint32Array
  #next = 0
  /** Tokens handed out to the current server process. */
  #used = 0
  /** Most tokens any one server process used (for the report). */
  maxUsed = 0

  constructor(
    file: string,
    readonly sliceFile: string
  ) {
    this.file = file
    this.#data = readFileSync(file)
    const starts: number[] = [0]
    for (let i = this.#data.indexOf(10); i !== -1; i = this.#data.indexOf(10, i + 1)) starts.push(i + 1)
    if (starts[starts.length - 1] !== this.#data.length) starts.push(this.#data.length + 1)
    this.#starts = Uint32Array.from(starts)
  }

  get size(): number {
    return this.#starts.length - 1
  }

  /** A new server process: it has seen none of the tokens. */
  reset(): void {
    this.#next = 0
    this.#used = 0
  }

  /**
   * A file of up to `count` tokens no earlier load of this server process was given (fewer
   * only when the pool runs short: then it throws, since a repeat would flatter the figure).
   */
  take(count: number): { file: string; count: number } {
    const n = Math.min(count, this.size - this.#next)
    if (n <= 0) throw new Error(`token pool ${this.file}: all ${this.size} tokens used by one server process; raise --distinct`)
    const from = this.#starts[this.#next] ?? 0
    const to = (this.#starts[this.#next + n] ?? this.#data.length + 1) - 1
    writeFileSync(this.sliceFile, this.#data.subarray(from, to))
    writeFileSync(this.sliceFile, '\n', { flag: 'a' })
    return { file: this.sliceFile, count: n }
  }

  /** After the load: `sent` of the slice's tokens went out (answered or not); the rest are still fresh. */
  consumed(sent: number): void {
    this.#next += sent
    this.#used += sent
    this.maxUsed = Math.max(this.maxUsed, this.#used)
  }
}
