import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../support/service.js';

const read = (file: string) => readFileSync(`${REPO_ROOT}${file}`, 'utf8');
const majors = (text: string, pattern: RegExp) => [...text.matchAll(pattern)].map((m) => Number(m[1]));

// What ships (the image, the Lambda bundle, the documented Lambda runtime) is the Node major CI runs the
// suite on besides the machines' own: no file may move on without the others.
describe('the Node.js runtime we ship', () => {
  const tested = majors(read('.ci/run'), /\bnode@(\d+)\b/g);

  it('is one Node major that .ci/run installs and runs the suite on', () => {
    expect(new Set(tested).size, 'node@N in .ci/run').to.equal(1);
  });

  it('is the base of every stage of the Dockerfile', () => {
    const stages = [...read('Dockerfile').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(stages).to.have.length(3);
    for (const image of stages) expect(image).to.equal(`node:${tested[0]}-bookworm-slim`);
  });

  it('is the Lambda bundle target and the runtime the README tells users to pick', () => {
    expect(majors(read('scripts/build-lambda.mjs'), /target:\s*'node(\d+)'/g)).to.deep.equal(tested);
    const documented = majors(read('README.md'), /\(runtime `nodejs(\d+)\.x`/g);
    expect(documented, 'the README\'s "(runtime `nodejsN.x`"').to.not.be.empty;
    for (const major of documented) expect(major).to.equal(tested[0]);
  });

  it('keeps engines honest: this Node satisfies package.json engines', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const [, major, minor] = /^>=(\d+)\.(\d+)\.\d+$/.exec(engines) ?? [];
    const [runMajor, runMinor] = process.versions.node.split('.').map(Number);
    expect(runMajor! > Number(major) || (runMajor === Number(major) && runMinor! >= Number(minor)), `${process.version} against ${engines}`).to.equal(true);
  });
});
