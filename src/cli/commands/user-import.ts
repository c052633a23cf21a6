import { readFile } from 'node:fs/promises'
import { defineCommand } from '../args.js'
import { CliError } from '../context.js'

export const userImport = defineCommand({
  name: 'user import',
  usage:
    'user import FILE             import users from CSV or JSON Lines (username, email, phone,\n' +
    '                             email_verified, phone_verified, password_hash, totp_secret,\n' +
    '                             roles); exits 1 if a row was rejected',
  positionals: [{ what: 'a file' }],
  async run(ctx, { positionals }) {
    const file = positionals[0]!
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new CliError(`cannot read ${file}${code ? ` (${code})` : ''}`)
    }
    const { userImport: importer } = await ctx.services()
    const report = await importer.run(text)
    for (const warning of report.warnings) ctx.out(`warning: ${warning}`)
    if (report.fatal !== undefined) throw new CliError(`${file}: ${report.fatal}; nothing imported`)
    // One list in file order, so the report reads alongside the file.
    const lines = [
      ...report.skipped.map((s) => ({
        line: s.line,
        text: `line ${s.line}: skipped: ${s.username} already exists`,
      })),
      ...report.rejected.map((r) => ({
        line: r.line,
        text: `line ${r.line}: rejected: ${r.reason}`,
      })),
    ].sort((a, b) => a.line - b.line)
    for (const { text } of lines) ctx.out(text)
    ctx.out(
      `imported ${report.imported}, skipped ${report.skipped.length}, rejected ${report.rejected.length}`,
    )
    return report.rejected.length > 0 ? 1 : 0
  },
})
