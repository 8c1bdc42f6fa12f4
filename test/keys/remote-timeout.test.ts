/**
 * The one timeout of the remote calls (src/remote/timeout.ts): the task's outcome within the
 * deadline; past it, onTimeout()'s error and an aborted signal, whatever the task does later.
 */
import { describe, expect, it } from 'vitest'
import { withTimeout } from '../../src/remote/timeout.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('withTimeout', () => {
  it("gives the task's value or error when it settles in time", async () => {
    await expect(
      withTimeout(
        1000,
        async () => 'value',
        () => new Error('late')
      )
    ).resolves.toBe('value')
    await expect(
      withTimeout(
        1000,
        async () => {
          throw new Error('own')
        },
        () => new Error('late')
      )
    ).rejects.toThrow('own')
    await expect(
      withTimeout(
        1000,
        () => {
          throw new Error('sync')
        },
        () => new Error('late')
      )
    ).rejects.toThrow('sync')
  })

  it("rejects with onTimeout() past the deadline, aborts the task's signal, and ignores the task's later outcome", async () => {
    let signal: AbortSignal | undefined
    let settledLate = false
    const started = performance.now()
    const run = withTimeout(
      50,
      async (given) => {
        signal = given
        await sleep(200)
        settledLate = true
        throw new Error('too late to matter')
      },
      () => new Error('timed out')
    )
    await expect(run).rejects.toThrow('timed out')
    expect(performance.now() - started).toBeLessThan(190)
    expect(signal?.aborted).toBe(true)
    expect((signal?.reason as Error).message).toBe('timed out')
    await sleep(200)
    expect(settledLate).toBe(true)
  })

  it('does not abort the signal of a task that finished in time', async () => {
    let signal: AbortSignal | undefined
    await withTimeout(
      30,
      async (given) => {
        signal = given
      },
      () => new Error('late')
    )
    await sleep(60)
    expect(signal?.aborted).toBe(false)
  })
})
