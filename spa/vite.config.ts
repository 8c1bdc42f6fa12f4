// The demo SPA's build: plain TypeScript modules bundled by Vite into spa/dist (git-ignored).
// `npm run build:spa` runs it; `npm run dev` and the browser tests build through it when stale.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true
  }
})
