import type { QuickJSContext, QuickJSWASMModule } from "quickjs-emscripten-core";

/** QuickJS calls the interrupt handler once per this many polls (`JS_INTERRUPT_COUNTER_INIT`). */
export const POLLS_PER_CHECK = 10_000;

/**
 * Byte offset of `JSContext.interrupt_counter` in the pinned build (quickjs 2025-09-13 in
 * @jitl/quickjs-wasmfile-release-sync 0.32.0), found by scanning a context, while its handler
 * ran, for its only field equal to `POLLS_PER_CHECK`. The value is checked before every write,
 * so another build is never written to (see `PollCounter.attach`).
 */
const COUNTER_OFFSET = 232;

/**
 * A context's interrupt counter, which QuickJS decrements at every poll (loop back-edge,
 * call, regex step) and resets to `POLLS_PER_CHECK` just before calling the handler. Setting
 * it lower makes the handler run every few polls: the only way to look at the clock between
 * two calls of a slow built-in (an `indexOf` over 16 MiB is one poll), since QuickJS has no
 * API for the interval.
 */
export class PollCounter {
  private view: Int32Array;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly index: number,
  ) {
    this.view = new Int32Array(memory.buffer);
  }

  /**
   * The counter of a context, or null when the pointer cannot be read. A new context's
   * counter is 0, so its first poll calls the handler; from then on the handler finds
   * `POLLS_PER_CHECK` there (just reset) — anything else means another build, and the
   * caller never writes (`Sandbox` checks before each `set`).
   */
  static attach(engine: QuickJSWASMModule, context: QuickJSContext): PollCounter | null {
    // The JSContext pointer is not public API; the value check before each write guards its use.
    const pointer = (context as unknown as { ctx?: { value?: unknown } }).ctx?.value;
    if (typeof pointer !== "number" || (pointer + COUNTER_OFFSET) % 4 !== 0) return null;
    return new PollCounter(engine.getWasmMemory(), (pointer + COUNTER_OFFSET) / 4);
  }

  /** The counter's value (the heap may have grown: its buffer is then a new one). */
  read(): number | undefined {
    if (this.view.buffer !== this.memory.buffer) this.view = new Int32Array(this.memory.buffer);
    return this.view[this.index];
  }

  /** Calls the handler after `polls` more polls instead of `POLLS_PER_CHECK`. */
  set(polls: number): void {
    this.read();
    this.view[this.index] = polls;
  }
}
