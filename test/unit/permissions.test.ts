import { describe, expect, it } from 'vitest'
import { permits } from '../../src/services/roles/permissions.js'

describe('permits', () => {
  it.each([
    [['*'], 'products:write', true],
    [['products:*'], 'products:write', true],
    [['products:read'], 'products:read', true],
    [['products:read'], 'products:write', false],
    [['patients:*'], 'products:read', false],
    [['products'], 'products:read', false],
    [[], 'products:read', false],
  ])('%j grants %s: %s', (granted, permission, expected) => {
    expect(permits(granted, permission)).toBe(expected)
  })
})
