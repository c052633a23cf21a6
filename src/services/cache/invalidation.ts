/**
 * What one instance tells the others (and its own caches) when state that caches hold has
 * changed. Locally it is a plain fan-out; with REDIS_URL the same messages also travel over
 * pub/sub. Caches never rely on it alone: each entry is also revalidated against the
 * database after a short time, so a lost message costs seconds, never correctness.
 */
export type Invalidation =
  | { kind: 'sessions_ended'; ids: string[] }
  | { kind: 'user_changed'; id: string }
  | { kind: 'keys_changed' }
  | { kind: 'roles_changed' }
  | { kind: 'api_key_revoked'; id: string }

export interface InvalidationBus {
  publish(message: Invalidation): void
  subscribe(listener: (message: Invalidation) => void): () => void
}

export function createLocalBus(): InvalidationBus & { deliver(message: Invalidation): void } {
  const listeners = new Set<(message: Invalidation) => void>()
  const deliver = (message: Invalidation) => {
    for (const listener of listeners) listener(message)
  }
  return {
    publish: deliver,
    deliver,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
