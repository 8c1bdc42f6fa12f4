/**
 * The one timeout of the remote calls (issuer metadata, keys, introspection), and of the
 * waits on them: a task gets a deadline.
 */

/**
 * Runs `task` with a deadline of `ms`: past it, the signal given to the task aborts and the
 * returned promise rejects with `onTimeout()`, whatever the task does afterwards (its outcome
 * is then ignored, never left unhandled). The timer ends with the task and never keeps the
 * process alive on its own.
 */
export function withTimeout<T>(ms: number, task: (signal: AbortSignal) => Promise<T>, onTimeout: () => Error): Promise<T> {
  const controller = new AbortController()
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = onTimeout()
      controller.abort(error)
      reject(error)
    }, ms)
    timer.unref()
    let work: Promise<T>
    try {
      work = task(controller.signal)
    } catch (error) {
      clearTimeout(timer)
      reject(error as Error)
      return
    }
    work.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error as Error)
      }
    )
  })
}
