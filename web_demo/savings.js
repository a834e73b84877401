// What the suggestions saved on this page, counted as training.evaluate counts it: a
// typed character costs one keystroke, an accepted suggestion (or word of one) one in
// all. Saved = 1 - keystrokes / characters.
export class Savings {
  #typed = 0;     // characters the user's keys inserted
  #accepted = 0;  // characters accepting inserted
  #accepts = 0;   // accept keystrokes (Tab, Ctrl+→, a tap on the chip)

  typed(count) {
    this.#typed += count;
  }

  accepted(count) {
    this.#accepted += count;
    this.#accepts += 1;
  }

  summary() {
    const characters = this.#typed + this.#accepted;
    const keystrokes = this.#typed + this.#accepts;
    return {
      typed: this.#typed,
      accepted: this.#accepted,
      accepts: this.#accepts,
      saved: characters ? 1 - keystrokes / characters : 0,
    };
  }
}
