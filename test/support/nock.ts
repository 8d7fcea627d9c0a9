import nock from 'nock';

/** Contract tests opt in to nock for their own duration; other tests see real sockets. */
export function useNock(): void {
  before(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    if (pending.length > 0) throw new Error(`expected requests never made: ${pending.join(', ')}`);
  });
  after(() => {
    nock.enableNetConnect();
    nock.restore();
  });
}
