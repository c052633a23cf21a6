import { describe, expect, it } from 'vitest'
import { parseImportFile } from '../../src/services/import/import-file.js'

describe('parseImportFile', () => {
  it('reads RFC 4180 CSV: quotes, doubled quotes, commas and line breaks in cells', () => {
    const parsed = parseImportFile(
      '\uFEFFUsername, Email ,roles\r\n' +
        'ann,"ann@example.com",user;editor\r\n' +
        '"bo, the second","say ""hi""\nthere",\r\n' +
        '\r\n' +
        'cy,,\r\n',
    )
    expect(parsed.format).toBe('csv')
    expect(parsed.fatal).toBeUndefined()
    expect(parsed.records).toEqual([
      { line: 2, fields: { username: 'ann', email: 'ann@example.com', roles: ['user', 'editor'] } },
      { line: 3, fields: { username: 'bo, the second', email: 'say "hi"\nthere' } },
      { line: 6, fields: { username: 'cy' } },
    ])
  })

  it('flags a row with more or fewer cells than the header', () => {
    const parsed = parseImportFile('username\nann,extra\n')
    expect(parsed.records).toEqual([
      { line: 2, fields: {}, error: '2 cells where the header has 1 cell' },
    ])
    // A short row would otherwise import "bo" without the hash and secret the file meant.
    const short = parseImportFile('username,email,password_hash,totp_secret\nbo,bo@example.com\n')
    expect(short.records).toEqual([
      { line: 2, fields: {}, error: '2 cells where the header has 4 cells' },
    ])
  })

  it('warns about unknown columns and needs a username column', () => {
    expect(parseImportFile('username,shoe_size\nann,42\n').warnings).toEqual([
      'line 1: ignoring unknown column "shoe_size"',
    ])
    expect(parseImportFile('email\n').fatal).toContain('username column')
    expect(parseImportFile('').fatal).toBe('the file is empty')
  })

  it('reads JSON Lines with line numbers, ignoring unknown members', () => {
    const parsed = parseImportFile(
      '{"username":"ann","extra":1}\n\n{"username":"bo","roles":["x"]}\nnope\n',
    )
    expect(parsed.format).toBe('jsonl')
    expect(parsed.records).toEqual([
      { line: 1, fields: { username: 'ann' } },
      { line: 3, fields: { username: 'bo', roles: ['x'] } },
      { line: 4, fields: {}, error: 'not valid JSON' },
    ])
  })

  it('refuses a JSON array as a whole, saying how to make JSON Lines of it', () => {
    const parsed = parseImportFile('\uFEFF [{"username":"ann"}]\n')
    expect(parsed.records).toEqual([])
    expect(parsed.fatal).toContain('a JSON array: write one JSON object per line (JSON Lines)')
  })
})
