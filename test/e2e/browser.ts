// Browser tests' helpers: Debian's Chromium driven by playwright-core, and a screenshot per step.
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, Page } from 'playwright-core'

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
export const SCREENSHOTS = fileURLToPath(new URL('../../test-results/e2e/', import.meta.url))

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic'
]

/**
 * Headless Chromium. playwright-core gives every launch a fresh, temporary user-data-dir (and
 * removes it on close), and every context its own cookies and storage.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`)
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 })
}

/** A context with one page whose console errors and uncaught exceptions are collected. */
export async function openPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  context.setDefaultTimeout(15_000)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => {
    // a 401 that the page asked for on purpose shows up as a failed resource load: not an error of the page
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) errors.push(`${message.text()} (${message.location().url})`)
  })
  page.on('pageerror', (error) => errors.push(error.message))
  return { context, page, errors }
}

export async function resetScreenshots(): Promise<void> {
  await rm(SCREENSHOTS, { recursive: true, force: true })
  await mkdir(SCREENSHOTS, { recursive: true })
}

let step = 0
/** Saves a full-page screenshot as test-results/e2e/NN-name.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  step += 1
  await page.screenshot({ path: join(SCREENSHOTS, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true })
}
