import type { Invalidation, InvalidationBus } from './invalidation.js'
import { loggable, type WarningLog } from '../ports.js'

/** The pub/sub half of a Redis link: just enough to fan messages out to other instances. */
export interface PubSub {
  publish(channel: string, message: string): Promise<void>
  subscribe(channel: string, listener: (message: string) => void): Promise<void>
}

const CHANNEL = 'invalidate'

/**
 * Makes a local bus reach every instance: a published message is delivered here at once
 * and sent over pub/sub; messages from other instances are delivered here as they arrive.
 * A message lost while Redis is away only delays an invalidation: every cache also
 * re-reads the database after a short time (see session-gate.ts).
 */
export function createSharedBus(deps: {
  local: InvalidationBus & { deliver(message: Invalidation): void }
  pubsub: PubSub
  /** Tells our own echoes apart from other instances' messages. */
  instanceId: string
  log: WarningLog
}): InvalidationBus {
  const { local, pubsub, instanceId } = deps
  // The other instances miss this message; the gate's and the caches' short re-reads bound
  // how long they act on what changed. Said once per outage: every session end and profile
  // change fails alike while Redis is away.
  let failing = false
  const onError = (err: unknown) => {
    if (failing) return
    failing = true
    deps.log.warn({ err: loggable(err) }, 'a change could not be told to the other instances')
  }

  pubsub
    .subscribe(CHANNEL, (raw) => {
      let parsed: { from?: unknown; message?: Invalidation }
      try {
        parsed = JSON.parse(raw) as typeof parsed
      } catch {
        return // not ours: another writer on the same prefix
      }
      if (parsed.from === instanceId || !parsed.message) return
      local.deliver(parsed.message)
    })
    .catch(onError)

  return {
    publish(message) {
      local.deliver(message)
      pubsub
        .publish(CHANNEL, JSON.stringify({ from: instanceId, message }))
        .then(() => (failing = false), onError)
    },
    subscribe: (listener) => local.subscribe(listener),
  }
}
