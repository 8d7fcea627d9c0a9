// The README's Layout section is the map a newcomer reads first: it names every folder of src/ (and only
// what exists), and the code keeps to its layers: nothing imports a module of a layer above its own.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { REPO_ROOT } from '../support/service.js';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const block = /## Layout\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const entries = block
  .split('\n')
  .map((line) => /^(\S+)\s{2,}/.exec(line)?.[1])
  .filter((e): e is string => e !== undefined);

// lower layers first; a module may import its own folder and anything in a lower layer
const LAYERS: Array<readonly string[]> = [
  ['domain', 'errors.ts', 'aws-operations.ts'],
  ['config', 'ops', 'redis', 'aws'],
  ['cache', 'records'],
  ['profiles', 'stream'],
  ['contact'],
  ['http', 'app.ts'],
  ['backends'],
  ['service.ts', 'cli', 'lambda'],
  ['main.ts'],
];
const layerOf = (top: string): number => LAYERS.findIndex((l) => l.includes(top));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : /\.(ts|mjs)$/.test(name) ? [path] : [];
  });
}

describe('README Layout and the layers of src/', () => {
  it('the Layout section lists entries, each of which exists', () => {
    expect(entries.length).to.be.greaterThan(10);
    for (const entry of entries) expect(existsSync(join(REPO_ROOT, entry)), entry).to.equal(true);
  });

  it('every folder and top-level file of src/ is in the Layout section', () => {
    for (const name of readdirSync(join(REPO_ROOT, 'src'))) {
      const entry = statSync(join(REPO_ROOT, 'src', name)).isDirectory() ? `src/${name}/` : `src/${name}`;
      expect(entries, entry).to.include(entry);
    }
  });

  it('every folder and top-level file of src/ has a layer', () => {
    for (const name of readdirSync(join(REPO_ROOT, 'src'))) expect(layerOf(name), name).to.be.at.least(0);
  });

  it('no module imports one of a higher layer (no import runs back up the layers)', () => {
    const src = join(REPO_ROOT, 'src');
    const upward: string[] = [];
    for (const file of sources(src)) {
      const from = relative(src, file).split('/')[0]!;
      for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const to = normalize(relative(src, join(dirname(file), spec!))).split('/')[0]!.replace(/\.js$/, '.ts');
        if (to !== from && layerOf(to) > layerOf(from)) upward.push(`${relative(src, file)} -> ${spec}`);
      }
    }
    expect(upward).to.deep.equal([]);
  });
});
