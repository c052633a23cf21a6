import { reactive, ref } from 'vue'
import { ApiError } from '../api/client'

/**
 * A form's problems: each message beside the field `detail` names (SPEC §3), the rest at the
 * top. `run` wraps one submission and reports whether it succeeded.
 */
export function useForm(fields: readonly string[]) {
  const errors = reactive<Record<string, string>>({})
  const top = ref('')
  const busy = ref(false)

  function clear() {
    for (const key of Object.keys(errors)) delete errors[key]
    top.value = ''
  }

  function show(err: unknown) {
    if (err instanceof ApiError) {
      const { field, message } = err.explain(fields)
      if (field) errors[field] = message
      else top.value = message
    } else {
      top.value = 'Something went wrong. Please try again.'
    }
  }

  async function run(fn: () => Promise<unknown>): Promise<boolean> {
    clear()
    busy.value = true
    try {
      await fn()
      return true
    } catch (err) {
      show(err)
      return false
    } finally {
      busy.value = false
    }
  }

  return { errors, top, busy, run, clear, show }
}
