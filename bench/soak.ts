// The soak (--soak): cache hits of one known caller for --minutes at --connections, RSS and Redis memory sampled
// every 2 s; the verdict compares the mean RSS of the second minute with that of the last (targets.ts).
import { performance } from 'node:perf_hooks';
import { runLoad, type Latency } from './load.js';
import { perRequest, redisCommands, type Row } from './measure.js';
import { cpuMs, rssMb } from './procs.js';
import { soakTable, verdictLine } from './report.js';
import { queueDepth, startService, type Env } from './servers.js';
import { soakVerdict, type Verdict } from './targets.js';
import { seedCallers } from './traffic.js';

export interface SoakResult {
  minutes: number;
  connections: number;
  requests: number;
  rps: number;
  latency: Latency;
  errors: number;
  answers: Record<string, number>;
  cpuMsPerRequest: number;
  rss: { startMb: number; afterFirstMinuteMb: number; endMb: number; meanSecondMinuteMb: number; meanLastMinuteMb: number; growthAfterFirstMinute: number; maxMb: number };
  redisUsedMemoryMb: { start: number; end: number };
  recordQueueDepthAfter: number | undefined;
  redisCommandsPerRequest: Row['redis'];
  samples: Array<{ s: number; rssMb: number; redisMb: number }>;
  verdict: Verdict;
}

export async function soak(env: Env): Promise<SoakResult> {
  const { connections, minutes, warmup } = env.opts;
  console.log(`soak: cache hits (one known caller), ${connections} connections, ${minutes} min`);
  const target = await startService(env, 'soak');
  const redisInfo = env.redis.client();
  const redisMb = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redisInfo.info('memory'))?.[1] ?? NaN) / 1048576;
  try {
    const [phone = ''] = await seedCallers(env, 1);
    const body = () => env.events.body(phone);
    await runLoad({ url: target.url, connections, seconds: warmup, headers: env.headers, nextBody: body });
    const pid = target.child.pid;
    const samples: SoakResult['samples'] = [];
    const t0 = performance.now();
    const sample = async () => samples.push({ s: (performance.now() - t0) / 1000, rssMb: rssMb(pid), redisMb: await redisMb() });
    await sample();
    const cpu0 = cpuMs(pid);
    const redis0 = await redisCommands(env.redisClient);
    const timer = setInterval(() => void sample(), 2000);
    const r = await runLoad({ url: target.url, connections, seconds: minutes * 60, headers: env.headers, nextBody: body });
    clearInterval(timer);
    await sample();
    const cpu = cpuMs(pid) - cpu0;
    const first = samples[0];
    const last = samples[samples.length - 1];
    const afterMinute = samples.find((x) => x.s >= 60) ?? last;
    if (!first || !last || !afterMinute) throw new Error('no RSS samples');
    // RSS saws up and down with garbage collection (+-15% between two samples): the verdict compares the mean of
    // the second minute with the mean of the last minute, not two single samples
    const mean = (from: number, to: number): number => {
      const xs = samples.filter((x) => x.s >= from && x.s <= to).map((x) => x.rssMb);
      return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    };
    const end = last.s;
    const secondMinute = mean(60, Math.min(120, end));
    const lastMinute = mean(Math.max(60, end - 60), end);
    const errors = r.non2xx + r.errors;
    const result: SoakResult = {
      minutes,
      connections,
      requests: r.ok + r.non2xx,
      rps: r.rps,
      latency: r.latency,
      errors,
      answers: r.customerStatus,
      cpuMsPerRequest: cpu / Math.max(1, r.ok + r.non2xx),
      rss: { startMb: first.rssMb, afterFirstMinuteMb: afterMinute.rssMb, endMb: last.rssMb, meanSecondMinuteMb: secondMinute, meanLastMinuteMb: lastMinute, growthAfterFirstMinute: (lastMinute - secondMinute) / secondMinute, maxMb: Math.max(...samples.map((x) => x.rssMb)) },
      redisUsedMemoryMb: { start: first.redisMb, end: last.redisMb },
      recordQueueDepthAfter: await queueDepth(target),
      redisCommandsPerRequest: perRequest(redis0, await redisCommands(env.redisClient), Math.max(1, r.ok + r.non2xx)),
      samples,
      verdict: soakVerdict({ minutes, meanSecondMinuteMb: secondMinute, meanLastMinuteMb: lastMinute, errors }),
    };
    console.log('');
    console.log(soakTable(result));
    console.log('');
    console.log(verdictLine(result.verdict));
    return result;
  } finally {
    await redisInfo.quit();
    await target.child.stop();
  }
}
