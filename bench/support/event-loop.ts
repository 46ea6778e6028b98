import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Event-loop stalls of this process over a window (issue 10 C): `perf_hooks.monitorEventLoopDelay`
 * with a 10 ms resolution. Its histogram holds the time between two ticks of a 10 ms timer, so an
 * idle loop shows about 10 ms and a stall of 800 ms shows about 800 ms: max is the longest stall
 * (to within the resolution). p99 is over the ticks, and a stalled loop ticks less: a handful of long
 * stalls among many quiet ticks leave p99 near 10 ms; max is the figure to read.
 *
 * Beside the histogram, a timer of the same period notes when each stall of `thresholdMs` or more
 * began (performance.now()), so that a report can say in which stretch of the work it fell.
 *
 * The histogram records a gap when its timer fires after it, and its first tick after `reset()`
 * records nothing (it only sets the time of the previous tick). So `start()` waits for that first
 * tick, and `stop()` lets the loop come round once more before reading: a stall made of a long
 * chain of promise callbacks (better-sqlite3 answers synchronously, so an `await` on it does not
 * give the loop back) that ends right where the window ends would be missed otherwise.
 */
export interface StallFigures {
  resolutionMs: number;
  /** longest time between two ticks (ms) */
  maxMs: number;
  /** 99th percentile of the time between ticks (ms) */
  p99Ms: number;
  meanMs: number;
  /** ticks the histogram recorded */
  ticks: number;
  thresholdMs: number;
  /** stalls of thresholdMs or more, and their total (ms) */
  stalls: number;
  stalledMs: number;
  /** the longest of those, longest first: when the stall began (performance.now()) and how long it lasted */
  longest: Array<{ at: number; ms: number }>;
}

export class StallMonitor {
  private readonly histogram: IntervalHistogram;
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private stalls: Array<{ at: number; ms: number }> = [];

  constructor(
    private readonly resolutionMs = 10,
    private readonly thresholdMs = 100,
  ) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  }

  /** Starts a window, once the histogram has ticked. */
  async start(): Promise<void> {
    this.halt();
    this.stalls = [];
    this.histogram.reset();
    this.histogram.enable();
    await new Promise((r) => setTimeout(r, this.resolutionMs * 1.5));
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now - this.last >= this.thresholdMs) this.stalls.push({ at: this.last, ms: now - this.last });
      this.last = now;
    }, this.resolutionMs);
    this.timer.unref();
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }

  /** Ends the window, once both timers have ticked after whatever ran last. */
  async stop(keep = 5): Promise<StallFigures> {
    await new Promise((r) => setTimeout(r, this.resolutionMs * 1.5));
    this.halt();
    const h = this.histogram;
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0);
    const sorted = [...this.stalls].sort((a, b) => b.ms - a.ms);
    return {
      resolutionMs: this.resolutionMs,
      maxMs: h.count > 0 ? ms(h.max) : 0,
      p99Ms: h.count > 0 ? ms(h.percentile(99)) : 0,
      meanMs: h.count > 0 ? ms(h.mean) : 0,
      ticks: h.count,
      thresholdMs: this.thresholdMs,
      stalls: sorted.length,
      stalledMs: Math.round(sorted.reduce((n, s) => n + s.ms, 0)),
      longest: sorted.slice(0, keep).map((s) => ({ at: s.at, ms: Math.round(s.ms) })),
    };
  }
}
