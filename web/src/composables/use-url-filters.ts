import { reactive, watch } from 'vue'
import { useRoute, useRouter } from 'vue-router'

/**
 * A list's filters kept in the address bar, so a filtered view can be bookmarked, sent to
 * another admin, reloaded, and reached again with Back. `load` runs at start, after `apply`,
 * and when the address changes under the page (Back, Forward).
 */
export function useUrlFilters<K extends string>(keys: readonly K[], load: () => Promise<unknown>) {
  const route = useRoute()
  const router = useRouter()
  const page = route.name
  const values = reactive(Object.fromEntries(keys.map((k) => [k, '']))) as Record<K, string>

  function readAddress(): void {
    for (const key of keys) {
      const value = route.query[key]
      values[key] = typeof value === 'string' ? value : ''
    }
  }

  // Leaving the page changes the route too; only this page's own address matters here.
  watch(
    () => route.fullPath,
    () => {
      if (route.name !== page) return
      readAddress()
      void load()
    },
  )
  readAddress()

  return {
    values,
    /** Puts the filters in the address (empty ones left out), which loads the list. */
    async apply(): Promise<void> {
      const before = route.fullPath
      const query = Object.fromEntries(
        keys.filter((k) => values[k].trim() !== '').map((k) => [k, values[k].trim()]),
      )
      await router.push({ query })
      // The same filters again: the address did not change, so nothing else loads.
      if (route.fullPath === before) await load()
    },
  }
}
