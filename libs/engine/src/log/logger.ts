import { redact } from './redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'pretty' | 'plain' | 'json';

export interface LogEvent {
  level: LogLevel;
  msg: string;
  phase?: string;
  [key: string]: unknown;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  format?: LogFormat;
  verbose?: boolean;
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}

/** TTY gets pretty output, CI and pipes get plain lines, machines ask for json. */
export function defaultFormat(stream: NodeJS.WriteStream = process.stderr): LogFormat {
  if (process.env.CI) return 'plain';
  return stream.isTTY ? 'pretty' : 'plain';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? defaultFormat();
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = opts.base ?? {};

  const emit = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
    if (level === 'debug' && !opts.verbose) return;
    const all = { ...base, ...fields };
    if (format === 'json') {
      write(redact(JSON.stringify({ time: new Date().toISOString(), level, msg, ...all })));
      return;
    }
    const phase = all.phase ? `[${String(all.phase)}] ` : '';
    const prefix = level === 'info' ? '' : `${level}: `;
    const line = `${phase}${prefix}${msg}`;
    write(redact(format === 'pretty' && level === 'error' ? `\x1b[31m${line}\x1b[0m` : line));
  };

  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...opts, format, write, base: { ...base, ...fields } }),
  };
}

/** A logger that keeps lines in memory; for tests and for capturing plans. */
export function createMemoryLogger(format: LogFormat = 'plain'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ format, verbose: true, write: (l) => lines.push(l) });
  return Object.assign(logger, { lines });
}
