/**
 * Source positions for profiles of code that tsx compiled: tsx hands V8 the transformed
 * code (the profiler reports line 1, column N) with an inline source map, which V8 reports
 * as the script's sourceMapURL (Debugger.scriptParsed). This maps a generated position back
 * to the TypeScript line.
 */
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const VALUE = new Map([...B64].map((c, i) => [c, i]));

function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const c of segment) {
    const digit = VALUE.get(c);
    if (digit === undefined) break;
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/** Per generated line: [generated column, original line (0-based)] pairs, by column. */
function decodeMappings(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let srcLine = 0;
  for (const line of mappings.split(';')) {
    const segs: Array<[number, number]> = [];
    let col = 0;
    for (const seg of line.split(',')) {
      if (!seg) continue;
      const v = decodeVlq(seg);
      col += v[0] ?? 0;
      if (v.length >= 4) {
        srcLine += v[2];
        segs.push([col, srcLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

export class SourceMaps {
  private readonly raw = new Map<string, string>();
  private readonly decoded = new Map<string, Array<Array<[number, number]>> | null>();

  add(url: string, sourceMapUrl: string): void {
    if (sourceMapUrl.startsWith('data:application/json')) this.raw.set(url, sourceMapUrl);
  }

  get size(): number {
    return this.raw.size;
  }

  /** The maps of the project's own files (not node_modules), to keep beside a .cpuprofile. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [url, map] of this.raw) if (!url.includes('/node_modules/')) out[url] = map;
    return out;
  }

  static fromJSON(entries: Record<string, string>): SourceMaps {
    const maps = new SourceMaps();
    for (const [url, map] of Object.entries(entries)) maps.add(url, map);
    return maps;
  }

  private lines(url: string) {
    if (this.decoded.has(url)) return this.decoded.get(url) ?? null;
    const data = this.raw.get(url);
    let out: Array<Array<[number, number]>> | null = null;
    if (data) {
      try {
        const comma = data.indexOf(',');
        const json = data.slice(0, comma).endsWith(';base64')
          ? Buffer.from(data.slice(comma + 1), 'base64').toString('utf8')
          : decodeURIComponent(data.slice(comma + 1));
        out = decodeMappings((JSON.parse(json) as { mappings: string }).mappings);
      } catch {
        out = null;
      }
    }
    this.decoded.set(url, out);
    return out;
  }

  /** The 1-based original line of a 0-based generated position, or null when unknown. */
  line(url: string, line0: number, col0: number): number | null {
    const lines = this.lines(url);
    const segs = lines?.[line0];
    if (!segs?.length) return null;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid][0] <= col0) lo = mid;
      else hi = mid - 1;
    }
    return segs[lo][1] + 1;
  }
}
