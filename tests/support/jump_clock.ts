/**
 * A clock whose next reading jumps past every credential's expiry (the demo
 * plugin's last an hour), once: the next request finds its credentials
 * expired, runs the plugin and gets the next certificate (demo-user-1, -2, …);
 * readings after that are real time again. Pass `now` as the exec
 * authenticator's clock (`execOptions: { now: clock.now }`).
 */
export class JumpClock {
  #jump = 0;
  /** The exec authenticator's clock. */
  readonly now = (): number => {
    const t = Date.now() + this.#jump;
    this.#jump = 0;
    return t;
  };
  /** Makes the next reading two hours late. */
  expireNext(): void {
    this.#jump = 2 * 3600_000;
  }
}
