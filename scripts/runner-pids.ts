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

interface RunnerFile {
  runner: number;
  workerd: number[];
}

const fileOf = (dir: string) => join(dir, "runner.json");

/** The command line of a live process, or null when there is none (or `ps` cannot tell). */
async function commandOf(pid: number): Promise<string | null> {
  try {
    const { stdout } = await run("ps", ["-o", "args=", "-p", String(pid)]);
    return stdout.trim() || null;
  } catch {
    return null;
  }
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

/** Records this runner and its workerd processes, once they are up. */
export async function recordRunner(dir: string): Promise<void> {
  const data: RunnerFile = { runner: process.pid, workerd: await workerdChildren() };
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
  if (data.runner !== process.pid && /network/.test((await commandOf(data.runner)) ?? "")) {
    throw new Error(`another network (pid ${data.runner}) is running from ${dir}; stop it first (Ctrl-C), or use another --dir.`);
  }
  const left: number[] = [];
  for (const pid of data.workerd) if (/workerd/.test((await commandOf(pid)) ?? "")) left.push(pid);
  for (const pid of left) process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 5000 && (await Promise.all(left.map(commandOf))).some(Boolean); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pid of left) if (await commandOf(pid)) process.kill(pid, "SIGKILL");
  await forgetRunner(dir);
  return left.length;
}
