/** Largest millisecond timestamp a task id can hold (year 2286); ids count down from it. */
const MAX_MS = 9_999_999_999_999;
const MAX_SEQ = 9_999;

let lastMs = 0;
let seq = 0;

/**
 * A task id that sorts newest first as a string: the time counted down from `MAX_MS` (13
 * digits), then a per-isolate sequence counted down (4 digits, for tasks of the same
 * millisecond — the clock does not move during CPU work), then 8 random hex digits.
 */
export function newTaskId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else if (++seq > MAX_SEQ) {
    lastMs++;
    seq = 0;
  }
  const time = String(MAX_MS - lastMs).padStart(13, "0");
  const order = String(MAX_SEQ - seq).padStart(4, "0");
  const random = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${time}${order}-${random}`;
}

/** Whether a string has the shape of a task id. */
export const isTaskId = (id: string) => /^\d{17}-[0-9a-f]{8}$/.test(id);

/** The millisecond time a task id was made at. */
export const taskIdTime = (id: string) => MAX_MS - Number(id.slice(0, 13));
