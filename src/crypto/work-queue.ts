/**
 * Why the hasher did not take a password: too many were waiting already (`busy`), or the one
 * that asked gave up while waiting (`abandoned`: its client hung up). Neither says anything
 * about the password, so a login refused this way counts as no attempt.
 */
export class HashingRefused extends Error {
  constructor(readonly reason: 'busy' | 'abandoned') {
    super(
      reason === 'busy'
        ? 'too many passwords are waiting to be hashed'
        : 'the request was abandoned while waiting to be hashed',
    )
  }
}

/** What the queue holds now and has refused: for the metrics. */
export interface QueueLoad {
  running: number
  waiting: number
  /** Tasks refused since start, by reason. */
  refused: Record<HashingRefused['reason'], number>
}

/**
 * Runs at most `limit` tasks at once, the others in arrival order. Each argon2id computation
 * holds its 19 MiB while it runs on libuv's pool (four threads by default), and on a machine
 * with fewer cores than that, the extra ones in flight add memory but no throughput: they
 * only share the same cores.
 *
 * Under a flood the waiting line is what grows, so it is bounded too (`maxWaiting`, past
 * which a task is refused at once), and a task whose `signal` fires while it waits leaves the
 * line: otherwise the cores would go on hashing for clients that timed out long ago, and
 * every answer would come too late for the one who asked.
 */
export function createWorkQueue(limit: number, maxWaiting = Number.POSITIVE_INFINITY) {
  let running = 0
  const waiting: (() => void)[] = []
  const refused = { busy: 0, abandoned: 0 }
  const refuse = (reason: HashingRefused['reason']) => {
    refused[reason]++
    return new HashingRefused(reason)
  }

  function waitForTurn(signal: AbortSignal | undefined): Promise<void> {
    if (waiting.length >= maxWaiting) return Promise.reject(refuse('busy'))
    return new Promise<void>((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', leave)
        resolve()
      }
      const leave = () => {
        waiting.splice(waiting.indexOf(start), 1)
        reject(refuse('abandoned'))
      }
      signal?.addEventListener('abort', leave, { once: true })
      waiting.push(start)
    })
  }

  async function run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw refuse('abandoned')
    if (running >= limit) await waitForTurn(signal)
    else running++
    try {
      return await task()
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips and a
      // newcomer cannot overtake it.
      const next = waiting.shift()
      if (next) next()
      else running--
    }
  }

  return {
    run,
    load: (): QueueLoad => ({ running, waiting: waiting.length, refused: { ...refused } }),
  }
}
