import type { CountryCode } from 'libphonenumber-js/max';
import type { ContactEvent } from './event.js';
import { normaliseEmail, normalisePhone, type Identity } from '../domain/identity.js';
import { STANDARD_KEYS, type CallerKeys, type SearchKey } from '../domain/keys.js';

export type IdentitySource = 'parameter' | 'endpoint' | 'attribute';

/**
 * The caller's identity, first usable source wins (contract order):
 * 1. flow parameters phoneNumber / emailAddress; 2. the customer endpoint (voice: phone, email channel:
 * address); 3. contact attributes phoneNumber / email (chat and task carry identity there).
 * A withheld or invalid value is skipped and the next source tried.
 */
export function identify(event: ContactEvent, region: CountryCode): { identity: Identity; source: IdentitySource } | undefined {
  const { parameters: p, customerEndpoint: e, attributes } = event;
  // own properties only: a key such as __proto__ or constructor in the event never answers for an attribute
  const attribute = (name: string) => (Object.hasOwn(attributes, name) ? attributes[name] : undefined);
  const candidates: Array<[IdentitySource, () => Identity | undefined]> = [
    ['parameter', () => normalisePhone(p.phoneNumber, region)],
    ['parameter', () => normaliseEmail(p.emailAddress)],
    ['endpoint', () => (e?.type === 'TELEPHONE_NUMBER' ? normalisePhone(e.address, region) : undefined)],
    ['endpoint', () => (e?.type === 'EMAIL_ADDRESS' ? normaliseEmail(e.address) : undefined)],
    ['attribute', () => normalisePhone(attribute('phoneNumber'), region)],
    ['attribute', () => normaliseEmail(attribute('email'))],
  ];
  for (const [source, read] of candidates) {
    const identity = read();
    if (identity) return { identity, source };
  }
  return undefined;
}

/**
 * Everything the contact is looked up by: the identity (above) and the keys the flow collected, in a
 * fixed order (`_account`, `_profileId`, the custom key) so the same keys always make the same search
 * and the same cache entry. Undefined when there is nothing to look up by (an anonymous contact).
 */
export function callerKeys(event: ContactEvent, region: CountryCode): { keys: CallerKeys; source: IdentitySource | undefined } | undefined {
  const found = identify(event, region);
  const p = event.parameters;
  const extra: SearchKey[] = [];
  if (p.accountNumber !== undefined) extra.push({ name: STANDARD_KEYS.account, values: [p.accountNumber] });
  if (p.profileId !== undefined) extra.push({ name: STANDARD_KEYS.profileId, values: [p.profileId] });
  if (p.search) extra.push({ name: p.search.key, values: [p.search.value] });
  if (!found && extra.length === 0) return undefined;
  return { keys: { identity: found?.identity, extra, mode: p.matchMode }, source: found?.source };
}
