// `npm ci` / `npm install` run this (the prepare script): it builds dist/ and web/dist/. A
// production install (`npm ci --omit=dev`, as ops/gatehouse.service describes) has no build
// tools, and npm runs prepare there too: it keeps the build made before, and fails only when
// there is none.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const buildTools = ['esbuild', 'vite']
const built = ['dist/main.js', 'dist/cli/index.js', 'web/dist/index.html']

if (buildTools.every((name) => existsSync(`node_modules/${name}/package.json`))) {
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit' })
} else if (built.every((file) => existsSync(file))) {
  console.log('prepare: no build tools here (a production install); keeping the existing build')
} else {
  console.error(
    'prepare: nothing is built and the build tools are not installed: run npm ci with the ' +
      'dev dependencies (and npm run build) first',
  )
  process.exit(1)
}
