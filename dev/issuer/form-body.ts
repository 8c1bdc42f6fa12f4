import type { IncomingMessage } from 'node:http'

const MAX_FORM_BYTES = 16 * 1024

/** Reads an `application/x-www-form-urlencoded` request body (at most 16 KiB). */
export async function readFormBody(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') {
    throw new FormBodyError(415, 'expected an application/x-www-form-urlencoded body')
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk))
    size += buffer.length
    if (size > MAX_FORM_BYTES) throw new FormBodyError(413, 'form body too large')
    chunks.push(buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

export class FormBodyError extends Error {
  readonly status: number

  constructor(status: number, message: string) {
    super(message)
    this.name = 'FormBodyError'
    this.status = status
  }
}
