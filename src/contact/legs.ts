// A contact's later legs (a transfer, a queue transfer, a callback) and the resolution of an earlier one.
import type { ContactLeg } from '../cache/contact-legs.js';
import type { LookupKey } from '../cache/keys.js';
import type { ContactEvent } from './event.js';

/** The earlier legs a contact names, the most recent first (PreviousContactId, then InitialContactId); none for a first leg. */
export function earlierLegsOf(event: Pick<ContactEvent, 'contactId' | 'initialContactId' | 'previousContactId'>): string[] {
  return [...new Set([event.previousContactId, event.initialContactId])].filter((id) => id !== '' && id !== event.contactId);
}

/** What a later leg was asked with: the keyed hash of its phone number or e-mail address ('' when none) and its lookup. */
export interface LegKeys extends LookupKey {
  identityTag: string;
}

/**
 * Whether a later leg is answered from an earlier leg's resolution, with its verification. Only within
 * the window, and only for the same caller as far as the later leg can tell:
 * - a later leg with no key of its own (a transfer whose flow has no phone number or e-mail) takes the
 *   earlier leg's profile: Connect says it is the same contact;
 * - one with a phone number or e-mail address, the same as the earlier leg's, asked alone or with the
 *   same other keys (a transfer's flow asking with the phone number alone gets the verification that the
 *   account number earned in the first leg);
 * - one without a phone number or e-mail, with the same keys as the earlier leg.
 * Any other key, or another number or address, is another question: it is looked up afresh.
 */
export function carries(leg: ContactLeg, here: LegKeys | undefined, now: number, windowMs: number): boolean {
  if (now - leg.at > windowMs) return false;
  if (!here) return true;
  if (here.identityTag !== '') return here.identityTag === leg.identityTag && (here.variant === '' || here.variant === leg.variant);
  return leg.identityTag === '' && here.tag === leg.tag && here.variant === leg.variant;
}
