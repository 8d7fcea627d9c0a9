// What a run prints (markdown tables, one PASS / FAIL / INFO line a target) and writes (bench/results/*.json).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Row } from './measure.js';
import { BUSY_PCT, STEAL_PCT } from './options.js';
import type { SoakResult } from './soak.js';
import type { Verdict } from './targets.js';

export const fmt = (v: number, digits = 2): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

export const verdictLine = (c: Verdict): string => `${c.pass === null ? 'INFO' : c.pass ? 'PASS' : 'FAIL'}  ${c.target}: ${c.measured}`;

function answersOf(r: Row): string {
  const total = Object.values(r.answers).reduce((a, b) => a + b, 0);
  return Object.entries(r.answers)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => (k === '-' ? 'ok' : k) + (v === total ? '' : ` ${fmt((v / total) * 100, 1)}%`))
    .join(', ');
}

/** The scenarios' table, and where the machine's CPU went during each. */
export function tables(rows: readonly Row[]): string {
  const lines = [
    '| scenario | conns | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | answers | Search+Create /contact | AddKey+PutObject /contact | Redis cmds /contact | server CPU ms/req | RSS MB |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    const aws = r.aws;
    lines.push(
      `| ${r.label} | ${r.connections} | ${fmt(r.rps, 0)} | ${fmt(r.latency.p50)} | ${fmt(r.latency.p99)} | ${fmt(r.latency.p999)} | ${fmt(r.latency.max)} | ${r.errors} | ${answersOf(r)} | ${aws ? fmt(aws.hotPerContact, 3) : '-'} | ${aws ? fmt(aws.recordWritesPerContact, 3) : '-'} | ${r.kind === 'naive' ? '-' : fmt(r.redis.commandsPerRequest, 1)} | ${fmt(r.cpu.targetMsPerRequest, 3)} | ${fmt(r.rssMb, 0)} |`,
    );
  }
  lines.push(
    '',
    'Search+Create and AddKey+PutObject: calls the AWS fake received during the measured run, per contact (for the service the record writes are its background worker\'s, capped by RECORD_WRITES_PER_SECOND=40; for the naive peer PutProfileObject is on the hot path). Redis cmds: INFO commandstats per contact, commands inside Lua scripts (BullMQ, write-slot reservations) included. server CPU: utime+stime of the process under test per request, its background work included. RSS: VmRSS after the run.',
  );
  lines.push('', `Where the ${os.cpus().length} cores went during each measured run (% of one core; "others": work on the machine that is not the benchmark's; "steal": time the hypervisor gave to other VMs; (!): above ${BUSY_PCT}% / ${STEAL_PCT}%, still so after re-measuring within the --quiet-wait budget):`, '');
  lines.push('| scenario | server process | redis-server | AWS fake | load generator | others | steal | record queue after |', '|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const c = r.cpu;
    lines.push(`| ${r.label} | ${fmt(c.targetPct, 0)}% | ${fmt(c.redisPct, 0)}% | ${fmt(c.fakePct, 0)}% | ${fmt(c.loadGeneratorPct, 0)}% | ${fmt(c.othersPct, 0)}%${c.othersPct >= BUSY_PCT ? ' (!)' : ''} | ${fmt(c.stealPct, 0)}%${c.stealPct >= STEAL_PCT ? ' (!)' : ''} | ${r.queueDepthAfter ?? '-'} |`);
  }
  return lines.join('\n');
}

/** The soak's one-row table. */
export function soakTable(s: SoakResult): string {
  const rss = s.rss;
  const growth = rss.growthAfterFirstMinute;
  return [
    '| soak | req/s | p50 ms | p99 ms | p99.9 ms | errors | CPU ms/req | RSS start MB | RSS at 1 min MB | RSS end MB | RSS mean minute 2 -> last minute | Redis used MB start -> end | record queue after |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|--:|',
    `| ${s.minutes} min, ${s.connections} conns, cache hits | ${fmt(s.rps, 0)} | ${fmt(s.latency.p50)} | ${fmt(s.latency.p99)} | ${fmt(s.latency.p999)} | ${s.errors} | ${fmt(s.cpuMsPerRequest, 3)} | ${fmt(rss.startMb, 1)} | ${fmt(rss.afterFirstMinuteMb, 1)} | ${fmt(rss.endMb, 1)} | ${fmt(rss.meanSecondMinuteMb, 1)} -> ${fmt(rss.meanLastMinuteMb, 1)} (${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)}%) | ${fmt(s.redisUsedMemoryMb.start, 0)} -> ${fmt(s.redisUsedMemoryMb.end, 0)} | ${s.recordQueueDepthAfter ?? '-'} |`,
  ].join('\n');
}

/** Writes <root>/bench/results/<name>.json; returns its path from `root`. */
export function writeResults(root: string, name: string, results: unknown): string {
  const dir = path.join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return path.relative(root, file);
}
