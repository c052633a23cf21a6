import { describe, expect, it } from 'vitest'
import { AUDIT_EVENTS as recorded } from '../../../src/services/audit/audit-log.js'
import { AUDIT_EVENTS as offered } from '../../../web/src/api/audit-events.js'

describe("the audit log page's event filter", () => {
  it('offers every event the server records, and no other', () => {
    expect([...offered].sort()).toEqual([...recorded].sort())
  })
})
