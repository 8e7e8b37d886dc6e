import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from "quickjs-emscripten-core";
import { utf8Length } from "../storage/names";
import type { TaskLimits } from "./limits";
import { POLLS_PER_CHECK, PollCounter } from "./polls";
import { discardQuickjs, quickjs } from "./quickjs";

/** What running a program produced: the result as JSON text, or why it failed. */
export type TaskOutcome = { status: "succeeded"; resultJson: string } | { status: "failed"; error: string };

/** A program, the name of the function to call and its arguments as JSON text. */
export interface TaskInput {
  program: string;
  function: string;
  argsJson: string;
}

/** Longest error message kept from a program. */
const ERROR_CHARS = 2000;

/**
 * Evaluated before the program, so the program cannot replace what it captures: reads
 * arguments with the real `JSON.parse`, writes a result's JSON text in one walk that reads
 * each value once and refuses anything that is not plain JSON (no undefined, function, NaN,
 * class instance or cycle silently dropped as `JSON.stringify` would), and turns a thrown
 * value into one line of text.
 */
const PRELUDE = String.raw`(() => {
  "use strict";
  const { parse, stringify } = JSON;
  const { getPrototypeOf, keys, prototype: plain } = Object;
  const { isArray } = Array;
  const { isFinite } = Number;
  const Str = String;
  const kind = (v) => {
    if (v === undefined) return "undefined";
    if (typeof v === "number") return Str(v);
    if (typeof v === "object" && v !== null) {
      const c = getPrototypeOf(v)?.constructor;
      return typeof c === "function" && typeof c.name === "string" && c.name ? "a " + c.name : "an object with no prototype";
    }
    return "a " + typeof v;
  };
  // Writes v's JSON text onto out.text, reading each property once (a getter or proxy
  // answering differently on a second read cannot slip past), and only with operators and
  // captured functions (the program may have replaced any method or added toJSON anywhere).
  const write = (v, path, open, depth, out) => {
    switch (typeof v) {
      case "string":
        out.text += stringify(v);
        return null;
      case "boolean":
        out.text += v ? "true" : "false";
        return null;
      case "number":
        if (!isFinite(v)) return path + " is " + Str(v);
        out.text += stringify(v);
        return null;
      case "object": {
        if (v === null) {
          out.text += "null";
          return null;
        }
        for (let j = 0; j < depth; j++) if (open[j] === v) return path + " refers back to itself";
        const arr = isArray(v);
        const proto = arr ? null : getPrototypeOf(v);
        if (!arr && proto !== plain && proto !== null) return path + " is " + kind(v);
        open[depth] = v;
        const names = arr ? null : keys(v);
        const n = arr ? v.length : names.length;
        out.text += arr ? "[" : "{";
        for (let i = 0; i < n; i++) {
          if (i > 0) out.text += ",";
          const k = arr ? i : names[i];
          if (!arr) out.text += stringify(k) + ":";
          const bad = write(v[k], arr ? path + "[" + i + "]" : path + "." + k, open, depth + 1, out);
          if (bad) return bad;
        }
        out.text += arr ? "]" : "}";
        return null;
      }
      default:
        return path + " is " + kind(v);
    }
  };
  return {
    args: (text) => parse(text),
    toJson: (v) => {
      const out = { __proto__: null, text: "" };
      const bad = write(v, "the result", { __proto__: null }, 0, out);
      return bad === null ? out.text : { __proto__: null, bad };
    },
    describe: (e) => {
      try {
        if (e !== null && typeof e === "object" && typeof e.message === "string") {
          const name = typeof e.name === "string" && e.name ? e.name : "Error";
          return e.message ? name + ": " + e.message : name;
        }
        return "Uncaught " + (typeof e === "string" ? e : kind(e) + " (" + Str(e) + ")");
      } catch {
        return "The program threw a value that cannot be described.";
      }
    },
  };
})()`;

/** Interrupt checks and milliseconds left to describe a thrown value (a hostile getter cannot loop forever). */
const DESCRIBE_BUDGET = 200;
const DESCRIBE_MS = 100;

/**
 * Polls between two looks at the budget and the clock (QuickJS's own interval is 10,000):
 * doubling while each stretch is quick, up to `POLL_SLICE_MAX` (a look every poll would slow
 * a tight loop several times); after a stretch of `SLOW_STRETCH_MS` or more, shrunk so that
 * the next takes about that long at the cost per poll just seen — down to 1 when a single
 * poll is a built-in working on big data, so the clock is read between two such calls. A
 * program that turns slow all at once can overrun by at most `POLL_SLICE_MAX` slow calls. It
 * grows at most every `GROW_EVERY_MS`, so a program's first milliseconds (setting up the big
 * string it then loops over) never reach the full slice.
 */
const POLL_SLICE_MAX = 32;
const SLOW_STRETCH_MS = 4;
const GROW_EVERY_MS = 2;

/**
 * After a run of `LONG_RUN_MS` or more, the next task waits a fifth of that run (at least
 * `YIELD_MIN_MS`, at most `YIELD_MAX_MS`): requests that queued behind the run (health,
 * reads; each takes several turns of the event loop through Miniflare's entry worker) are
 * answered before another task takes the isolate. Short runs never make anyone wait. Each
 * task waits on its own timer (workerd refuses a promise of one request being resolved from
 * another's context).
 */
const LONG_RUN_MS = 50;
const YIELD_MIN_MS = 20;
const YIELD_MAX_MS = 200;
let yieldUntil = 0;

async function waitForTurn(): Promise<void> {
  for (let wait = yieldUntil - Date.now(); wait > 0; wait = yieldUntil - Date.now()) {
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * What one promise job is charged, in polls: an `await` resumes in a few polls but costs
 * about as much time as 40 polls of a tight loop (measured in workerd: ~660 jobs/ms against
 * ~28,000 polls/ms), so a loop of awaits spends its budget as fast as a loop of branches.
 */
const POLLS_PER_JOB = 50;
/** Promise jobs run between two looks at the budget. */
const JOB_SLICE = 256;

/**
 * Runs one task in a fresh QuickJS runtime and context: no host object, no network, no
 * storage, no timers reach the program, only the language's own built-ins. Synchronous: the
 * isolate does nothing else meanwhile, so the budget and the clock (`TaskLimits`) are what
 * keep the peer answering.
 */
export async function runTask(input: TaskInput, limits: TaskLimits): Promise<TaskOutcome> {
  const engine = await quickjs();
  await waitForTurn();
  const started = Date.now();
  let runtime: QuickJSRuntime | undefined;
  let context: QuickJSContext | undefined;
  try {
    runtime = engine.newRuntime();
    context = runtime.newContext();
    return new Sandbox(runtime, context, limits, PollCounter.attach(engine, context)).run(input);
  } catch (err) {
    // The engine itself broke (a wasm trap, not the program): start over with a new instance.
    discardQuickjs();
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      return {
        status: "failed",
        error: `The task recursed deeper than the host's stack allows before reaching its own limit of ${limits.stackBytes / 1024} KiB; lower TASK_STACK_KB.`,
      };
    }
    console.error("sandbox failure:", err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    return { status: "failed", error: "The sandbox failed while running this task; it was reset." };
  } finally {
    try {
      context?.dispose();
      runtime?.dispose();
    } catch {
      discardQuickjs();
    }
    const ended = Date.now();
    const ran = ended - started;
    if (ran >= LONG_RUN_MS) yieldUntil = Math.max(yieldUntil, ended + Math.min(YIELD_MAX_MS, Math.max(YIELD_MIN_MS, ran / 5)));
  }
}

/** One task's runtime: its budget, its clock, its captured helpers and every handle it must free. */
class Sandbox {
  /** Polls counted so far (promise jobs included), and the most allowed. */
  private polls = 0;
  private pollBudget: number;
  /** `Date.now()` past which the task stops (it never passes where the clock stands still). */
  private deadline: number;
  /** Polls the interrupt counter was last set to run before the next call of the handler. */
  private slice = POLLS_PER_CHECK;
  /** When the handler last ran, and when the slice last grew. */
  private lastLook = Date.now();
  private grown = this.lastLook;
  /** Which limit stopped the task, once one has. */
  private stopped: "budget" | "time" | null = null;
  private readonly handles: QuickJSHandle[] = [];

  constructor(
    private readonly rt: QuickJSRuntime,
    private readonly vm: QuickJSContext,
    private readonly limits: TaskLimits,
    counter: PollCounter | null,
  ) {
    this.pollBudget = limits.cpuBudget * POLLS_PER_CHECK;
    this.deadline = Date.now() + limits.timeMs;
    rt.setMemoryLimit(limits.memoryBytes);
    rt.setMaxStackSize(limits.stackBytes);
    // A new context's counter is 0: the handler runs at the first poll and sets the slice then.
    if (counter) this.slice = 1;
    rt.setInterruptHandler(() => {
      this.polls += this.slice;
      const now = Date.now();
      // QuickJS has just reset the counter to its own interval: set ours (checked, see PollCounter).
      if (counter?.read() === POLLS_PER_CHECK) {
        const took = now - this.lastLook;
        if (took >= SLOW_STRETCH_MS) {
          // Sized by what a poll has just cost: a GC pause over 32 quick polls barely shrinks it, one slow built-in per poll makes it 1.
          this.slice = Math.max(1, Math.floor((this.slice * SLOW_STRETCH_MS) / took));
          this.grown = now;
        } else if (now - this.grown >= GROW_EVERY_MS) {
          this.slice = Math.min(this.slice * 2, POLL_SLICE_MAX);
          this.grown = now;
        }
        counter.set(this.slice);
      } else {
        this.slice = POLLS_PER_CHECK;
      }
      this.lastLook = now;
      return this.overLimit();
    });
  }

  /** Whether the budget or the clock has run out; remembers which first. */
  private overLimit(): boolean {
    if (this.stopped) return true;
    if (this.polls > this.pollBudget) this.stopped = "budget";
    else if (Date.now() > this.deadline) this.stopped = "time";
    return this.stopped !== null;
  }

  run(input: TaskInput): TaskOutcome {
    try {
      return this.runInside(input);
    } finally {
      for (const h of this.handles) if (h.alive) h.dispose();
    }
  }

  private runInside(input: TaskInput): TaskOutcome {
    const prelude = this.eval(PRELUDE, "prelude.js");
    if ("error" in prelude) return this.failure(prelude.error, "The sandbox could not start");
    const helper = (name: string) => this.keep(this.vm.getProp(prelude.value, name));
    const readArgs = helper("args");
    const toJson = helper("toJson");
    const describe = helper("describe");

    const args = this.call(readArgs, this.keep(this.vm.newString(input.argsJson)));
    if ("error" in args) return this.failure(args.error, "The arguments could not be read", describe);

    const loaded = this.eval(input.program, "task.js");
    if ("error" in loaded) return this.failure(loaded.error, "The program failed to load", describe);

    const fn = this.eval(`typeof ${input.function} === "function" ? ${input.function} : undefined`, "lookup.js");
    if ("error" in fn || this.vm.typeof(fn.value) !== "function") {
      if ("error" in fn && this.stopped) return this.failure(fn.error, "", describe);
      return { status: "failed", error: `The program defines no function "${input.function}".` };
    }

    const argList = this.spread(args.value);
    const returned = this.call(fn.value, ...argList);
    if ("error" in returned) return this.failure(returned.error, "", describe);

    const settled = this.settle(returned.value, input.function);
    if ("error" in settled) return this.failure(settled.error, "", describe);
    if ("pending" in settled) return settled.pending === null ? this.stoppedOutcome() : { status: "failed", error: settled.pending };

    const json = this.call(toJson, settled.value);
    if ("error" in json) return this.failure(json.error, "The result could not be turned into JSON", describe);
    if (this.vm.typeof(json.value) !== "string") {
      const bad = this.keep(this.vm.getProp(json.value, "bad"));
      return { status: "failed", error: `The result is not JSON: ${this.vm.getString(bad)}.` };
    }
    const resultJson = this.vm.getString(json.value);
    const size = utf8Length(resultJson);
    if (size > this.limits.resultBytes) {
      return {
        status: "failed",
        error: `The result is ${size} bytes of JSON; the limit is ${this.limits.resultBytes} (TASK_RESULT_BYTES).`,
      };
    }
    return { status: "succeeded", resultJson };
  }

  /** The elements of an array handle, as handles. */
  private spread(array: QuickJSHandle): QuickJSHandle[] {
    const length = this.vm.getLength(array) ?? 0;
    const out: QuickJSHandle[] = [];
    for (let i = 0; i < length; i++) out.push(this.keep(this.vm.getProp(array, i)));
    return out;
  }

  /**
   * A returned promise is run to completion with its microtasks (there are no timers to wait
   * for), a slice of jobs at a time, each job charged to the budget. `pending: null` when a
   * limit stopped it between slices.
   */
  private settle(value: QuickJSHandle, fnName: string): { value: QuickJSHandle } | { error: QuickJSHandle } | { pending: string | null } {
    let state = this.vm.getPromiseState(value);
    if (state.type === "fulfilled" && state.notAPromise) return { value };
    for (;;) {
      if (state.type === "fulfilled") return { value: this.keep(state.value) };
      if (state.type === "rejected") return { error: this.keep(state.error) };
      const jobs = this.rt.executePendingJobs(JOB_SLICE);
      if (jobs.error) return { error: this.keep(jobs.error) };
      const ran = jobs.value;
      this.polls += ran * POLLS_PER_JOB;
      state = this.vm.getPromiseState(value);
      if (state.type === "pending" && this.overLimit()) return { pending: null };
      if (state.type === "pending" && ran === 0) {
        return { pending: `The promise returned by "${fnName}" never settled (the sandbox has no timers or I/O).` };
      }
    }
  }

  private eval(code: string, filename: string): { value: QuickJSHandle } | { error: QuickJSHandle } {
    const r = this.vm.evalCode(code, filename, { type: "global" });
    return "error" in r && r.error ? { error: this.keep(r.error) } : { value: this.keep(r.value as QuickJSHandle) };
  }

  private call(fn: QuickJSHandle, ...args: QuickJSHandle[]): { value: QuickJSHandle } | { error: QuickJSHandle } {
    const r = this.vm.callFunction(fn, this.vm.undefined, ...args);
    return "error" in r && r.error ? { error: this.keep(r.error) } : { value: this.keep(r.value as QuickJSHandle) };
  }

  private keep(h: QuickJSHandle): QuickJSHandle {
    this.handles.push(h);
    return h;
  }

  /**
   * A failed task from a thrown value. A spent budget or heap says so in words; otherwise the
   * program's own message, read with a small extra budget (a hostile `message` getter cannot
   * loop forever).
   */
  private failure(error: QuickJSHandle, context: string, describe?: QuickJSHandle): TaskOutcome {
    if (this.stopped) return this.stoppedOutcome();
    const text = describe ? this.describe(describe, error) : null;
    if (text === null ? this.nearMemoryLimit() : /\bout of memory\b/i.test(text)) {
      return {
        status: "failed",
        error: `The task ran out of memory: its limit is ${this.limits.memoryBytes / 1024 / 1024} MiB (TASK_MEMORY_MB).`,
      };
    }
    if (text !== null && /stack overflow|Maximum call stack size exceeded/i.test(text)) {
      return {
        status: "failed",
        error: `The task overflowed its stack of ${this.limits.stackBytes / 1024} KiB (TASK_STACK_KB): ${text}`,
      };
    }
    const message = (text ?? "The program threw a value that cannot be described.").slice(0, ERROR_CHARS);
    return { status: "failed", error: context ? `${context}: ${message}` : message };
  }

  /** The failed task of a program a limit stopped. */
  private stoppedOutcome(): TaskOutcome {
    if (this.stopped === "time") {
      return {
        status: "failed",
        error: `The task ran past its time limit of ${this.limits.timeMs} ms (TASK_TIME_MS) and was stopped.`,
      };
    }
    return {
      status: "failed",
      error: `The task ran past its CPU budget of ${this.limits.cpuBudget} interrupt checks (TASK_CPU_BUDGET or timeoutMs) and was stopped.`,
    };
  }

  private nearMemoryLimit(): boolean {
    const usage = this.rt.computeMemoryUsage();
    try {
      const used = this.keep(this.vm.getProp(usage, "malloc_size"));
      return this.vm.getNumber(used) > this.limits.memoryBytes * 0.9;
    } finally {
      usage.dispose();
    }
  }

  private describe(describe: QuickJSHandle, error: QuickJSHandle): string | null {
    this.pollBudget = this.polls + DESCRIBE_BUDGET * POLLS_PER_CHECK;
    this.deadline = Date.now() + DESCRIBE_MS;
    const r = this.call(describe, error);
    if ("error" in r || this.vm.typeof(r.value) !== "string") return null;
    return this.vm.getString(r.value);
  }
}
