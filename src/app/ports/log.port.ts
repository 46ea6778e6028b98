/** A log line from a use case (the gateway writes it with pino). */
export type AppLog = (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
