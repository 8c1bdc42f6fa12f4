/**
 * Local development may keep settings in a `.env` file; variables already set win.
 * Never read when NODE_ENV=production.
 */
import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'

export function loadDotEnv(path = '.env', env: NodeJS.ProcessEnv = process.env): void {
  if (env.NODE_ENV === 'production' || !existsSync(path)) return
  const values = parseEnv(readFileSync(path, 'utf8'))
  for (const [name, value] of Object.entries(values)) {
    if (env[name] === undefined) env[name] = value
  }
}
