import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Memory and CPU of a process from Linux /proc: VmRSS (now), VmHWM (peak resident set since
 * start or since the last reset), utime + stime. Elsewhere (no /proc) the readers give null.
 */
export interface ProcStatus {
  rssBytes: number;
  peakBytes: number;
}

export function procStatus(pid: number | 'self' = 'self'): ProcStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
    const rssBytes = kb('VmRSS');
    const peakBytes = kb('VmHWM');
    return Number.isFinite(rssBytes) ? { rssBytes, peakBytes } : null;
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: `echo 5 > /proc/PID/clear_refs`). False when not allowed. */
export function resetPeak(pid: number | 'self' = 'self'): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system) of a process in ms, from /proc/PID/stat (clock ticks of 10 ms). */
export function cpuTimeMs(pid: number | 'self' = 'self'): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: split after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime + stime) ? (utime + stime) * 10 : null;
  } catch {
    return null;
  }
}

export const MB = 1024 * 1024;
export const mb = (bytes: number | null | undefined) =>
  bytes == null || !Number.isFinite(bytes) ? null : bytes / MB;

/**
 * Peak RSS of this process (and, when given, of the sandbox process) over a window, two ways:
 * sampling `process.memoryUsage().rss` every `intervalMs` (what the brief asks; a busy event
 * loop delays samples, so it can miss a short peak) and the kernel's own high-water mark
 * (VmHWM, reset at the start of the window: exact).
 */
export class PeakMemory {
  private timer: NodeJS.Timeout | undefined;
  private sampledSelf = 0;
  private sampledOther = 0;
  private sampledHeap = 0;
  private sampledHeapAt = 0;
  /** [time, rss] of every sample: RSS rarely goes down, so its peak is dated by when it got near it */
  private series: Array<[number, number]> = [];
  private samples = 0;
  private hwmReset = { self: false, other: false };
  private cpuAtStart = { self: 0, other: 0 as number | null };

  constructor(
    private readonly otherPid: number | null,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.stop();
    const m = process.memoryUsage();
    this.sampledSelf = m.rss;
    this.sampledHeap = m.heapUsed;
    this.sampledHeapAt = performance.now();
    this.series = [[this.sampledHeapAt, m.rss]];
    this.sampledOther = this.otherPid ? (procStatus(this.otherPid)?.rssBytes ?? 0) : 0;
    this.samples = 1;
    this.hwmReset = { self: resetPeak('self'), other: this.otherPid ? resetPeak(this.otherPid) : false };
    const cpu = process.cpuUsage();
    this.cpuAtStart = {
      self: (cpu.user + cpu.system) / 1000,
      other: this.otherPid ? cpuTimeMs(this.otherPid) : null,
    };
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.samples++;
    const m = process.memoryUsage();
    const t = performance.now();
    this.series.push([t, m.rss]);
    this.sampledSelf = Math.max(this.sampledSelf, m.rss);
    if (m.heapUsed > this.sampledHeap) {
      this.sampledHeap = m.heapUsed;
      this.sampledHeapAt = t;
    }
    if (this.otherPid)
      this.sampledOther = Math.max(this.sampledOther, procStatus(this.otherPid)?.rssBytes ?? 0);
  }

  /** Ends the window. */
  stop(): PeakReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    const self = procStatus('self');
    const other = this.otherPid ? procStatus(this.otherPid) : null;
    const cpu = process.cpuUsage();
    const otherCpu = this.otherPid ? cpuTimeMs(this.otherPid) : null;
    return {
      sampledRss: this.sampledSelf,
      sampledHeapUsed: this.sampledHeap,
      sampledRssAt: this.series.find(([, rss]) => rss >= this.sampledSelf * 0.98)?.[0] ?? 0,
      sampledHeapAt: this.sampledHeapAt,
      hwmRss: this.hwmReset.self && self ? self.peakBytes : null,
      otherSampledRss: this.otherPid ? this.sampledOther : null,
      otherHwmRss: this.hwmReset.other && other ? other.peakBytes : null,
      samples: this.samples,
      cpuMs: (cpu.user + cpu.system) / 1000 - this.cpuAtStart.self,
      otherCpuMs: otherCpu != null && this.cpuAtStart.other != null ? otherCpu - this.cpuAtStart.other : null,
    };
  }
}

export interface PeakReport {
  /** max of process.memoryUsage().rss sampled during the window (bytes) */
  sampledRss: number;
  /** max of process.memoryUsage().heapUsed sampled during the window (bytes) */
  sampledHeapUsed: number;
  /** when RSS first came within 2 % of its peak, and when the heap peak was seen (performance.now()) */
  sampledRssAt: number;
  sampledHeapAt: number;
  /** VmHWM of this process over the window (bytes), null when it could not be reset */
  hwmRss: number | null;
  otherSampledRss: number | null;
  otherHwmRss: number | null;
  samples: number;
  /** CPU time of this process during the window (ms, all threads) */
  cpuMs: number;
  otherCpuMs: number | null;
}
