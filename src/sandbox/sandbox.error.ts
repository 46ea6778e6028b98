/** An error the sandbox answers with Graph's (or the admin API's) error body: status, code, message. */
export class SandboxError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers (e.g. `Location` on a delta query's 410 Gone). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
