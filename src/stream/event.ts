// One record of a Customer Profiles event stream (the domain's real-time export to Kinesis), read for what the
// cache needs: which profile changed, how, and which profiles a merge took away.
//
// The format: the Amazon Connect Administrator Guide, "Export your unified customer profile data"
// (adminguide/set-up-real-time-export.html), "Real-time export Kinesis payload", whose sample output is
//   { "SchemaVersion": 0, "EventId": "eventId", "EventTimestamp": "2020-01-01T00:00:00Z", "EventType": "CREATED",
//     "DomainName": "domainName", "ObjectTypeName": "objectTypeName", "AssociatedProfileId": "associatedProfileId",
//     "ProfileObjectUniqueKey": "profileObjectUniqueKey", "Object": { ... }, "IsMessageRealTime": true }
// What the guide's sample leaves open, from an AWS consumer of such a stream, AWS Solutions' Unified Profiles for
// Travelers and Hospitality (aws-solutions/unified-profile-for-travellers-and-guests-on-aws,
// source/ucp-change-processor/src/main/main.go and source/ucp-common/src/model/change-event/model.go):
// - EventType: CREATED, UPDATED, MERGED; it also handles DELETED (which the guide does not document: read as a
//   profile gone, should it come);
// - a record about the profile itself has ObjectTypeName `_profile` and the profile as Object, with its ProfileId
//   and the API's field names (FirstName, PhoneNumber, Attributes...); any other ObjectTypeName is an object of
//   that type, whose profile is AssociatedProfileId;
// - a MERGED record's Object is the profile kept; DuplicateProfiles lists the profiles merged into it (each with its
//   ProfileId), MergeId names the merge; its AssociatedProfileId is null.
// EventTimestamp is ISO 8601 in the guide ("2020-01-01T00:00:00Z"), Go's time format in that solution's samples
// ("2023-04-28 14:42:18.761 +0000 UTC"); both parse. Anything else in a record is ignored: the export may grow.
import type { Profile } from '../domain/profile.js';

/** The object type name of the records about the profile itself. */
export const PROFILE_OBJECT_TYPE = '_profile';

export interface ProfileEvent {
  eventId: string;
  /** EventType as written (CREATED, UPDATED, MERGED, DELETED, or one this service does not know) */
  type: string;
  domain: string;
  /** ObjectTypeName is `_profile`: the record is about the profile itself, not one of its objects */
  aboutProfile: boolean;
  /** the profile the record is about (Object.ProfileId, else AssociatedProfileId); absent when neither is an id */
  profileId: string | undefined;
  /** the profile as the record shows it (`_profile` records) */
  profile: Profile | undefined;
  /** a MERGED record's profiles merged away (DuplicateProfiles' ids) */
  mergedAway: string[];
  /** EventTimestamp, epoch ms; absent when missing or unreadable */
  at: number | undefined;
}

// Customer Profiles' profile ids (the model's `uuid`: [a-f0-9]{32}); they become part of Redis key names.
const PROFILE_ID = /^[a-f0-9]{32}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const idOf = (v: unknown): string | undefined => (typeof v === 'string' && PROFILE_ID.test(v) ? v : undefined);

/** The record's data read as an event; undefined when it is not one (not JSON, no EventType or DomainName). */
export function parseProfileEvent(data: Uint8Array): ProfileEvent | undefined {
  let record: unknown;
  try {
    record = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(record) || typeof record.EventType !== 'string' || typeof record.DomainName !== 'string') return undefined;
  const object = isObject(record.Object) ? record.Object : undefined;
  const aboutProfile = record.ObjectTypeName === PROFILE_OBJECT_TYPE;
  const profileId = (aboutProfile ? idOf(object?.ProfileId) : undefined) ?? idOf(record.AssociatedProfileId);
  const at = typeof record.EventTimestamp === 'string' ? Date.parse(record.EventTimestamp) : NaN;
  const duplicates = Array.isArray(record.DuplicateProfiles) ? record.DuplicateProfiles : [];
  return {
    eventId: typeof record.EventId === 'string' ? record.EventId : '',
    type: record.EventType,
    domain: record.DomainName,
    aboutProfile,
    profileId,
    profile: aboutProfile && object && profileId ? { ...object, ProfileId: profileId } : undefined,
    mergedAway: duplicates.map((d) => (isObject(d) ? idOf(d.ProfileId) : undefined)).filter((id): id is string => id !== undefined && id !== profileId),
    at: Number.isFinite(at) ? at : undefined,
  };
}
