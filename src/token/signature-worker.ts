/**
 * The body of one signature-check worker thread (signature-workers.ts starts it): it receives
 * a batch of checks in one transferred buffer, checks each synchronously with node:crypto,
 * and answers with one byte per check (1: the signature verifies), in parts: whatever it has
 * checked whenever ANSWER_EVERY_MS has passed since its last answer, and the rest at the end, so
 * that the first requests of a long batch (ES256: ~55 µs a check) need not wait for the last
 * ones while the event loop sits idle. A check it cannot make (an unknown key id, an error from
 * OpenSSL) answers 0: a refusal, never an acceptance.
 *
 * A batch may come with `claims`, one shared byte per check: the worker claims each check
 * (0 → CLAIMED_BY_WORKER, atomically) before it makes it, and answers TAKEN_BY_EVENT_LOOP,
 * without checking, for one the event loop has claimed first (signature-workers.ts).
 *
 * Loaded as it is by Node (types stripped) when the app runs from source, and as compiled
 * JavaScript from dist/: so it imports Node's own modules only.
 *
 * Batch layout (little-endian): u32 count, then per check: u32 key id, u32 data length,
 * u32 signature length, the data bytes, the signature bytes.
 */
import { verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto'
import { parentPort, workerData } from 'node:worker_threads'

/** [key id, digest (null for EdDSA), key or key options] */
export type KeyEntry = [number, string | null, KeyObject | VerifyKeyObjectInput]

export interface BatchMessage {
  seq: number
  /** Keys this worker has not been sent yet. */
  keys?: KeyEntry[]
  /** Keys no longer in use anywhere. */
  forget?: number[]
  batch: ArrayBuffer
  /** One byte per check, shared with the event loop: 0 unclaimed, CLAIMED_BY_WORKER, or TAKEN_BY_EVENT_LOOP. */
  claims?: SharedArrayBuffer
}

/** A claim byte: this worker makes the check. */
export const CLAIMED_BY_WORKER = 1
/** A claim byte, and the answer for it: the event loop made the check and answered it itself. */
export const TAKEN_BY_EVENT_LOOP = 2

export interface ResultMessage {
  seq: number
  /** The index in the batch of the first answer in `results`. */
  from: number
  results: Uint8Array<ArrayBuffer>
}

/**
 * How long checked answers may wait before they are sent (a part of a batch). Measured head to
 * head (`npm run bench -- --versus=<other build>`, distinct tokens): parts every 0.1 ms beat one
 * answer per batch by 4–19 %; 0.3 ms was as fast as 0.1 ms with less event-loop time.
 */
const ANSWER_EVERY_MS = 0.3

const keys = new Map<number, { digest: string | null; key: KeyObject | VerifyKeyObjectInput }>()

/**
 * One check: 1 when `signature` verifies, 0 otherwise (an error from OpenSSL included). The
 * event loop makes its own checks with this too (signature-workers.ts), so that both answer alike.
 */
export function check(digest: string | null, key: KeyObject | VerifyKeyObjectInput, data: Buffer, signature: Buffer): number {
  try {
    return verify(digest, data, key, signature) ? 1 : 0
  } catch {
    return 0
  }
}

/** The workerData signature-workers.ts starts this thread with: only then does this module take batches from its parent. */
export const SIGNATURE_WORKER = 'signature-check'

// imported by the event loop for check() (and by any other thread), this module listens to no one
if (workerData === SIGNATURE_WORKER)
  parentPort?.on('message', (message: BatchMessage) => {
    for (const [id, digest, key] of message.keys ?? []) keys.set(id, { digest, key })
    for (const id of message.forget ?? []) keys.delete(id)
    const batch = Buffer.from(message.batch)
    const count = batch.readUInt32LE(0)
    let results = new Uint8Array(count)
    let from = 0
    let sentAt = performance.now()
    let at = 4
    const claims = message.claims === undefined ? undefined : new Uint8Array(message.claims)
    for (let i = 0; i < count; i++) {
      const id = batch.readUInt32LE(at)
      const dataLength = batch.readUInt32LE(at + 4)
      const signatureLength = batch.readUInt32LE(at + 8)
      at += 12
      const data = batch.subarray(at, at + dataLength)
      at += dataLength
      const signature = batch.subarray(at, at + signatureLength)
      at += signatureLength
      const entry = keys.get(id)
      if (claims !== undefined && Atomics.compareExchange(claims, i, 0, CLAIMED_BY_WORKER) !== 0) results[i - from] = TAKEN_BY_EVENT_LOOP
      else results[i - from] = entry === undefined ? 0 : check(entry.digest, entry.key, data, signature)
      if (i + 1 < count && performance.now() - sentAt >= ANSWER_EVERY_MS) {
        answer(message.seq, from, results.subarray(0, i + 1 - from))
        from = i + 1
        results = new Uint8Array(count - from)
        sentAt = performance.now()
      }
    }
    answer(message.seq, from, results)
  })

function answer(seq: number, from: number, results: Uint8Array): void {
  const message: ResultMessage = { seq, from, results: results.slice() }
  parentPort?.postMessage(message, [message.results.buffer])
}
