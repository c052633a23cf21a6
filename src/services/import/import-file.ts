/**
 * Reads a `gatehouse user import` file (SPEC §6): CSV with a header line, or JSON Lines.
 * Pure text in, records out; every record keeps the file line it starts on (header = 1),
 * so rejections point at the line a person would open.
 */
export const IMPORT_COLUMNS = [
  'username',
  'email',
  'phone',
  'email_verified',
  'phone_verified',
  'password_hash',
  'totp_secret',
  'roles',
] as const
export type ImportColumn = (typeof IMPORT_COLUMNS)[number]

export interface ImportRecord {
  line: number
  /** Column → value as the file gave it; a record the parser could not read has `error`. */
  fields: Partial<Record<ImportColumn, unknown>>
  error?: string
}

export interface ParsedImport {
  format: 'csv' | 'jsonl'
  records: ImportRecord[]
  /** Problems with the file as a whole (no header, no username column): nothing is imported. */
  fatal?: string
  warnings: string[]
}

export function parseImportFile(text: string): ParsedImport {
  const body = text.replace(/^\uFEFF/, '')
  // A JSON array (a dump many scripts write) read as CSV claimed the header had no username
  // column; it is told apart, with the one-line conversion.
  if (/^\s*\[/.test(body))
    return {
      format: 'jsonl',
      records: [],
      fatal:
        "a JSON array: write one JSON object per line (JSON Lines), e.g. jq -c '.[]' users.json",
      warnings: [],
    }
  return /^\s*\{/.test(body) ? parseJsonLines(body) : parseCsv(body)
}

function parseJsonLines(text: string): ParsedImport {
  const records: ImportRecord[] = []
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === '') return
    try {
      const value: unknown = JSON.parse(raw)
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        records.push({ line, fields: {}, error: 'not a JSON object' })
        return
      }
      const fields: ImportRecord['fields'] = {}
      // Members we do not know are ignored, as the HTTP API ignores them.
      for (const column of IMPORT_COLUMNS) {
        if (Object.hasOwn(value, column))
          fields[column] = (value as Record<string, unknown>)[column]
      }
      records.push({ line, fields })
    } catch {
      records.push({ line, fields: {}, error: 'not valid JSON' })
    }
  })
  return { format: 'jsonl', records, warnings: [] }
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. */
function csvRecords(text: string): { line: number; cells: string[] }[] {
  const out: { line: number; cells: string[] }[] = []
  let cells: string[] = []
  let cell = ''
  let quoted = false
  let wasQuoted = false
  let line = 1
  let startLine = 1
  const endCell = () => {
    cells.push(wasQuoted ? cell : cell.trim())
    cell = ''
    wasQuoted = false
  }
  const endRecord = () => {
    endCell()
    if (!(cells.length === 1 && cells[0] === '')) out.push({ line: startLine, cells })
    cells = []
  }
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') {
        quoted = false
      } else {
        if (ch === '\n') line++
        cell += ch
      }
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true
      wasQuoted = true
      cell = ''
    } else if (ch === ',') {
      endCell()
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      endRecord()
      line++
      startLine = line
    } else {
      cell += ch
    }
  }
  if (cell !== '' || cells.length > 0) endRecord()
  return out
}

function parseCsv(text: string): ParsedImport {
  const [header, ...rows] = csvRecords(text)
  const warnings: string[] = []
  if (!header) return { format: 'csv', records: [], fatal: 'the file is empty', warnings }
  const names = header.cells.map((c) => c.trim().toLowerCase())
  if (!names.includes('username')) {
    return {
      format: 'csv',
      records: [],
      fatal: `line ${header.line}: the header needs a username column`,
      warnings,
    }
  }
  const known = new Set<string>(IMPORT_COLUMNS)
  for (const name of names) {
    if (!known.has(name)) warnings.push(`line ${header.line}: ignoring unknown column "${name}"`)
  }
  const records = rows.map(({ line, cells }): ImportRecord => {
    // A short row is refused too: its missing cells would import the person without the
    // password hash or authenticator entry the file meant to carry, and say nothing.
    if (cells.length !== names.length) {
      const cellCount = (n: number) => `${n} ${n === 1 ? 'cell' : 'cells'}`
      return {
        line,
        fields: {},
        error: `${cellCount(cells.length)} where the header has ${cellCount(names.length)}`,
      }
    }
    const fields: ImportRecord['fields'] = {}
    names.forEach((name, index) => {
      const value = cells[index]
      if (known.has(name) && value !== undefined && value !== '') {
        fields[name as ImportColumn] = name === 'roles' ? value.split(';') : value
      }
    })
    return { line, fields }
  })
  return { format: 'csv', records, warnings }
}
