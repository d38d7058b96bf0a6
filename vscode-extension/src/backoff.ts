/**
 * When to restart a crashed server, and after how long.
 *
 * Pure, with the clock passed in. Each crash doubles the wait (1 s, 2 s, 4 s … up to
 * 30 s); a server that then ran for a minute is considered healthy and the count starts
 * over. After `maxCrashes` crashes without such a healthy minute we stop and tell the
 * user: a server that dies on start (wrong path, missing package) would otherwise loop
 * forever.
 */

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  crashes: number;
}

export class RestartPolicy {
  private crashes = 0;
  private startedAt: number | undefined;

  constructor(
    readonly baseMs = 1000,
    readonly maxMs = 30_000,
    readonly maxCrashes = 6,
    readonly healthyAfterMs = 60_000,
  ) {}

  /** The server reached "running". */
  started(now: number): void {
    this.startedAt = now;
  }

  /** A deliberate restart or stop: forget earlier crashes. */
  reset(): void {
    this.crashes = 0;
    this.startedAt = undefined;
  }

  crashed(now: number): RestartDecision {
    if (this.startedAt !== undefined && now - this.startedAt >= this.healthyAfterMs) {
      this.crashes = 0;
    }
    this.startedAt = undefined;
    this.crashes += 1;
    if (this.crashes > this.maxCrashes) {
      return { restart: false, delayMs: 0, crashes: this.crashes };
    }
    const delayMs = Math.min(this.maxMs, this.baseMs * 2 ** (this.crashes - 1));
    return { restart: true, delayMs, crashes: this.crashes };
  }
}
