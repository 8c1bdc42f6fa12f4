/**
 * Child processes for the bench: spawn with a log file, wait until an HTTP endpoint
 * answers, stop gracefully (SIGTERM, then SIGKILL after a grace period), and read a
 * process's resident memory and CPU time from /proc. Only processes started here are ever
 * signalled, by their own pid.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
export { freePort } from '../scripts/free-port.js'

const children = new Set<ChildProcess>()

export interface Spawned {
  child: ChildProcess
  pid: number
  logFile: string
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>
}

export function spawnLogged(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Spawned {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const log = createWriteStream(logFile)
  child.stdout?.pipe(log, { end: false })
  child.stderr?.pipe(log, { end: false })
  children.add(child)
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve(code ?? signal ?? -1)
    })
  })
  if (child.pid === undefined) throw new Error(`could not start ${command}`)
  return { child, pid: child.pid, logFile, exited }
}

export async function stop(spawned: Spawned, graceMs = 15_000): Promise<number | string> {
  if (spawned.child.exitCode !== null || spawned.child.signalCode !== null) return spawned.exited
  spawned.child.kill('SIGTERM')
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), graceMs)
  const result = await spawned.exited
  clearTimeout(timer)
  return result
}

/** On any exit of the bench, no child is left behind. */
export function killAllOnExit(): void {
  const killAll = (): void => {
    for (const child of children) child.kill('SIGKILL')
  }
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killAll()
      process.exit(130)
    })
  }
}

export async function waitForHttp(url: string, spawned: Spawned, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (spawned.child.exitCode !== null)
      throw new Error(`process exited (${spawned.child.exitCode}) before ${url} answered; see ${spawned.logFile}`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (response.status === 200) {
        await response.arrayBuffer()
        return
      }
      last = `status ${response.status}`
      await response.arrayBuffer()
    } catch (error) {
      last = (error as Error).message
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last}); see ${spawned.logFile}`)
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status), or undefined once gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

let clockTicks: number | undefined
/** The kernel's clock ticks per second (CLK_TCK), the unit of /proc's CPU times. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/**
 * User + system CPU seconds of a process, all threads (/proc/<pid>/stat), or of its main
 * thread only (/proc/<pid>/task/<pid>/stat: for Node, the event loop).
 */
export function cpuSeconds(pid: number, mainThreadOnly = false): number {
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond()
  } catch {
    return Number.NaN
  }
}

/** Runs a command to completion, collecting stdout; rejects on a non-zero exit. */
export function runCollect(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine?: (line: string) => void
): Promise<{ stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stdout = ''
    let stderr = ''
    let pending = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      if (onLine === undefined) return
      pending += chunk
      let nl: number
      while ((nl = pending.indexOf('\n')) !== -1) {
        onLine(pending.slice(0, nl))
        pending = pending.slice(nl + 1)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      children.delete(child)
      if (code === 0) resolve({ stdout, stderr, pid: child.pid ?? 0 })
      else reject(new Error(`${command} exited with ${code ?? signal}: ${stderr.slice(-2000)}`))
    })
  })
}
