/** SPEC §3 and §4.5: a request body over 64 KiB is `413 payload_too_large`, whatever its type. */
export const BODY_LIMIT_BYTES = 64 * 1024
