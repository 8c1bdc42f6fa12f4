/**
 * The signature-check threads (src/token/signature-workers.ts): every answer of a batch goes to
 * the check that asked for it, each agrees with node:crypto's own synchronous verify(), keys
 * reach a new worker again, a worker that stops refuses its checks (never accepts them) and is
 * replaced, close() lets the checks already asked for finish, and while a worker is busy the
 * event loop takes RSA checks back from its next batch, each check made by exactly one thread,
 * with the same answers.
 */
import { sign, verify } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import type { JwsAlg } from '../../src/config.js'
import { importJwk, type Verifier } from '../../src/keys/jwk-import.js'
import { derFromJoseEcdsa } from '../../src/token/signature.js'
import {
  CLAIMED_BY_WORKER,
  SIGNATURE_WORKER,
  TAKEN_BY_EVENT_LOOP,
  type BatchMessage,
  type ResultMessage
} from '../../src/token/signature-worker.js'
import { SignatureWorkers } from '../../src/token/signature-workers.js'
import { makeKey, type TestAlg } from '../helpers/keys.js'

let workers: SignatureWorkers | undefined
afterEach(async () => {
  await workers?.close()
  workers = undefined
})

interface Case {
  verifier: Verifier
  data: Buffer
  /** As the worker receives it (DER for ECDSA). */
  signature: Buffer
}

/** A key of `alg`, as the key store imports it, and a signed message; `tamper` flips a byte of the signature. */
function makeCase(alg: TestAlg, index: number, tamper: boolean): Case {
  const key = makeKey(alg)
  const verifier = importJwk(key.publicJwk, new Set([alg])).verifiers.get(alg as JwsAlg) as Verifier
  const data = Buffer.from(`message ${index} signed with ${alg}`)
  let signature =
    alg === 'EdDSA'
      ? sign(null, data, key.privateKey)
      : sign(verifier.digest, data, {
          key: key.privateKey,
          ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
          ...(alg.startsWith('PS') ? { padding: 6, saltLength: Number(alg.slice(2)) / 8 } : {})
        })
  if (tamper) {
    signature = Buffer.from(signature)
    signature.writeUInt8(signature.readUInt8(signature.length >> 1) ^ 0x01, signature.length >> 1)
  }
  return { verifier, data, signature: verifier.joseEcdsa ? derFromJoseEcdsa(signature) : signature }
}

/** node:crypto's own synchronous answer, the reference. */
function reference({ verifier, data, signature }: Case): boolean {
  try {
    return verify(verifier.digest, data, verifier.options, signature)
  } catch {
    return false
  }
}

/** A batch as signature-workers.ts encodes it: the count, then per check its key id, the lengths, the data and the signature. */
function batchOf(keyId: number, cases: Case[]): ArrayBuffer {
  const batch = Buffer.alloc(cases.reduce((size, c) => size + 12 + c.data.length + c.signature.length, 4))
  batch.writeUInt32LE(cases.length, 0)
  let at = 4
  for (const { data, signature } of cases) {
    batch.writeUInt32LE(keyId, at)
    batch.writeUInt32LE(data.length, at + 4)
    batch.writeUInt32LE(signature.length, at + 8)
    at += 12
    at += data.copy(batch, at)
    at += signature.copy(batch, at)
  }
  return batch.buffer.slice(batch.byteOffset, batch.byteOffset + batch.length)
}

const ALGS: TestAlg[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA']

describe('signature-check workers', () => {
  it('answer each check of one large batch, in any mix of keys, as node:crypto does', async () => {
    workers = new SignatureWorkers({ size: 1 })
    const keysUsed = ALGS.map((alg, index) => makeCase(alg, index, false))
    // 300 checks asked for in one turn: one batch; every third signature is tampered with
    const cases = Array.from({ length: 300 }, (_, index) => {
      const base = keysUsed[index % keysUsed.length] as Case
      const tampered = index % 3 === 0
      const signature = Buffer.from(base.signature)
      if (tampered) signature.writeUInt8(signature.readUInt8(signature.length - 5) ^ 0x10, signature.length - 5)
      return { ...base, signature }
    })
    const answers = await Promise.all(cases.map((c) => workers!.verify(c.verifier, c.data, c.signature)))
    expect(answers).toEqual(cases.map(reference))
    expect(answers.filter((ok) => ok)).toHaveLength(200)
    expect(workers.running).toBe(1)
  })

  it('agree with node:crypto across separate batches on several threads', async () => {
    workers = new SignatureWorkers({ size: 3 })
    const cases = ALGS.flatMap((alg, index) => [makeCase(alg, index, false), makeCase(alg, index, true)])
    const asked: Promise<boolean>[] = []
    for (const c of [...cases, ...cases]) {
      // a turn each: many small batches, each to the least busy thread (a key reaches each thread once)
      asked.push(workers.verify(c.verifier, c.data, c.signature))
      await new Promise((resolve) => setImmediate(resolve))
    }
    const answers = await Promise.all(asked)
    expect(answers).toEqual([...cases, ...cases].map(reference))
    expect(answers.filter((ok) => ok)).toHaveLength(ALGS.length * 2)
  })

  it('answer a long batch in parts, so that its first checks are not held until its last', async () => {
    workers = new SignatureWorkers({ size: 1 })
    const good = makeCase('ES256', 1, false)
    // the turn of the event loop in which each answer arrives
    let turn = 0
    let turning = true
    const next = (): void => {
      turn++
      if (turning) setImmediate(next)
    }
    setImmediate(next)
    const turns: number[] = []
    const asked = Array.from({ length: 1000 }, () =>
      workers!.verify(good.verifier, good.data, good.signature).then((ok) => (turns.push(turn), ok))
    )
    const answers = await Promise.all(asked)
    turning = false
    expect(answers.every((ok) => ok)).toBe(true)
    expect(turns).toHaveLength(1000)
    expect(new Set(turns).size).toBeGreaterThan(1)
  })

  it('refuse a signature made for other data or by another key of the same type', async () => {
    workers = new SignatureWorkers({ size: 1 })
    const a = makeCase('RS256', 1, false)
    const b = makeCase('RS256', 2, false)
    const answers = await Promise.all([
      workers.verify(a.verifier, a.data, a.signature),
      workers.verify(a.verifier, b.data, a.signature),
      workers.verify(b.verifier, a.data, a.signature),
      workers.verify(a.verifier, a.data, Buffer.alloc(0))
    ])
    expect(answers).toEqual([true, false, false, false])
  })

  it('refuse the checks of a worker that stops before answering, then start a new one', async () => {
    workers = new SignatureWorkers({ size: 1, workerUrl: new URL('../fixtures/dying-signature-worker.mjs', import.meta.url) })
    const good = makeCase('ES256', 1, false)
    const ask = (count: number): Promise<PromiseSettledResult<boolean>[]> =>
      Promise.allSettled(Array.from({ length: count }, () => workers!.verify(good.verifier, good.data, good.signature)))

    expect((await ask(5)).map((r) => r.status === 'fulfilled' && r.value)).toEqual([true, true, true, true, true])
    const crashed = await ask(13) // the fixture's worker exits on a batch of 13
    expect(crashed.map((r) => r.status)).toEqual(Array.from({ length: 13 }, () => 'rejected'))
    expect(String((crashed[0] as PromiseRejectedResult).reason)).toMatch(/signature check worker stopped \(exit code 3\)/)
    expect(workers.running).toBe(0)
    // the next checks go to a new worker, which is sent the key again
    expect((await ask(4)).map((r) => r.status === 'fulfilled' && r.value)).toEqual([true, true, true, true])
    expect(workers.running).toBe(1)
  })

  it('refuse the checks, without ending the process, when no worker can start', async () => {
    // a worker module Node cannot load as a thread (an http: URL): new Worker() throws at once
    workers = new SignatureWorkers({ size: 1, workerUrl: new URL('http://127.0.0.1/signature-worker.js') })
    const good = makeCase('RS256', 1, false)
    const answers = await Promise.allSettled([1, 2, 3].map(() => workers!.verify(good.verifier, good.data, good.signature)))
    expect(answers.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(String((answers[0] as PromiseRejectedResult).reason)).toMatch(/ERR_INVALID_URL_SCHEME|scheme/i)
    expect(workers.running).toBe(0)
    await workers.close() // nothing in flight: returns
  })

  it('close: the checks already asked for are answered, later ones refused, the threads stopped', async () => {
    workers = new SignatureWorkers({ size: 2 })
    const good = makeCase('RS256', 1, false)
    const asked = Array.from({ length: 50 }, () => workers!.verify(good.verifier, good.data, good.signature))
    const closed = workers.close()
    await expect(workers.verify(good.verifier, good.data, good.signature)).rejects.toThrow('signature workers are closed')
    expect(await Promise.all(asked)).toEqual(Array.from({ length: 50 }, () => true))
    await closed
    await workers.close() // a second close waits for the same, and returns
    expect(workers.running).toBe(0)
  })

  it('while the worker is busy, take the RSA checks of its next batch from the back, one per turn, answering as node:crypto does', async () => {
    workers = new SignatureWorkers({ size: 1 })
    const slow = makeCase('ES256', 1, false)
    // keys made first: making them takes longer than the worker's batch
    const cases = Array.from({ length: 10 }, (_, index) => makeCase(ALGS[index % ALGS.length] as TestAlg, index, index % 2 === 1))
    const ecdsa = Array.from({ length: 6 }, (_, index) => makeCase(index % 2 === 0 ? 'ES256' : 'EdDSA', index, index === 3))
    const turn = (): Promise<unknown> => new Promise((resolve) => setImmediate(resolve))
    // a long batch (about 60 µs a check) keeps the one worker busy for tens of milliseconds
    const long = Array.from({ length: 600 }, () => workers!.verify(slow.verifier, slow.data, slow.signature))
    await turn() // the long batch is sent, to an idle worker: nothing to take from it
    await turn()
    expect(workers.checked).toEqual({ here: 0, workers: 0 })

    // the next turn: 10 checks (`cases`: every other one tampered with), the RSA ones (RS256,
    // PS256) at 0, 1, 5 and 6; sent whole to the busy worker, then taken back one per turn
    const asked = cases.map((c) => workers!.verify(c.verifier, c.data, c.signature))
    const taken: number[] = []
    for (let i = 0; i < 6; i++) {
      await turn()
      taken.push(workers.checked.here)
    }
    expect(taken).toEqual([0, 1, 2, 3, 4, 4])
    // a turn of ECDSA and EdDSA: nothing taken
    const askedEcdsa = ecdsa.map((c) => workers!.verify(c.verifier, c.data, c.signature))
    for (let i = 0; i < 3; i++) await turn()
    expect(workers.checked.here).toBe(4)

    expect(await Promise.all(asked)).toEqual(cases.map(reference))
    expect((await Promise.all(asked)).filter((ok) => ok)).toHaveLength(5)
    expect(await Promise.all(askedEcdsa)).toEqual(ecdsa.map(reference))
    expect(await Promise.all(long)).toEqual(Array.from({ length: 600 }, () => true))
    // each check made once: the worker answered the four taken ones without checking them
    expect(workers.checked).toEqual({ here: 4, workers: 600 + 6 + 6 })

    // an idle worker takes a whole turn
    const idle = cases.map((c) => workers!.verify(c.verifier, c.data, c.signature))
    expect(await Promise.all(idle)).toEqual(cases.map(reference))
    expect(workers.checked).toEqual({ here: 4, workers: 600 + 6 + 6 + 10 })
  })

  it('when the worker and the event loop reach the same checks, each check is made once and answered as node:crypto does', async () => {
    workers = new SignatureWorkers({ size: 1 })
    const rsa = Array.from({ length: 40 }, (_, index) => makeCase(index % 4 === 0 ? 'PS256' : 'RS256', index, index % 3 === 0))
    const slow = makeCase('ES256', 1, false)
    const turn = (): Promise<unknown> => new Promise((resolve) => setImmediate(resolve))
    // turns of RSA checks asked while the worker works through the turns before them: both
    // threads claim checks of the same batches, from either end
    const first = Array.from({ length: 40 }, () => workers!.verify(slow.verifier, slow.data, slow.signature))
    await turn()
    const asked: Promise<boolean>[] = []
    const expected: boolean[] = []
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < 7; i++) {
        const c = rsa[(round * 7 + i) % rsa.length] as Case
        asked.push(workers.verify(c.verifier, c.data, c.signature))
        expected.push(reference(c))
      }
      await turn()
    }
    expect(await Promise.all(asked)).toEqual(expected)
    expect(await Promise.all(first)).toEqual(Array.from({ length: 40 }, () => true))
    const { here, workers: byWorkers } = workers.checked
    expect(here).toBeGreaterThan(0)
    expect(here + byWorkers).toBe(40 + 60 * 7)
  })

  it('with shareChecks false, send every check to the workers and take none back, busy or not', async () => {
    workers = new SignatureWorkers({ size: 1 })
    workers.shareChecks = false
    const slow = makeCase('ES256', 1, false)
    const rsa = makeCase('RS256', 2, false) // made first: making it takes longer than the worker's batch
    const long = Array.from({ length: 300 }, () => workers!.verify(slow.verifier, slow.data, slow.signature))
    await new Promise((resolve) => setImmediate(resolve))
    const next = Array.from({ length: 10 }, () => workers!.verify(rsa.verifier, rsa.data, rsa.signature))
    await new Promise((resolve) => setImmediate(resolve))
    expect(await Promise.all([...long, ...next])).toEqual(Array.from({ length: 310 }, () => true))
    expect(workers.checked).toEqual({ here: 0, workers: 310 })
  })

  it('the worker module takes batches only in a thread started as a signature-check worker', async () => {
    const url = new URL('../../src/token/signature-worker.ts', import.meta.url)
    // another thread that imports it (as the event loop does, for its own checks): nothing
    // listens to its parent, so nothing keeps it running
    const plain = new Worker(url)
    expect(await new Promise((resolve) => plain.once('exit', resolve))).toBe(0)
    // started as signature-workers.ts starts it: it listens, and answers a batch
    const started = new Worker(url, { workerData: SIGNATURE_WORKER })
    try {
      const good = makeCase('RS256', 1, false)
      const answer = new Promise<ResultMessage>((resolve) => started.once('message', resolve))
      const message: BatchMessage = {
        seq: 1,
        keys: [[7, good.verifier.digest, good.verifier.options]],
        batch: batchOf(7, [good])
      }
      started.postMessage(message)
      const { seq, from, results } = await answer
      expect({ seq, from, results: [...results] }).toEqual({ seq: 1, from: 0, results: [1] })

      // a batch shared with the event loop: the worker claims each check before making it, and
      // answers TAKEN_BY_EVENT_LOOP, without checking, for one claimed before it (the second)
      const cases = [good, good, makeCase('RS256', 2, true)]
      const claims = new Uint8Array(new SharedArrayBuffer(cases.length))
      claims[1] = TAKEN_BY_EVENT_LOOP
      const second = new Promise<ResultMessage>((resolve) => started.once('message', resolve))
      started.postMessage({
        seq: 2,
        batch: batchOf(7, cases),
        claims: claims.buffer
      } satisfies BatchMessage)
      const answered = await second
      // the third was signed by another key than key 7: a refusal
      expect({ seq: answered.seq, from: answered.from, results: [...answered.results] }).toEqual({
        seq: 2,
        from: 0,
        results: [1, TAKEN_BY_EVENT_LOOP, 0]
      })
      expect([...claims]).toEqual([CLAIMED_BY_WORKER, TAKEN_BY_EVENT_LOOP, CLAIMED_BY_WORKER])
    } finally {
      await started.terminate()
    }
  })

  it('refuse a size that is not a positive integer', () => {
    expect(() => new SignatureWorkers({ size: 0 })).toThrow(RangeError)
    expect(() => new SignatureWorkers({ size: 1.5 })).toThrow(RangeError)
    expect(() => new SignatureWorkers({ size: -1 })).toThrow(RangeError)
    expect(new SignatureWorkers({ size: 1 }).shareChecks).toBe(true)
  })
})
