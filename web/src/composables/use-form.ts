import { nextTick, reactive, ref } from 'vue'
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

  /**
   * The form being submitted (the one holding the button pressed or the field Enter was
   * pressed in), so focus can go to the field a problem is about: a keyboard or screen
   * reader user lands on what to correct, not on the button they left.
   */
  let origin: HTMLFormElement | null = null

  function show(err: unknown) {
    if (err instanceof ApiError) {
      const { field, message } = err.explain(fields)
      if (field) {
        errors[field] = message
        const form = origin
        void nextTick(() => form?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus())
      } else top.value = message
    } else {
      top.value = 'Something went wrong. Please try again.'
    }
  }

  async function run(fn: () => Promise<unknown>): Promise<boolean> {
    origin =
      typeof document === 'undefined' ? null : (document.activeElement?.closest('form') ?? null)
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
