import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that can hold back what the server sends: with `delayReplies(ms)` every
 * reply reaches the client `ms` later (in order), while the client's commands still reach the server at
 * once. A Redis command then runs on the server but times out at the client: its outcome unknown.
 */
export class DelayingProxy {
  #delayMs = 0;
  #target = 0;
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, host = '127.0.0.1'): Promise<DelayingProxy> {
    // connections arrive only after listening, when `proxy` is set
    const server: Server = createServer((client) => proxy.connect(client, proxy.#target, host));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new DelayingProxy(server, (server.address() as AddressInfo).port);
    proxy.#target = targetPort;
    return proxy;
  }

  /** New connections go to this port from now on; open ones stay where they are (a DNS name that moved). */
  retarget(port: number): void {
    this.#target = port;
  }

  delayReplies(ms: number): void {
    this.#delayMs = ms;
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: Socket, port: number, host: string): void {
    const upstream = createConnection({ port, host });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    // replies leave in arrival order, each no sooner than its due time
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      timer = undefined;
      while (queue.length > 0 && queue[0]!.due <= Date.now()) client.write(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - Date.now());
    };
    upstream.on('data', (chunk: Buffer) => {
      queue.push({ due: Date.now() + this.#delayMs, chunk });
      if (!timer) drain();
    });
  }
}
