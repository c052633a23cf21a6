#!/usr/bin/env node
// Runs the compiled CLI. `npm ci` / `npm install` build dist/ once (the `prepare` script);
// nothing is compiled here, so every call starts at once.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = new URL('../dist/cli/index.js', import.meta.url)
if (!existsSync(fileURLToPath(cli))) {
  console.error('gatehouse: not built yet; run npm run build (npm ci runs it for you)')
  process.exit(1)
}
await import(cli.href)
