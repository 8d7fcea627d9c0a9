// operation "update" over HTTP on the real app (in-process state and queue), where the queue can be made to refuse.
import { expect } from 'chai';
import { startApp, type RunningApp } from '../support/app.js';
import { eventFrom } from '../support/fixtures.js';

const PROFILE_ID = '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d';

describe('POST /v1/resolve with operation "update"', () => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it('when the queue refuses the update (FAILED), a retry of it is tried again, not answered QUEUED', async () => {
    app = await startApp();
    const update = eventFrom('voice-e164.json', { parameters: { operation: 'update', profileId: PROFILE_ID, 'profile.FirstName': 'Amy' } });
    // a queue that is closing takes nothing
    await app.records.close();

    const first = (await (await app.resolve(update)).json()) as Record<string, string>;
    const retry = (await (await app.resolve(update)).json()) as Record<string, string>;

    expect(first).to.include({ updateStatus: 'FAILED', profileId: PROFILE_ID });
    expect(retry).to.include({ updateStatus: 'FAILED' });
  });

  it('a retry of a queued update is answered QUEUED and queued once', async () => {
    app = await startApp();
    const update = eventFrom('voice-e164.json', { parameters: { operation: 'update', profileId: PROFILE_ID, 'profile.FirstName': 'Amy' } });

    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(((await (await app.resolve(update)).json()) as Record<string, string>).updateStatus);

    expect(answers).to.deep.equal(['QUEUED', 'QUEUED', 'QUEUED']);
    expect(await app.records.depth()).to.equal(1);
  });
});
