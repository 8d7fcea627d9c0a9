// The floor: the least an Express 5 service answering this call can cost on this machine. The same body
// (express.json of the Connect event, same 64 KB limit), one ioredis GET, a flat JSON answer; nothing else.
//   REDIS_URL=redis://127.0.0.1:PORT PORT=0 node --import tsx bench/floor.ts   -> prints FLOOR_URL=http://127.0.0.1:N
import express from 'express';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';

const FLOOR_KEY = 'bench:floor:answer';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6399');
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/v1/resolve', express.json({ limit: '64kb', type: 'application/json' }), async (req, res) => {
  const body = req.body as { Details?: { ContactData?: { ContactId?: string } } };
  const cached = await redis.get(FLOOR_KEY);
  const answer = cached ? (JSON.parse(cached) as Record<string, string>) : {};
  res.json({ ...answer, contactId: body.Details?.ContactData?.ContactId ?? '' });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`FLOOR_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  redis.disconnect();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
