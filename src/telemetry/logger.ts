import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino blanks in every log line: anything that may carry a credential (tokens, routing keys,
 * webhook URLs, Secret data, authorization headers), wherever a caller happens to put it.
 */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'routingKey',
  '*.routingKey',
  'routing_key',
  '*.routing_key',
  'webhookUrl',
  '*.webhookUrl',
  'url',
  '*.url',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'data',
  '*.data',
];

export function createLogger(
  options: { level?: string; name?: string } = {},
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      name: options.name ?? 'selfheal',
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/** A logger that writes nothing, for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** What went wrong, in one line for a log field or a status message (no stack: outages repeat). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'statusCode' in error)
    return `HTTP ${String(error.statusCode)}`;
  return String(error);
}
