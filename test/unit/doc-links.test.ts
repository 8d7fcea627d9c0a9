// The README and docs/ link to each other by path and heading anchor, and the code points operators at
// them: a moved section leaves a link to nowhere. Every relative link, and every `<file>.md#<anchor>` or
// `<file>.md, "<section>"` pointer in src/, must name a file that exists and a heading (or bold
// paragraph title, for the quoted form) in it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../support/service.js';

const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** The lines of a markdown file outside fenced code blocks. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's anchor for a heading (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors a markdown file has: one per heading (repeats numbered as GitHub does) and explicit ids. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(read(file))) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]!);
  }
  return out;
}

const markdownFiles = ['README.md', ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(REPO_ROOT, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(REPO_ROOT, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|mjs|js)$/.test(name) ? [rel] : [];
  });
}

/** Whether a link target (relative to `from`) resolves: the file exists and, for a .md file, has the anchor. */
function problem(from: string, target: string): string | undefined {
  const [file, anchor] = target.split('#') as [string, string | undefined];
  const resolved = file === '' ? from : path.posix.normalize(path.posix.join(path.posix.dirname(from), file));
  if (!existsSync(path.join(REPO_ROOT, resolved))) return `${from}: ${target}: no file ${resolved}`;
  if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) {
    return `${from}: ${target}: ${resolved} has no heading whose anchor is #${anchor}`;
  }
  return undefined;
}

describe('links between the README, docs/ and the code', () => {
  for (const file of markdownFiles) {
    it(`every relative link in ${file} names a file that exists and a heading in it`, () => {
      const problems: string[] = [];
      for (const line of prose(read(file))) {
        // inline code is not a link
        for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
          const p = problem(file, target);
          if (p) problems.push(p);
        }
      }
      expect(problems).to.deep.equal([]);
    });
  }

  it('every README.md or docs/*.md pointer in src/ names a file that exists and a heading (or a bold section title) in it', () => {
    const problems: string[] = [];
    const files = sourceFiles('src');
    expect(files.length).to.be.greaterThan(10);
    for (const file of files) {
      const text = read(file);
      for (const m of text.matchAll(/\b((?:docs\/)?[\w.-]+\.md)#([\w-]+)/g)) {
        const p = problem('.', `${m[1]!}#${m[2]!}`);
        if (p) problems.push(`${file}: ${p}`);
      }
      // `see README, "Erasing a customer"` or `see docs/security.md, "Erasing a customer"`: a section named in words
      for (const m of text.matchAll(/\bsee (README|docs\/[\w.-]+\.md),? "([^"]+)"/g)) {
        const doc = m[1] === 'README' ? 'README.md' : m[1]!;
        if (!existsSync(path.join(REPO_ROOT, doc))) {
          problems.push(`${file}: ${doc} does not exist`);
          continue;
        }
        const titled = prose(read(doc)).some((line) => line.replace(/^#{1,6}\s+/, '') === m[2] || line.startsWith(`**${m[2]!}.**`) || line.startsWith(`**${m[2]!}**`));
        if (!titled) problems.push(`${file}: ${doc} has no section "${m[2]!}"`);
      }
    }
    expect(problems).to.deep.equal([]);
  });
});
