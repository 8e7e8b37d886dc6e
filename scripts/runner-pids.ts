/**
 * A runner killed without cleanup (SIGKILL, a crash, a closed terminal's hard kill) leaves its
 * workerd processes behind, still holding the peers' ports and storage. The runner records its
 * own pid and its workerd children in `<dir>/runner.json`; the next start in that directory
 * stops what a dead runner left, and refuses to start beside a runner that is still alive.
 */
import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A process as recorded: its pid and start time, so a pid reused by another process is never taken for it. */
interface Proc {
  pid: number;
  started: string;
}

interface RunnerFile {
  runner: Proc;
  workerd: Proc[];
}

const fileOf = (dir: string) => join(dir, "runner.json");

/** Start time and command line of a live process, or null when there is none (or `ps` cannot tell). */
async function processOf(pid: number): Promise<{ started: string; args: string } | null> {
  try {
    const { stdout } = await run("ps", ["-o", "lstart=,args=", "-p", String(pid)]);
    const line = stdout.trim();
    // lstart is a fixed 24-character date ("Tue Nov 24 19:10:08 2026").
    return line ? { started: line.slice(0, 24), args: line.slice(24).trim() } : null;
  } catch {
    return null;
  }
}

/** True while the recorded process — that very one, not a later one with its pid — runs `pattern`. */
async function stillRuns(proc: Proc, pattern: RegExp): Promise<boolean> {
  const now = await processOf(proc.pid);
  return !!now && now.started === proc.started && pattern.test(now.args);
}

async function recorded(pid: number): Promise<Proc> {
  return { pid, started: (await processOf(pid))?.started ?? "" };
}

/** This process's workerd children (Miniflare starts one per peer). */
async function workerdChildren(): Promise<number[]> {
  const { stdout } = await run("ps", ["-A", "-o", "pid=,ppid=,comm="]);
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, ppid, comm]) => Number(ppid) === process.pid && comm?.includes("workerd"))
    .map(([pid]) => Number(pid));
}

/**
 * This process's live workerd children by the port each serves (from its
 * `--socket-addr=entry=<host>:<port>` argument): a peer missing here has died.
 */
export async function workerdByPort(): Promise<Map<number, number>> {
  const { stdout } = await run("ps", ["-A", "-o", "pid=,ppid=,stat=,args="]);
  const byPort = new Map<number, number>();
  for (const line of stdout.split("\n")) {
    const [pid, ppid, stat, ...args] = line.trim().split(/\s+/);
    // A zombie (stat Z) is dead, only not yet reaped.
    if (Number(ppid) !== process.pid || stat?.startsWith("Z") || !args[0]?.includes("workerd")) continue;
    const port = /--socket-addr=entry=\S*:(\d+)/.exec(args.join(" "))?.[1];
    if (port) byPort.set(Number(port), Number(pid));
  }
  return byPort;
}

/** Records this runner and its workerd processes, once they are up. */
export async function recordRunner(dir: string): Promise<void> {
  const data: RunnerFile = {
    runner: await recorded(process.pid),
    workerd: await Promise.all((await workerdChildren()).map(recorded)),
  };
  await writeFile(fileOf(dir), `${JSON.stringify(data)}\n`);
}

/** Forgets the record at a clean stop. */
export const forgetRunner = (dir: string) => rm(fileOf(dir), { force: true });

/**
 * Before a start in `dir`: stops the workerd processes a dead runner left (returns how many),
 * or throws when the runner that recorded them is still running.
 */
export async function reapLeftovers(dir: string): Promise<number> {
  let data: RunnerFile;
  try {
    data = JSON.parse(await readFile(fileOf(dir), "utf8")) as RunnerFile;
  } catch {
    return 0;
  }
  if (data.runner?.pid !== process.pid && data.runner && (await stillRuns(data.runner, /network\.js|network\.ts/))) {
    throw new Error(`another network (pid ${data.runner.pid}) is running from ${dir}; stop it first (Ctrl-C), or use another --dir.`);
  }
  const left: Proc[] = [];
  for (const proc of data.workerd ?? []) if (await stillRuns(proc, /workerd/)) left.push(proc);
  for (const { pid } of left) process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 5000; waited += 100) {
    const running = await Promise.all(left.map((p) => stillRuns(p, /workerd/)));
    if (!running.some(Boolean)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const proc of left) if (await stillRuns(proc, /workerd/)) process.kill(proc.pid, "SIGKILL");
  await forgetRunner(dir);
  return left.length;
}
