/**
 * Imported first by the entry: signature checks run on libuv's threadpool, and on a small
 * machine one pool thread per spare core (leaving one for the event loop) measured best.
 * libuv reads UV_THREADPOOL_SIZE when the pool first starts, so this must run before any
 * crypto, fs or dns call. An operator's own setting wins.
 */
import { availableParallelism } from 'node:os'

process.env.UV_THREADPOOL_SIZE ??= String(Math.max(1, Math.min(4, availableParallelism() - 1)))
