import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { CliError, type Command } from '../context.js'

export const userImport: Command = {
  name: 'user import',
  usage:
    'user import FILE             import users from CSV or JSON Lines (username, email, phone,\n' +
    '                             password_hash, totp_secret, roles); exits 1 if a row was rejected',
  async run(ctx) {
    const { positionals } = parseArgs({ args: ctx.args, allowPositionals: true, options: {} })
    const [file, ...extra] = positionals
    if (!file || extra.length > 0) throw new CliError('usage: gatehouse user import FILE')
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
    for (const s of report.skipped) ctx.out(`line ${s.line}: skipped: ${s.username} already exists`)
    for (const r of report.rejected) ctx.out(`line ${r.line}: rejected: ${r.reason}`)
    ctx.out(
      `imported ${report.imported}, skipped ${report.skipped.length}, rejected ${report.rejected.length}`,
    )
    return report.rejected.length > 0 ? 1 : 0
  },
}
