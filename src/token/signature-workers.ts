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
 * A batch sent while every worker is still busy with an earlier one is shared with the event
 * loop: the worker claims its checks from the front, one by one, and the event loop takes
 * unclaimed RSA checks from the back, one per turn of the event loop (setImmediate: after the
 * I/O of that turn, so it takes one only between its other work), each claim one atomic
 * compare-and-swap on a byte both threads see. Otherwise the event loop sits idle waiting for
 * answers queued behind a busy thread. A check is made, and answered, by exactly one of them.
 * ECDSA and EdDSA checks, two to three times dearer, always go to a worker.
 *
 * Keys go to each worker once (a KeyObject is cloned into the worker), and are forgotten there
 * when the main thread's key object is collected. A check whose worker stops before answering
 * is rejected with an Error (a 500, never an acceptance); the next check starts a new worker.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Verifier } from '../keys/jwk-import.js'
import {
  check as checkHere,
  SIGNATURE_WORKER,
  TAKEN_BY_EVENT_LOOP,
  type BatchMessage,
  type KeyEntry,
  type ResultMessage
} from './signature-worker.js'

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

interface Batch {
  checks: Check[]
  /** Shared with the worker (BatchMessage.claims) when the event loop may take checks of this batch. */
  claims: Uint8Array | undefined
  /** The index of the next check the event loop may take, from the back; -1: none. */
  back: number
}

interface Lane {
  worker: Worker
  /** Key ids this worker holds. */
  known: Set<number>
  /** Batches sent and not answered yet, by sequence number. */
  batches: Map<number, Batch>
  inFlight: number
  /** Key ids to drop at the next message. */
  forget: number[]
}

/**
 * RS* and PS*: RSA verification (the public exponent) costs about 25 µs for 2048 bits on the
 * bench's CPU; ECDSA and EdDSA verification costs two to three times that, and taken by the
 * event loop it slowed distinct ES256 by 8–13 % (docs/decisions/0005): those always go to a worker.
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
  /**
   * Whether the event loop takes RSA checks from the back of a batch sent to a busy worker
   * (default true); false: the workers make every check (a test that holds checks in flight
   * behind a busy worker sets it).
   */
  shareChecks = true
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
  /** The newest batch sent to a busy worker, which the event loop takes checks from; undefined: none. */
  #shared: Batch | undefined
  #taking = false
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
    if (queued.length > 0) {
      const shared = this.shareChecks && this.#allBusy()
      try {
        const batch = this.#send(queued, shared)
        if (shared) {
          this.#shared = batch
          this.#takeLater()
        }
      } catch (error) {
        // not sent (no thread could start, no memory, a key that cannot be cloned): refused,
        // never left pending, and never thrown out of setImmediate (which would end the process)
        for (const check of queued) check.reject(error as Error)
      }
    }
    this.#settled()
  }

  #takeLater(): void {
    if (this.#taking) return
    this.#taking = true
    setImmediate(() => this.#takeOne())
  }

  /**
   * Makes one RSA check of the shared batch on the event loop, the last one neither thread has
   * claimed, and comes back in the next turn while the batch may have more. Stops at the first
   * check the worker has claimed: the worker claims in order, so it has claimed all before it.
   */
  #takeOne(): void {
    this.#taking = false
    const batch = this.#shared
    if (batch === undefined) return
    const claims = batch.claims as Uint8Array
    while (batch.back >= 0) {
      const index = batch.back--
      const check = batch.checks[index] as Check
      if (!isRsa(check.verifier)) continue
      if (Atomics.compareExchange(claims, index, 0, TAKEN_BY_EVENT_LOOP) !== 0) break
      const { verifier, data, signature } = check
      this.#checkedHere++
      check.resolve(checkHere(verifier.digest, verifier.options, data, signature) === 1)
      if (batch.back >= 0) {
        this.#takeLater()
        return
      }
    }
    batch.back = -1
    if (this.#shared === batch) this.#shared = undefined
  }

  /**
   * One batch to the least busy worker, its claims shared with the event loop when `shared`;
   * throws when it could not be sent (nothing of it is then pending).
   */
  #send(checks: Check[], shared: boolean): Batch {
    const lane = this.#leastBusy()
    let size = 4
    for (const check of checks) size += 12 + check.data.length + check.signature.length
    const buffer = new ArrayBuffer(size)
    const batch = Buffer.from(buffer)
    // allocated before any key is marked known: nothing after the loop but postMessage can throw
    const claims = shared ? new Uint8Array(new SharedArrayBuffer(checks.length)) : undefined
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
    if (claims !== undefined) message.claims = claims.buffer
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
    const sent: Batch = { checks, claims, back: claims === undefined ? -1 : checks.length - 1 }
    lane.batches.set(seq, sent)
    lane.inFlight += checks.length
    return sent
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
      const batch = lane.batches.get(seq)
      if (batch === undefined) return
      const checks = batch.checks
      // answers come in parts, in order; the batch is done with its last check's
      const end = from + results.length
      if (end >= checks.length) lane.batches.delete(seq)
      lane.inFlight -= results.length
      for (let i = 0; i < results.length; i++) {
        const result = results[i]
        // a check the event loop took is already answered
        if (result === TAKEN_BY_EVENT_LOOP) continue
        this.#checkedByWorkers++
        checks[from + i]?.resolve(result === 1)
      }
      this.#settled()
    })
    const stopped = (reason: string): void => {
      if (this.#lanes[index] === lane) this.#lanes[index] = undefined
      const error = new Error(`signature check worker stopped (${reason})`)
      for (const batch of lane.batches.values()) {
        batch.back = -1 // nothing more to take from it: its checks are refused
        for (const check of batch.checks) check.reject(error)
      }
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
