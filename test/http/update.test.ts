// operation "update" over HTTP on the real app (in-process state and queue), where the queue can be made to refuse.
import { expect } from 'chai';
import { startApp, type RunningApp } from '../support/app.js';
import { eventFrom } from '../support/fixtures.js';

/** Resolves the contact first (an update writes only to the profile its contact resolved to); the update event for it. */
async function resolvedUpdate(app: RunningApp): Promise<{ update: Record<string, unknown>; profileId: string }> {
  const { profileId } = (await (await app.resolve(eventFrom('voice-e164.json', {}))).json()) as Record<string, string>;
  expect(profileId).to.match(/^[0-9a-f]{32}$/);
  return { update: eventFrom('voice-e164.json', { parameters: { operation: 'update', profileId: profileId!, 'profile.FirstName': 'Amy' } }), profileId: profileId! };
}

describe('POST /v1/resolve with operation "update"', () => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it('when the queue refuses the update (FAILED), a retry of it is tried again, not answered QUEUED', async () => {
    app = await startApp();
    const { update, profileId } = await resolvedUpdate(app);
    // a queue that is closing takes nothing
    await app.records.close();

    const first = (await (await app.resolve(update)).json()) as Record<string, string>;
    const retry = (await (await app.resolve(update)).json()) as Record<string, string>;

    expect(first).to.include({ updateStatus: 'FAILED', profileId });
    expect(retry).to.include({ updateStatus: 'FAILED' });
  });

  it('a retry of a queued update is answered QUEUED and queued once', async () => {
    app = await startApp();
    const { update } = await resolvedUpdate(app);
    const depth = await app.records.depth(); // the resolve's contact record

    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(((await (await app.resolve(update)).json()) as Record<string, string>).updateStatus);

    expect(answers).to.deep.equal(['QUEUED', 'QUEUED', 'QUEUED']);
    expect(await app.records.depth()).to.equal(depth + 1);
  });
});
