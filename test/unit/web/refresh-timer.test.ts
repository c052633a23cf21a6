import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRefreshTimer, refreshDelayMs } from '../../../web/src/api/refresh-timer.js'

describe('refreshDelayMs', () => {
  it.each([
    // [expires_in seconds, refresh after ms]
    [600, 540_000], // the default 10 minutes: one minute early
    [3600, 3_540_000], // long tokens: still one minute early
    [60, 48_000], // short tokens: a fifth early, not immediately
    [10, 8_000],
    [1, 800],
    [0, 0],
    [-5, 0],
  ])('a token living %is is refreshed after %ims', (expiresIn, delay) => {
    expect(refreshDelayMs(expiresIn)).toBe(delay)
  })
})

describe('createRefreshTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('refreshes shortly before expiry, not earlier', () => {
    const refresh = vi.fn(async () => true)
    const timer = createRefreshTimer(refresh)
    timer.schedule(600)
    vi.advanceTimersByTime(539_999)
    expect(refresh).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(refresh).toHaveBeenCalledTimes(1)
  })

  it('a new token restarts the countdown instead of adding a second one', () => {
    const refresh = vi.fn(async () => true)
    const timer = createRefreshTimer(refresh)
    timer.schedule(600)
    vi.advanceTimersByTime(300_000)
    timer.schedule(600)
    vi.advanceTimersByTime(300_000)
    expect(refresh).not.toHaveBeenCalled()
    vi.advanceTimersByTime(240_000)
    expect(refresh).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(3_600_000)
    expect(refresh).toHaveBeenCalledTimes(1)
  })

  it('cancel (sign-out) stops it', () => {
    const refresh = vi.fn(async () => true)
    const timer = createRefreshTimer(refresh)
    timer.schedule(60)
    timer.cancel()
    vi.advanceTimersByTime(120_000)
    expect(refresh).not.toHaveBeenCalled()
  })

  it('a failed refresh does not escape as an unhandled rejection', async () => {
    const refresh = vi.fn(async () => {
      throw new Error('offline')
    })
    const timer = createRefreshTimer(refresh)
    timer.schedule(10)
    await vi.advanceTimersByTimeAsync(8_000)
    expect(refresh).toHaveBeenCalledTimes(1)
  })
})
