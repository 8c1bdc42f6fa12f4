/**
 * Converted key objects are built once per key, never per request: node:crypto's
 * createPublicKey is counted while the API verifies many tokens and refetches its keys.
 */
import * as crypto from 'node:crypto'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { startTestApi, type TestApi } from '../helpers/test-api.js'
import { makeKey } from '../helpers/keys.js'

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>()
  return { ...original, createPublicKey: vi.fn(original.createPublicKey) }
})

const createPublicKey = vi.mocked(crypto.createPublicKey)

describe('converted key objects', () => {
  let api: TestApi
  afterAll(async () => {
    await api.close()
  })

  it('are built once per key at the fetch', async () => {
    api = await startTestApi({ algs: ['RS256', 'ES256', 'EdDSA'], waitForKeys: false })
    createPublicKey.mockClear()
    await api.app.keyStore.start()
    expect(createPublicKey).toHaveBeenCalledTimes(3)
  })

  it('are not built again per request', async () => {
    createPublicKey.mockClear()
    for (const key of api.keys) {
      const responses = await Promise.all(
        Array.from({ length: 30 }, () =>
          api.app.inject({
            url: '/api/me',
            headers: { authorization: `Bearer ${api.token({}, {}, key)}` }
          })
        )
      )
      expect(responses.every((res) => res.statusCode === 200)).toBe(true)
    }
    expect(createPublicKey).not.toHaveBeenCalled()
  })

  it('are not built again when a refetch returns the same keys, and only the new one is built at rotation', async () => {
    createPublicKey.mockClear()
    await api.app.keyStore.refresh('test')
    expect(createPublicKey).not.toHaveBeenCalled()
    api.issuer.setKeys([...api.keys, makeKey('ES256')])
    await api.app.keyStore.refresh('test')
    expect(createPublicKey).toHaveBeenCalledTimes(1)
  })
})
