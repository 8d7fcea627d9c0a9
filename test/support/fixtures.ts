import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The shared sample Amazon Connect events (../shared/fixtures/events beside the repository). */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../shared/fixtures/events/', import.meta.url));

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort();
}

/** A fresh copy of a fixture event, safe to edit. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadFixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(`${FIXTURE_DIR}${name}`, 'utf8')) as Record<string, unknown>;
}
