/**
 * SPEC §4.4: one code a minute and five an hour. Both throttles hold to these numbers, the
 * per-user one (send-throttle.ts) and the per-destination one (destination-throttle.ts).
 */
export const CODE_SENDS = { minuteMs: 60_000, hourMs: 3_600_000, perHour: 5 } as const
