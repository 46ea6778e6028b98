/** A tiny `--name value` / `--flag` reader for the bench commands (no dependency). */
export class Args {
  constructor(private readonly argv: readonly string[]) {}

  has(name: string): boolean {
    return this.argv.includes(`--${name}`);
  }

  string(name: string, fallback: string): string {
    const i = this.argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = this.argv[i + 1];
    // A value may itself look like an option when it carries one (`--gateway-node-args "--max-old-space-size=320"`).
    if (v === undefined || (v.startsWith('--') && !/[= ]/.test(v)))
      throw new Error(`--${name} needs a value`);
    return v;
  }

  number(name: string, fallback: number): number {
    const raw = this.string(name, String(fallback));
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`--${name} must be a non-negative number, got '${raw}'`);
    return n;
  }

  /** A comma-separated list, e.g. `--db sqlite,postgresql`. */
  list(name: string, fallback: readonly string[]): string[] {
    return this.string(name, fallback.join(','))
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  numbers(name: string, fallback: readonly number[]): number[] {
    return this.list(name, fallback.map(String)).map((s) => {
      const n = Number(s);
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: '${s}' is not a non-negative number`);
      return n;
    });
  }
}
