import type { PendingUpdates } from '../cache/pending-updates.js';
import type { Pacer } from './pacer.js';
import { pickFields, updatedFieldNames } from '../domain/profile-update.js';
import { type QueuedJob, type RecordJob, type RecordProgress, type UpdateJob } from './job.js';

// a delayed job may be picked up a little early by another replica's clock
const SLOT_MARGIN_MS = 15;

/** What a run of the steps came to: done, or paced (try again in `delayMs`, progress kept). */
export type StepOutcome = { done: true } | { done: false; delayMs: number };

/** Where records are written: Customer Profiles (and Connect), or the embedded store. Errors are RecordErrors. */
export interface RecordTarget {
  addContactKey(job: RecordJob): Promise<void>;
  putRecord(job: RecordJob): Promise<void>;
  /** UpdateProfile with the job's fields ("" clears one) */
  updateProfile(job: UpdateJob): Promise<void>;
  /** undefined: stamping off */
  stamp?: ((job: RecordJob) => Promise<void>) | undefined;
}

/**
 * The work of one contact record, in steps that each run once (a profile update is one step: its
 * UpdateProfile, in the profile's object-write slot like step 2):
 * 1. AddProfileKey `_ctrContactId` = ContactId on the resolved profile, so the contact record Connect
 *    ingests when the contact ends lands on this profile instead of an inferred duplicate;
 * 2. PutProfileObject of the contact-record object on that profile (at most one object write per profile
 *    per second across the fleet: "Too many objects ingested on the profile per second");
 * 3. optionally UpdateContactAttributes on the contact (Connect allows 10 per second per account).
 * `progress` is updated in place as steps finish.
 */
export class RecordWriter {
  constructor(
    private readonly target: RecordTarget,
    private readonly pacer: Pacer,
    /** the profiles' pending updates (see PendingUpdates): an update leaves them once written or dead-lettered */
    private readonly pending?: Pick<PendingUpdates, 'remove'>,
  ) {}

  /** A job the queue gave up on (dead-lettered): an update is no longer pending (a replay writes it later). */
  async abandoned(job: QueuedJob): Promise<void> {
    if (job.kind === 'update') await this.pending?.remove(job.profileId, job.updateId);
  }

  async run(job: QueuedJob, progress: RecordProgress): Promise<StepOutcome> {
    if (job.kind === 'update') {
      // an update is one object write, in the profile's slot like a record's
      if (!progress.objectWritten) {
        const wait = await this.objectSlot(job.profileId, progress);
        if (wait > 0) return { done: false, delayMs: wait };
        // only the fields no newer update of the profile has written (a retry or a replay comes late)
        const fields = await this.pacer.newestFields(job.profileId, updatedFieldNames(job.update), Date.parse(job.receivedAt));
        if (fields.length > 0) {
          const update = pickFields(job.update, fields);
          await this.objectWrite(job.profileId, progress, () => this.target.updateProfile({ ...job, update }));
        }
        progress.objectWritten = true;
      }
      // written (or every field already written by a newer update): Customer Profiles shows it now
      await this.pending?.remove(job.profileId, job.updateId);
      return { done: true };
    }
    if (!progress.keyAdded) {
      await this.target.addContactKey(job);
      progress.keyAdded = true;
    }
    if (!progress.objectWritten) {
      const wait = await this.objectSlot(job.profileId, progress);
      if (wait > 0) return { done: false, delayMs: wait };
      await this.objectWrite(job.profileId, progress, () => this.target.putRecord(job));
      progress.objectWritten = true;
    }
    const stamp = this.target.stamp;
    if (stamp && !progress.stamped) {
      if (!progress.stampSlot) {
        const wait = await this.pacer.reserveConnectStamp();
        if (wait > 0) {
          progress.stampSlot = true;
          return { done: false, delayMs: wait + SLOT_MARGIN_MS };
        }
      }
      await this.slotted(progress, 'stampSlot', () => stamp(job));
      progress.stamped = true;
    }
    return { done: true };
  }

  /**
   * The profile's object-write slot (UpdateProfile and PutProfileObject alike: Customer Profiles takes
   * one object write per profile per second): 0 when the write may go now, else how long to wait.
   */
  private async objectSlot(profileId: string, progress: RecordProgress): Promise<number> {
    if (!progress.objectSlot) {
      const wait = await this.pacer.reserveProfileObject(profileId);
      if (wait > 0) {
        progress.objectSlot = true;
        return wait + SLOT_MARGIN_MS;
      }
    }
    // the slot's job may run late and the one before it later still: the last actual write decides
    const still = await this.pacer.confirmProfileObject(profileId);
    if (still > 0) {
      progress.objectSlot = true;
      return still + SLOT_MARGIN_MS;
    }
    return 0;
  }

  /** An object write in the profile's slot: the profile's gap restarts when it comes back, written or not (Pacer.settleProfileObject). */
  private async objectWrite(profileId: string, progress: RecordProgress, write: () => Promise<void>): Promise<void> {
    try {
      await this.slotted(progress, 'objectSlot', write);
    } finally {
      await this.pacer.settleProfileObject(profileId);
    }
  }

  /** A write in its reserved slot; if it fails, the slot is spent and a retry reserves a new one. */
  private async slotted(progress: RecordProgress, slot: 'objectSlot' | 'stampSlot', write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (err) {
      progress[slot] = false;
      throw err;
    }
  }
}
