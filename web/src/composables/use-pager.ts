import { computed, ref } from 'vue'

/** Cursor paging (SPEC §3) with a stack of the cursors seen, so "Previous" works too. */
export function usePager<T>(
  // A Page<T> (api/types.ts), written out so the unit tests can load this file on its own.
  load: (cursor: string | undefined) => Promise<{ items: T[]; next_cursor: string | null }>,
) {
  const items = ref<T[]>([])
  const stack = ref<(string | undefined)[]>([undefined])
  const next = ref<string | null>(null)
  const page = computed(() => stack.value.length)
  // Until a page has arrived, an empty list says nothing ("No users found" under a 403 would).
  const loaded = ref(false)

  async function show(cursor: string | undefined) {
    const result = await load(cursor)
    items.value = result.items
    next.value = result.next_cursor
    loaded.value = true
  }
  return {
    items,
    loaded,
    page,
    hasNext: computed(() => next.value !== null),
    hasPrevious: computed(() => stack.value.length > 1),
    async first() {
      stack.value = [undefined]
      await show(undefined)
    },
    async reload() {
      await show(stack.value[stack.value.length - 1])
    },
    async nextPage() {
      if (next.value === null) return
      stack.value.push(next.value)
      await show(next.value)
    },
    async previousPage() {
      if (stack.value.length < 2) return
      stack.value.pop()
      await show(stack.value[stack.value.length - 1])
    },
  }
}
