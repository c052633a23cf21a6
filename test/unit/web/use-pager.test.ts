import { describe, expect, it } from 'vitest'
import { usePager } from '../../../web/src/composables/use-pager.js'

describe('usePager', () => {
  it('says nothing is loaded until a page arrives, so a refused list is not shown as empty', async () => {
    let refuse = true
    const pager = usePager(async () => {
      if (refuse) throw new Error('403')
      return { items: ['a'], next_cursor: null }
    })
    await expect(pager.first()).rejects.toThrow('403')
    expect(pager.loaded.value).toBe(false)
    expect(pager.items.value).toEqual([])
    refuse = false
    await pager.first()
    expect(pager.loaded.value).toBe(true)
    expect(pager.items.value).toEqual(['a'])
  })
})
