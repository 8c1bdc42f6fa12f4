/**
 * Imported first by the entry: libuv's threadpool runs DPoP proof signature checks
 * (src/dpop/proof.ts), fs, dns.lookup and zlib work (access-token signatures run on the
 * signature-check worker threads, src/token/signature-workers.ts, sized by the same rule). On a
 * small machine one pool thread per spare core (leaving one for the event loop) measured best.
 * libuv reads UV_THREADPOOL_SIZE when the pool first starts, so this must run before any
 * crypto, fs or dns call. An operator's own setting wins.
 */
import { availableParallelism } from 'node:os'

process.env.UV_THREADPOOL_SIZE ??= String(Math.max(1, Math.min(4, availableParallelism() - 1)))
