import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { REPO_ROOT } from './service.js';

/** The service as a real process (src/main.ts through tsx), on ports it picks itself (the main one and METRICS_PORT). */
export class ServiceProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    /** the metrics listener, where GET /metrics is served */
    readonly metricsUrl: string,
    readonly output: () => string,
  ) {}

  static async start(env: Record<string, string>, timeoutMs = 20_000): Promise<ServiceProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const started = Date.now();
    for (;;) {
      const m = /"port":(\d+),"metricsPort":(\d+)[^\n]*"msg":"listening"/.exec(out);
      if (m) return new ServiceProcess(child, `http://127.0.0.1:${m[1]}`, `http://127.0.0.1:${m[2]}`, () => out);
      if (child.exitCode !== null || Date.now() - started > timeoutMs) {
        child.kill('SIGKILL');
        throw new Error(`the service did not start:\n${out.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Ends the process at once, as a crash or `kill -9` would. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = once(this.child, 'exit') as Promise<[number | null]>;
    this.child.kill('SIGTERM');
    const [code] = await exited;
    return code;
  }
}

export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point of the project as a process (through tsx), with only the environment given. */
export async function runScript(script: string, args: string[], env: Record<string, string>, ms = 15_000): Promise<ProcessRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
