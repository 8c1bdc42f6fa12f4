/**
 * Asymmetric signature checks on worker threads, in batches.
 *
 * node:crypto's callback `verify()` runs the check on libuv's threadpool, but each call costs
 * the event loop about 16–20 µs of its own (the job's set-up, the wake-up when it is done, the
 * callback): as much as an RS256 check itself, on the one thread every request needs. Here the
 * checks asked for during one turn of the event loop go to a worker in one message (one
 * transferred buffer), the worker checks them synchronously, and one message brings all the
 * answers back: about 2–4 µs of event-loop time per check under load (measured; bench/RESULTS.md).
 *
 * While every worker is still busy with an earlier batch, the event loop makes part of this
 * turn's RSA checks itself (the first half, at most MAX_CHECKS_HERE), synchronously, and sends
 * the rest: otherwise the event loop sits idle waiting for answers that queue behind a busy
 * thread. ECDSA and EdDSA checks, two to three times dearer, always go to a worker.
 *
 * Keys go to each worker once (a KeyObject is cloned into the worker), and are forgotten there
 * when the main thread's key object is collected. A check whose worker stops before answering
 * is rejected with an Error (a 500, never an acceptance); the next check starts a new worker.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Verifier } from '../keys/jwk-import.js'
import { check as checkHere, SIGNATURE_WORKER, type BatchMessage, type KeyEntry, type ResultMessage } from './signature-worker.js'

/** Run from source (types stripped by Node or a loader) or from dist/, the worker is this module's sibling. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './signature-worker.ts' : './signature-worker.js', import.meta.url)

interface Check {
  id: number
  verifier: Verifier
  data: Buffer
  signature: Buffer
  resolve(ok: boolean): void
  reject(error: Error): void
}

interface Lane {
  worker: Worker
  /** Key ids this worker holds. */
  known: Set<number>
  /** Batches sent and not answered yet, by sequence number. */
  batches: Map<number, Check[]>
  inFlight: number
  /** Key ids to drop at the next message. */
  forget: number[]
}

/**
 * The most RSA checks of one turn the event loop makes itself while the workers are busy: a
 * bound on how long it stops serving other requests (about 0.2 ms of RS256 checks). Measured
 * with distinct tokens against the worker-only build (`npm run bench -- --versus=…`, and two
 * servers side by side): RS256 2–8 % faster; ES256 checks made the same way were 3–14 % slower,
 * so they are not (isRsa).
 */
const MAX_CHECKS_HERE = 8

/**
 * RS* and PS*: RSA verification (the public exponent) costs about 25 µs for 2048 bits on the
 * bench's CPU; ECDSA and EdDSA verification costs two to three times that, and taken by the
 * event loop it slowed distinct ES256 (see MAX_CHECKS_HERE): those always go to a worker.
 */
function isRsa(verifier: Verifier): boolean {
  return verifier.digest !== null && !verifier.joseEcdsa
}

/** One worker per spare core (one core left for the event loop), as libuv's threadpool was sized (src/threadpool.ts). */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1))
}

export interface SignatureWorkersOptions {
  /** Threads (default: defaultWorkerCount()). */
  size?: number
  /** The worker's module (default: signature-worker.ts beside this one); tests give one that fails. */
  workerUrl?: URL
}

export class SignatureWorkers {
  #maxChecksHere = MAX_CHECKS_HERE
  readonly #size: number
  readonly #workerUrl: URL
  readonly #lanes: (Lane | undefined)[]
  #queue: Check[] = []
  #scheduled = false
  #seq = 0
  #nextId = 1
  #closed = false
  #closing: Promise<void> | undefined
  #checkedHere = 0
  #checkedByWorkers = 0
  /** Set by close() while it waits for the checks in flight. */
  #drained: (() => void) | undefined
  readonly #ids = new WeakMap<Verifier, number>()
  readonly #collected = new FinalizationRegistry<number>((id) => {
    for (const lane of this.#lanes) if (lane?.known.delete(id) === true) lane.forget.push(id)
  })

  constructor(options: SignatureWorkersOptions = {}) {
    const { size = defaultWorkerCount(), workerUrl = WORKER_URL } = options
    if (!Number.isInteger(size) || size < 1) throw new RangeError('SignatureWorkers: size must be a positive integer')
    this.#size = size
    this.#workerUrl = workerUrl
    this.#lanes = Array.from({ length: size }, () => undefined)
  }

  /** Resolves true when `signature` is a valid signature of `data` under the verifier's key and digest. */
  verify(verifier: Verifier, data: Buffer, signature: Buffer): Promise<boolean> {
    if (this.#closed) return Promise.reject(new Error('signature workers are closed'))
    let id = this.#ids.get(verifier)
    if (id === undefined) {
      id = this.#nextId++
      this.#ids.set(verifier, id)
      this.#collected.register(verifier, id)
    }
    const key = id
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: key, verifier, data, signature, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        // every check asked for in this turn of the event loop goes in one message
        setImmediate(() => this.#flush())
      }
    })
  }

  /** Workers running now (they start on first use and after one stops). */
  get running(): number {
    return this.#lanes.filter((lane) => lane !== undefined).length
  }

  /** Refuses new checks, lets those already asked for finish, then stops the workers (once; later calls wait for the same). */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    if (this.#scheduled || this.#pending() > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    const lanes = this.#lanes.filter((lane) => lane !== undefined)
    this.#lanes.fill(undefined)
    await Promise.all(lanes.map((lane) => lane.worker.terminate()))
  }

  /** True when every worker has started and has checks in flight (none would take this batch at once). */
  #allBusy(): boolean {
    for (const lane of this.#lanes) if (lane === undefined || lane.inFlight === 0) return false
    return true
  }

  /**
   * The most RSA checks of one turn the event loop makes itself while every worker is busy
   * (MAX_CHECKS_HERE); 0: the workers make every check (a test that holds checks in flight
   * behind a busy worker sets it).
   */
  get maxChecksHere(): number {
    return this.#maxChecksHere
  }

  set maxChecksHere(value: number) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError('SignatureWorkers: maxChecksHere must be a non-negative integer')
    this.#maxChecksHere = value
  }

  /** Checks made so far by the event loop itself, and by the workers (for tests). */
  get checked(): { here: number; workers: number } {
    return { here: this.#checkedHere, workers: this.#checkedByWorkers }
  }

  #pending(): number {
    return this.#lanes.reduce((sum, lane) => sum + (lane?.inFlight ?? 0), this.#queue.length)
  }

  #settled(): void {
    if (this.#drained !== undefined && !this.#scheduled && this.#pending() === 0) {
      this.#drained()
      this.#drained = undefined
    }
  }

  #flush(): void {
    this.#scheduled = false
    const queued = this.#queue
    this.#queue = []
    const checks = queued.length > 0 && this.#maxChecksHere > 0 && this.#allBusy() ? this.#checkSomeHere(queued) : queued
    if (checks.length > 0) {
      try {
        this.#send(checks)
      } catch (error) {
        // not sent (no thread could start, no memory, a key that cannot be cloned): refused,
        // never left pending, and never thrown out of setImmediate (which would end the process)
        for (const check of checks) check.reject(error as Error)
      }
    }
    this.#settled()
  }

  /** Makes the first half of `checks`' RSA checks (at most maxChecksHere) on the event loop; returns the others, in order. */
  #checkSomeHere(checks: Check[]): Check[] {
    let rsa = 0
    for (const check of checks) if (isRsa(check.verifier)) rsa++
    const here = Math.min(this.#maxChecksHere, Math.ceil(rsa / 2))
    if (here === 0) return checks
    const rest: Check[] = []
    let done = 0
    for (const check of checks) {
      if (done < here && isRsa(check.verifier)) {
        const { verifier, data, signature } = check
        check.resolve(checkHere(verifier.digest, verifier.options, data, signature) === 1)
        done++
      } else {
        rest.push(check)
      }
    }
    this.#checkedHere += done
    return rest
  }

  /** One batch to the least busy worker; throws when it could not be sent (nothing of it is then pending). */
  #send(checks: Check[]): void {
    const lane = this.#leastBusy()
    let size = 4
    for (const check of checks) size += 12 + check.data.length + check.signature.length
    const buffer = new ArrayBuffer(size)
    const batch = Buffer.from(buffer)
    batch.writeUInt32LE(checks.length, 0)
    let at = 4
    let keys: KeyEntry[] | undefined
    for (const check of checks) {
      if (!lane.known.has(check.id)) {
        lane.known.add(check.id)
        ;(keys ??= []).push([check.id, check.verifier.digest, check.verifier.options])
      }
      batch.writeUInt32LE(check.id, at)
      batch.writeUInt32LE(check.data.length, at + 4)
      batch.writeUInt32LE(check.signature.length, at + 8)
      at += 12
      at += check.data.copy(batch, at)
      at += check.signature.copy(batch, at)
    }
    const seq = this.#seq++
    const message: BatchMessage = { seq, batch: buffer }
    if (keys !== undefined) message.keys = keys
    if (lane.forget.length > 0) message.forget = lane.forget
    try {
      lane.worker.postMessage(message, [buffer])
      if (message.forget !== undefined) lane.forget = []
    } catch (error) {
      // the worker was not told of these keys
      if (keys !== undefined) for (const [id] of keys) lane.known.delete(id)
      throw error
    }
    lane.batches.set(seq, checks)
    lane.inFlight += checks.length
  }

  #leastBusy(): Lane {
    let best: Lane | undefined
    for (let index = 0; index < this.#size; index++) {
      const lane = this.#lanes[index] ?? this.#start(index)
      if (best === undefined || lane.inFlight < best.inFlight) best = lane
      if (best.inFlight === 0) break
    }
    return best as Lane
  }

  #start(index: number): Lane {
    const worker = new Worker(this.#workerUrl, { name: `signature-check-${index}`, workerData: SIGNATURE_WORKER })
    // never what keeps a process alive: a check in flight is a request in flight, which does
    worker.unref()
    const lane: Lane = { worker, known: new Set(), batches: new Map(), inFlight: 0, forget: [] }
    this.#lanes[index] = lane
    worker.on('message', ({ seq, from, results }: ResultMessage) => {
      const checks = lane.batches.get(seq)
      if (checks === undefined) return
      // answers come in parts, in order; the batch is done with its last check's
      const end = from + results.length
      if (end >= checks.length) lane.batches.delete(seq)
      lane.inFlight -= results.length
      this.#checkedByWorkers += results.length
      for (let i = 0; i < results.length; i++) checks[from + i]?.resolve(results[i] === 1)
      this.#settled()
    })
    const stopped = (reason: string): void => {
      if (this.#lanes[index] === lane) this.#lanes[index] = undefined
      const error = new Error(`signature check worker stopped (${reason})`)
      for (const checks of lane.batches.values()) for (const check of checks) check.reject(error)
      lane.batches.clear()
      lane.inFlight = 0
      this.#settled()
    }
    worker.on('error', (error) => stopped(error.message))
    // an answer that could not be read is lost: the worker is stopped, so that its checks are refused rather than left waiting
    worker.on('messageerror', () => void worker.terminate())
    worker.on('exit', (code) => stopped(`exit code ${code}`))
    return lane
  }
}
