import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The sample Amazon Connect events the README and the docs use (examples/events/). */
export const FIXTURE_DIR = fileURLToPath(new URL('../../examples/events/', import.meta.url));

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json')).sort();
}

/** The embedded store's seed profiles (config/embedded-profiles.json), to seed the AWS fake with the same data. */
export function embeddedSeed(): Array<Record<string, unknown>> {
  return (JSON.parse(readFileSync(fileURLToPath(new URL('../../config/embedded-profiles.json', import.meta.url)), 'utf8')) as { profiles: Array<Record<string, unknown>> }).profiles;
}

/** A fresh copy of a fixture event, safe to edit. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadFixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(`${FIXTURE_DIR}${name}`, 'utf8')) as Record<string, unknown>;
}

interface EditableEvent {
  Details: {
    ContactData: { ContactId: string; InitialContactId: string; PreviousContactId?: string; CustomerEndpoint: { Address: string | null } | null };
    Parameters?: Record<string, string> | null;
  };
}

/** A fixture event from another caller address, as another contact (a first one: its own initial and previous contact too), and/or with more flow parameters. */
export function eventFrom(fixture: string, change: { address?: string; contactId?: string; parameters?: Record<string, string> }): Record<string, unknown> {
  const e = loadFixture(fixture) as EditableEvent;
  if (change.parameters) e.Details.Parameters = { ...e.Details.Parameters, ...change.parameters };
  const data = e.Details.ContactData;
  if (change.address !== undefined) data.CustomerEndpoint = { ...data.CustomerEndpoint, Address: change.address };
  if (change.contactId !== undefined) {
    data.ContactId = change.contactId;
    data.InitialContactId = change.contactId;
    data.PreviousContactId = change.contactId;
  }
  return e as unknown as Record<string, unknown>;
}
