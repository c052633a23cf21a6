/**
 * A bounded map whose entries expire. Insertion order doubles as age order, so evicting the
 * first key drops the oldest entry; that is enough for hot-path caches whose entries are
 * short-lived anyway, and avoids a dependency for forty lines.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAtMs: number }>()

  constructor(private readonly maxEntries: number) {}

  get(key: K, nowMs: number): V | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: K, value: V, expiresAtMs: number): void {
    this.entries.delete(key)
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next()
      if (!oldest.done) this.entries.delete(oldest.value)
    }
    this.entries.set(key, { value, expiresAtMs })
  }

  delete(key: K): void {
    this.entries.delete(key)
  }

  clear(): void {
    this.entries.clear()
  }

  get size(): number {
    return this.entries.size
  }
}
