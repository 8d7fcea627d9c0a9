// Child processes of the benchmark (each killed at the end, on failure and on Ctrl-C) and what /proc says of them.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

let cleanup: (() => Promise<void>) | undefined;
/** Runs once before exit on SIGINT/SIGTERM (stop the Redis server, remove temporary files), then every child is killed. */
export function onInterrupt(fn: () => Promise<void>): void {
  cleanup = fn;
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping every child process\n`);
    killAll();
    const done = (): never => process.exit(130);
    void Promise.race([cleanup?.(), new Promise((r) => setTimeout(r, 3000))]).then(done, done);
  });
}

export class Child {
  private tail = '';

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    readonly logFile?: string,
  ) {
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    const keep = (d: Buffer): void => {
      this.tail = (this.tail + d.toString('utf8')).slice(-8192);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.proc.pid;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** the last output: the pipe's tail, or the log file's */
  output(): string {
    if (!this.logFile) return this.tail;
    try {
      return readFileSync(this.logFile, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 12_000): Promise<void> {
    if (this.exited) return;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts `node args...` and waits for a line of its stdout that matches `ready` (group 1 is returned). */
export async function startPiped(name: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 30_000): Promise<{ child: Child; match: string }> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child(name, proc);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => {
    if (out.length < 65_536) out += d.toString('utf8');
  });
  const started = Date.now();
  for (;;) {
    const m = ready.exec(out);
    if (m?.[1]) return { child, match: m[1] };
    if (child.exited || Date.now() - started > timeoutMs) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not start:\n${child.output()}`);
    }
    await sleep(25);
  }
}

/** Starts `node args...` with stdout and stderr going to `logFile` (as a container runtime would take them), and
 *  waits until the file holds a line that matches `ready`. */
export async function startLogged(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, ready: RegExp, timeoutMs = 30_000): Promise<{ child: Child; match: string }> {
  const fd = openSync(logFile, 'a');
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const child = new Child(name, proc, logFile);
  const started = Date.now();
  for (;;) {
    await sleep(50);
    const m = ready.exec(readFileSync(logFile, 'utf8').slice(0, 65_536));
    if (m?.[1]) return { child, match: m[1] };
    if (child.exited || Date.now() - started > timeoutMs) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not start:\n${child.output()}`);
    }
  }
}

/** Runs `node args...` to completion; throws with its output when it fails. */
export async function runNode(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child(name, proc);
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const [code] = (await once(proc, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${child.output()}`);
  return out.trim();
}

const CLK_TCK = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process so far, in ms (Linux /proc; clock-tick resolution). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may hold spaces: count fields after its closing parenthesis (field 3 is the state)
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** Resident set size in MB (VmRSS). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) / 1024 : NaN;
}

/** CPU time of every child still running, in ms (with `extraPids`, e.g. a redis-server started elsewhere). */
export function childrenCpuMs(extraPids: readonly number[] = []): number {
  let sum = 0;
  const pids = [...[...live].map((c) => c.pid), ...extraPids];
  for (const pid of pids) {
    if (pid === undefined) continue;
    try {
      sum += cpuMs(pid);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

/** The whole machine from /proc/stat, in ms of CPU time summed over all CPUs: busy (not idle, not iowait) and
 *  steal (the hypervisor ran someone else while this VM wanted to run). */
export function machineMs(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...ticks] = line.trim().split(/\s+/);
  const t = ticks.map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = t;
  return { busy: ((user + nice + system + irq + softirq) * 1000) / CLK_TCK, steal: (steal * 1000) / CLK_TCK };
}

/** CPU time of this process (the load generator), in ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
