/** What the service remembers of a customer's recent contacts, per profile. */
export interface RecentContacts {
  /**
   * Records this contact for the profile and tells whether the customer made another contact within
   * the window. Contacts are keyed by their InitialContactId, so a transfer of the same call or a
   * Connect retry of the same ContactId is not a repeat.
   */
  record(profileId: string, initialContactId: string, at: number): Promise<{ isRepeat: boolean; lastContactAt: string }>;
}

/** In-process recent contacts: bounded per profile and in profiles, entries expire with the window. */
export class MemoryRecentContacts implements RecentContacts {
  private readonly byProfile = new Map<string, Map<string, number>>();

  constructor(
    private readonly windowMs: number,
    private readonly maxProfiles = 100_000,
    private readonly maxPerProfile = 20,
  ) {}

  record(profileId: string, initialContactId: string, at: number): Promise<{ isRepeat: boolean; lastContactAt: string }> {
    const contacts = this.byProfile.get(profileId) ?? new Map<string, number>();
    let last = 0;
    for (const [id, when] of contacts) {
      if (when < at - this.windowMs) contacts.delete(id);
      else if (id !== initialContactId && when > last) last = when;
    }
    if (!contacts.has(initialContactId)) contacts.set(initialContactId, at);
    while (contacts.size > this.maxPerProfile) contacts.delete(contacts.keys().next().value!);
    // re-insert to keep the map in least-recently-used order, then bound it
    this.byProfile.delete(profileId);
    this.byProfile.set(profileId, contacts);
    if (this.byProfile.size > this.maxProfiles) this.byProfile.delete(this.byProfile.keys().next().value!);
    return Promise.resolve({ isRepeat: last > 0, lastContactAt: last > 0 ? new Date(last).toISOString() : '' });
  }
}
