import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** ARCHITECTURE: src/domain is pure: no I/O, no clock, no adapter library. */
const dir = path.resolve(import.meta.dirname, '../../src/domain');
const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));

describe('src/domain is pure', () => {
  it.each(files)('%s imports only src/domain (and libphonenumber-js)', (file) => {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const specifiers = [
      ...source.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/g),
    ].map((m) => m[1] ?? m[2]);
    const outside = specifiers.filter((s) => !s.startsWith('./') && s !== 'libphonenumber-js');
    expect(outside).toEqual([]);
  });

  it.each(files)('%s reads no clock and no randomness', (file) => {
    const source = readFileSync(path.join(dir, file), 'utf8');
    expect(source).not.toMatch(/Date\.now\(|new Date\(\)|Math\.random\(|process\./);
  });
});
