/**
 * A JSON document from the issuer (metadata, keys) or its introspection endpoint, with the
 * safeguards remote calls need: a timeout (withTimeout), no redirects followed, a response
 * size cap, 200 and a JSON object only. Through a proxy too: HTTPS_PROXY / NO_PROXY are applied
 * to the process by proxy.ts, and these safeguards act on the request and its answer alike.
 *
 * The request itself runs on a worker thread of its own (fetch-worker.ts says why: undici's
 * shapes, once seen by the event loop's isolate, slow every request the server answers). The
 * thread starts with the first call, never keeps the process alive while idle, and is started
 * again by the next call if it stops; a call it leaves unanswered fails with the reason.
 */
import { Worker } from 'node:worker_threads'
import { CodedError } from '../errors.js'
import type { AbortMessage, FetchAnswer, FetchMessage } from './fetch-worker.js'
import { outboundProxySettings } from './proxy.js'
import { withTimeout } from './timeout.js'

/** A remote document could not be obtained; the message says why, for the logs (never for a client). */
export class FetchFailed extends CodedError {
  override readonly name = 'FetchFailed'
  readonly code = 'ERR_FETCH_FAILED'
}

export interface FetchedJson {
  body: Record<string, unknown>
  /** Cache-Control max-age in seconds, when the response gave one. */
  maxAge: number | undefined
}

export interface FetchJsonOptions {
  timeoutMs: number
  maxBytes: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  /** Aborts the request early (e.g. when its owner shuts down). */
  signal?: AbortSignal
}

/** Run from source (types stripped by Node or a loader) or from dist/, the worker is this module's sibling. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './fetch-worker.ts' : './fetch-worker.js', import.meta.url)

interface Pending {
  url: string
  resolve(fetched: FetchedJson): void
  reject(error: FetchFailed): void
}

/** The one outbound-HTTP thread of the process, and the calls it has not answered. */
let worker: Worker | undefined
const pending = new Map<number, Pending>()
let nextId = 0

/** The outbound thread while it runs (undefined before the first call, or once it stopped): for tests and diagnostics. */
export function outboundThread(): Worker | undefined {
  return worker
}

function settle(id: number): Pending | undefined {
  const call = pending.get(id)
  if (call === undefined) return undefined
  pending.delete(id)
  // idle: the thread is not what keeps the process alive
  if (pending.size === 0) worker?.unref()
  return call
}

function started(): Worker {
  if (worker !== undefined) return worker
  const thread = new Worker(WORKER_URL, { name: 'outbound-http' })
  thread.on('message', (answer: FetchAnswer) => {
    const call = settle(answer.id)
    if (call === undefined) return
    if ('error' in answer) call.reject(new FetchFailed(answer.error))
    else call.resolve({ body: answer.body, maxAge: answer.maxAge })
  })
  const stopped = (reason: string): void => {
    if (worker === thread) worker = undefined
    for (const id of [...pending.keys()]) {
      const call = settle(id)
      call?.reject(new FetchFailed(`${call.url}: the outbound HTTP thread stopped (${reason})`))
    }
  }
  thread.on('error', (error) => stopped(error.message))
  // an answer that could not be read is lost: the thread is stopped, so that its calls fail rather than wait
  thread.on('messageerror', () => void thread.terminate())
  thread.on('exit', (code) => stopped(`exit code ${code}`))
  // after the listeners (a 'message' listener holds a reference again): the calls ref and unref it
  thread.unref()
  worker = thread
  return thread
}

/** The request on the outbound thread, until `deadline` (or the caller's own signal) aborts it. */
function request(url: string, options: FetchJsonOptions, deadline: AbortSignal): Promise<FetchedJson> {
  if (options.signal?.aborted === true) return Promise.reject(new FetchFailed(`${url}: aborted`))
  const thread = started()
  const id = nextId++
  const message: FetchMessage = {
    kind: 'fetch',
    id,
    url,
    method: options.method ?? 'GET',
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
    maxBytes: options.maxBytes,
    proxy: outboundProxySettings()
  }
  return new Promise<FetchedJson>((resolve, reject) => {
    // settled here at once: a thread slow to honour the abort neither holds the caller nor, being
    // referenced while a call is pending, the process (its late answer finds no call and is dropped)
    const abort = (): void => {
      if (!pending.has(id)) return
      thread.postMessage({ kind: 'abort', id } satisfies AbortMessage)
      settle(id)?.reject(new FetchFailed(`${url}: aborted`))
    }
    const done = (): void => {
      deadline.removeEventListener('abort', abort)
      options.signal?.removeEventListener('abort', abort)
    }
    pending.set(id, {
      url,
      resolve: (fetched) => {
        done()
        resolve(fetched)
      },
      reject: (error) => {
        done()
        reject(error)
      }
    })
    // a call in flight keeps the process alive, as its socket would on this thread
    if (pending.size === 1) thread.ref()
    deadline.addEventListener('abort', abort)
    options.signal?.addEventListener('abort', abort)
    thread.postMessage(message)
  })
}

export function fetchJson(url: string, options: FetchJsonOptions): Promise<FetchedJson> {
  return withTimeout(
    options.timeoutMs,
    (deadline) => request(url, options, deadline),
    () => new FetchFailed(`${url}: timed out after ${options.timeoutMs} ms`)
  )
}
