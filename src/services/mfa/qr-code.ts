import type { QRCodeToDataURLOptions } from 'qrcode'

/**
 * An otpauth:// URI as a PNG data URL. qrcode (with pngjs under it, some 60 modules) loads on
 * the first enrolment rather than at start: most requests, and many processes, never draw one.
 */
export async function qrDataUrl(text: string, opts: QRCodeToDataURLOptions): Promise<string> {
  const { default: QRCode } = await import('qrcode')
  return QRCode.toDataURL(text, opts)
}
