// Builds the server into dist/ with esbuild, our code and its libraries bundled into a few
// files. Node 20 keeps a module record, source text and scope for every module it loads, one
// file at a time: typebox (683 files), kysely (262), Fastify and the rest cost ~60 MiB of
// resident memory loaded that way, a fraction of it bundled (issue 15's idle-memory target).
// Left as ordinary imports from node_modules: native addons, the libraries loaded only when
// configured (database drivers, Redis, mail, WebAuthn, OIDC, QR codes), and packages that
// read their own files at run time (Swagger UI's assets, the common-password list).
import { build } from 'esbuild'
import { rmSync } from 'node:fs'

const external = [
  // native addons
  'argon2',
  'better-sqlite3',
  // loaded on first use (dynamic imports)
  'pg',
  'mysql2',
  'ioredis',
  'nodemailer',
  '@simplewebauthn/server',
  'qrcode',
  'oidc-provider',
  // read files next to their own code
  '@fastify/swagger',
  '@fastify/swagger-ui',
  '@zxcvbn-ts/language-common',
  // Fastify's logger starts worker threads from its own files when given a transport
  'pino',
]

rmSync('dist', { recursive: true, force: true })
await build({
  entryPoints: {
    main: 'src/main.ts',
    'cli/index': 'src/cli/index.ts',
    // What the bench (bench/targets.js, bench/hash-rate.js) loads: the code `npm start` runs.
    app: 'src/app.ts',
    container: 'src/container.ts',
    'config/index': 'src/config/index.ts',
    'store/migrate': 'src/store/migrate.ts',
    'crypto/password-hasher': 'src/crypto/password-hasher.ts',
  },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external,
  // Bundled CommonJS packages require Node's built-ins; an ES module has no `require`.
  banner: {
    js: "import { createRequire as __gatehouseRequire } from 'node:module'; const require = __gatehouseRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
})
