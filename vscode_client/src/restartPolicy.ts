// When the server dies, start it again, unless it keeps dying: more than `limit`
// crashes within `windowMs` means something is wrong that a restart will not fix.

export class CrashWindow {
  private crashes: number[] = [];

  constructor(
    readonly limit = 5,
    readonly windowMs = 3 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a crash; true when the server should be restarted. */
  crashed(): boolean {
    const time = this.now();
    this.crashes = this.crashes.filter((t) => time - t < this.windowMs);
    this.crashes.push(time);
    return this.crashes.length <= this.limit;
  }

  /** A deliberate (re)start forgets earlier crashes. */
  reset(): void {
    this.crashes = [];
  }
}
