// `npm start` (node dist/main.js): the server, or one clear line saying why it could not start.
import { ConfigError } from './config/index.js'
import { serve } from './serve.js'

serve().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message)
  } else {
    console.error(err instanceof Error ? `startup failed: ${err.message}` : 'startup failed')
  }
  process.exit(1)
})
