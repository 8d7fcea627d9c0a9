import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { listen } from './app.js';

export interface Captured {
  url: string;
  requests: Array<{ method: string | undefined; path: string | undefined; headers: IncomingHttpHeaders; body: string }>;
  server: Server;
}

/**
 * A tiny HTTP server that records each request; it answers `answer` or, with hang, never answers; with
 * `page`, it answers that status and body instead (a load balancer's HTML error page).
 */
export async function captureServer(o: { answer?: Record<string, string>; hang?: boolean; page?: { status: number; contentType: string; body: string } }): Promise<Captured> {
  const requests: Captured['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (o.hang) return;
      if (o.page) {
        res.writeHead(o.page.status, { 'content-type': o.page.contentType });
        res.end(o.page.body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o.answer ?? {}));
    });
  });
  return { url: await listen(server), requests, server };
}
