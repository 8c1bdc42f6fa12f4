/**
 * pino options: JSON logs with request ids; credentials never reach them. Authorization and
 * cookie headers are redacted wherever they appear, and a token in a query string is cut
 * out of the logged URL.
 */
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { pino } from 'pino'
import type { LogLevel } from './config.js'

const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.access_token',
  '*.id_token',
  '*.refresh_token',
  '*.client_secret',
  '*.token'
]

/** Query parameters whose value is a credential, by their decoded name. */
const SECRET_PARAMETER = /^(?:access_token|id_token|refresh_token|token|code|client_secret)$/i
/** A JWS anywhere in a path (a token pasted where a path segment goes). */
const JWS_LIKE = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g

/**
 * The request URL as logs may hold it: credential parameters redacted by their decoded name
 * (`access%5Ftoken` is `access_token`), `;` path parameters cut, and JWS-shaped path segments
 * replaced.
 */
export function safeUrl(url: string): string {
  const q = url.indexOf('?')
  let path = q === -1 ? url : url.slice(0, q)
  const semicolon = path.indexOf(';')
  if (semicolon !== -1) path = `${path.slice(0, semicolon)};[Redacted]`
  path = path.replace(JWS_LIKE, '[Redacted]')
  if (q === -1) return path
  const query = url.slice(q + 1)
  const parameters = new URLSearchParams(query)
  let secret = false
  for (const name of parameters.keys()) if (SECRET_PARAMETER.test(name.trim())) secret = true
  if (!secret) return `${path}?${query.replace(JWS_LIKE, '[Redacted]')}`
  const kept: string[] = []
  for (const [name, value] of parameters) {
    kept.push(
      `${encodeURIComponent(name)}=${SECRET_PARAMETER.test(name.trim()) ? '[Redacted]' : encodeURIComponent(value).replace(JWS_LIKE, '[Redacted]')}`
    )
  }
  return `${path}?${kept.join('&')}`
}

export function loggerOptions(level: LogLevel): Exclude<FastifyServerOptions['logger'], boolean | undefined> {
  return {
    level,
    redact: { paths: REDACT, censor: '[Redacted]' },
    serializers: {
      req(request: { method: string; url: string; host?: string; ip?: string; id?: string }) {
        return { method: request.method, url: safeUrl(request.url), host: request.host, remoteAddress: request.ip }
      }
    }
  }
}

type Bindings = Record<string, unknown>
type ChildOptions = { level?: string } & Record<string, unknown>
type LogMethod = (...args: unknown[]) => void
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const
type Level = (typeof LEVELS)[number]
/** Fastify's logger is pino, which has these too. */
type PinoLogger = FastifyBaseLogger & { isLevelEnabled(level: string): boolean; bindings(): Bindings }

/**
 * A request's logger, made only when the request logs (Fastify's `childLoggerFactory`). Fastify
 * makes a pino child with the request id for every request; pino serialises the child's
 * bindings through the redaction above (its wildcard paths run on every binding), which costs
 * every request a few microseconds even though, at LOG_LEVEL=warn, almost none log anything.
 * This stands in for that child: a call at a level the logger would drop returns at once, and
 * anything else makes the real child (with the same bindings and options) and hands over to it,
 * so what is logged is exactly what the child would have logged.
 */
class LazyRequestLogger {
  readonly #parent: PinoLogger
  readonly #bindings: Bindings
  readonly #options: ChildOptions
  #child: PinoLogger | undefined

  static readonly #levels = Object.fromEntries(
    LEVELS.map((level) => [
      level,
      function (this: LazyRequestLogger, ...args: unknown[]): void {
        this.#log(level, args)
      }
    ])
  ) as Record<Level, LogMethod>

  static #childOf(this: LazyRequestLogger, bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options as Parameters<FastifyBaseLogger['child']>[1])
  }

  // Fastify checks that every request's logger has these seven (its validateLogger, run on each
  // request for any custom childLoggerFactory) by looking each up under a key that changes from
  // one lookup to the next. Own fields of the instance, holding functions that all instances
  // share, are found at the first step of such a lookup; methods of the class are found only on
  // its prototype, after a search of the instance's own properties.
  readonly fatal: LogMethod = LazyRequestLogger.#levels.fatal
  readonly error: LogMethod = LazyRequestLogger.#levels.error
  readonly warn: LogMethod = LazyRequestLogger.#levels.warn
  readonly info: LogMethod = LazyRequestLogger.#levels.info
  readonly debug: LogMethod = LazyRequestLogger.#levels.debug
  readonly trace: LogMethod = LazyRequestLogger.#levels.trace
  readonly child: (bindings: Bindings, options?: ChildOptions) => FastifyBaseLogger = LazyRequestLogger.#childOf

  constructor(parent: PinoLogger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #real(): PinoLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options as Parameters<FastifyBaseLogger['child']>[1]) as PinoLogger
    return this.#child
  }

  #log(level: Level, args: unknown[]): void {
    // a route's own log level (logLevel) decides in the child itself
    if (this.#child === undefined && this.#options.level === undefined && !this.#parent.isLevelEnabled(level)) return
    ;(this.#real()[level] as LogMethod)(...args)
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level
  }

  set level(level: string) {
    this.#real().level = level
  }

  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return this.#child !== undefined || this.#options.level !== undefined
      ? this.#real().isLevelEnabled(level)
      : this.#parent.isLevelEnabled(level)
  }

  bindings(): Bindings {
    return this.#real().bindings()
  }
}

/** Fastify's `childLoggerFactory`: a request logger that becomes a pino child only when the request logs. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: object): FastifyBaseLogger {
  return new LazyRequestLogger(logger as PinoLogger, bindings, options as ChildOptions) as unknown as FastifyBaseLogger
}

/** Whether `log` would write an info line (a logger without isLevelEnabled is asked to, as before). */
function logsInfo(log: FastifyBaseLogger): boolean {
  return (log as Partial<PinoLogger>).isLevelEnabled?.('info') ?? true
}

/**
 * Fastify's per-request log lines ('incoming request', 'request completed', both at info), not
 * built at all when the request's logger would drop them (LOG_LEVEL above info): Fastify's own
 * controller builds each line's object, and reads the response time, for every request before
 * the logger drops it. A request completed with an error is logged as Fastify logs it.
 */
export class RequestLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (logsInfo(request.log)) super.incomingRequest(request, reply)
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if ((error !== null && error !== undefined) || logsInfo(reply.log)) super.requestCompleted(error, request, reply)
  }
}

/** The levels at which Fastify's per-request lines (info) are written. */
const REQUEST_LINE_LEVELS: ReadonlySet<LogLevel> = new Set<LogLevel>(['info', 'debug', 'trace'])

export interface AppLogging {
  /** Fastify's own: `logger`, `childLoggerFactory`, `logController`. */
  options: Pick<FastifyServerOptions, 'logger' | 'childLoggerFactory' | 'logController'>
  /** When Fastify is given no logger, the one the app must make its `app.log`; otherwise undefined. */
  root: FastifyBaseLogger | undefined
}

/**
 * How the app logs at `level`. At info and below, through Fastify's pino logger as Fastify sets
 * it up. Above info, where none of Fastify's per-request lines would be written, Fastify is given
 * no logger of its own, because with one it listens for the end of every response (two listeners
 * added and removed on each) only to write the 'request completed' line: the app's logger is
 * then made here, with the same options and Fastify's serializers, becomes `app.log`, and each
 * request's logger is a lazy child of it, so that every line the app or Fastify writes at
 * warn and above (request errors included) is written exactly as before.
 */
export function appLogging(level: LogLevel, stream?: { write(line: string): void }): AppLogging {
  const logController = new RequestLogController()
  if (REQUEST_LINE_LEVELS.has(level)) {
    return {
      options: {
        logger: { ...loggerOptions(level), ...(stream === undefined ? {} : { stream }) },
        childLoggerFactory: lazyChildLogger,
        logController
      },
      root: undefined
    }
  }
  const base = loggerOptions(level)
  const options = {
    ...base,
    // Fastify's own serializers for these two (fastify/lib/logger-pino.js); `req` is ours
    serializers: {
      err: pino.stdSerializers.err,
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      ...base.serializers
    }
  }
  // as Fastify makes its own: stdout unless a stream is given
  const root = (stream === undefined ? pino(options) : pino(options, stream)) as unknown as FastifyBaseLogger
  return {
    options: {
      logger: false,
      childLoggerFactory: (_none, bindings, childOptions) => lazyChildLogger(root, bindings, childOptions),
      logController
    },
    root
  }
}
