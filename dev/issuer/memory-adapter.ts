import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider'

interface Entry {
  payload: AdapterPayload
  expiresAt: number
}

/** Models whose records belong to a grant and go when the grant is revoked. */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])

/**
 * An in-memory store for oidc-provider, private to one development issuer (so two issuers in one
 * process never share state, and oidc-provider does not print its "in-memory adapter" warning).
 * Everything is lost when the issuer stops, which is what a development issuer wants.
 */
export function createMemoryAdapter(): AdapterFactory {
  const records = new Map<string, Entry>()
  const byGrant = new Map<string, Set<string>>()
  const sessionByUid = new Map<string, string>()
  const byUserCode = new Map<string, string>()

  const read = (key: string): AdapterPayload | undefined => {
    const entry = records.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      records.delete(key)
      return undefined
    }
    return entry.payload
  }

  return (model: string): Adapter => {
    const keyFor = (id: string): string => `${model}:${id}`

    return {
      async upsert(id, payload, expiresIn) {
        const key = keyFor(id)
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity
        records.set(key, { payload, expiresAt })
        if (model === 'Session' && typeof payload.uid === 'string') sessionByUid.set(payload.uid, id)
        if (typeof payload.userCode === 'string') byUserCode.set(payload.userCode, id)
        if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
          const members = byGrant.get(payload.grantId) ?? new Set<string>()
          members.add(key)
          byGrant.set(payload.grantId, members)
        }
      },
      async find(id) {
        return read(keyFor(id))
      },
      async findByUid(uid) {
        const id = sessionByUid.get(uid)
        return id === undefined ? undefined : read(keyFor(id))
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode)
        return id === undefined ? undefined : read(keyFor(id))
      },
      async consume(id) {
        const payload = read(keyFor(id))
        if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000)
      },
      async destroy(id) {
        const key = keyFor(id)
        const payload = records.get(key)?.payload
        records.delete(key)
        if (typeof payload?.uid === 'string' && sessionByUid.get(payload.uid) === id) sessionByUid.delete(payload.uid)
        if (typeof payload?.userCode === 'string') byUserCode.delete(payload.userCode)
        if (typeof payload?.grantId === 'string') byGrant.get(payload.grantId)?.delete(key)
      },
      async revokeByGrantId(grantId) {
        for (const key of byGrant.get(grantId) ?? []) records.delete(key)
        byGrant.delete(grantId)
      }
    }
  }
}
