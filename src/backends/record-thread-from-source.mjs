// The record thread's entry when the service runs from its TypeScript sources (tests, tsx): on Node 20 a
// worker thread does not inherit tsx's loader, so it registers it before loading record-thread-main.ts.
import { register } from 'tsx/esm/api';

register();
await import('./record-thread-main.ts');
