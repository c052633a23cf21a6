import { describe, expect, it } from 'vitest'
import { isEmailAddress, isPhoneNumber } from '../../src/services/accounts/contact-rules.js'

describe('isEmailAddress, the one email rule of the API, accounts.create and user import', () => {
  it.each([
    'alice@example.com',
    'Alice.Smith+news@mail.example.co.uk',
    "o'brien@example.ie",
    'x@a-b.example',
    `${'a'.repeat(64)}@${'b'.repeat(185)}.com`, // 254 characters
  ])('accepts %s', (email) => {
    expect(isEmailAddress(email)).toBe(true)
  })

  it.each([
    '',
    'notanemail',
    'jill@',
    '@example.com',
    'a@localhost',
    'a@[127.0.0.1]',
    '"quoted"@example.com',
    'a..b@example.com',
    '.a@example.com',
    'a.@example.com',
    'a@-example.com',
    'a@example-.com',
    'a@exa_mple.com',
    'a@example..com',
    'a@example.com.',
    'ü@example.com',
    'a b@example.com',
    ' a@example.com',
    `${'a'.repeat(64)}@${'b'.repeat(186)}.com`, // 255 characters
  ])('refuses %j', (email) => {
    expect(isEmailAddress(email)).toBe(false)
  })
})

describe('isPhoneNumber', () => {
  it.each([
    ['+14155550100', true],
    ['+441632960961', true],
    ['14155550100', false],
    ['+04155550100', false],
    ['+1 415 555 0100', false],
    ['+1234567890123456', false],
  ])('%s → %s', (phone, ok) => {
    expect(isPhoneNumber(phone)).toBe(ok)
  })
})
