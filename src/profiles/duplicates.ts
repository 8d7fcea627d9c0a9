// What `npm run duplicates` asks Customer Profiles: the profiles of a set as they are now, their merge, and what
// the domain's own identity resolution says of them. Operator calls, on the admin client (its own timeout and
// retries), never on the resolve path.
import {
  type CustomerProfilesClient,
  GetMatchesCommand,
  GetSimilarProfilesCommand,
  MergeProfilesCommand,
  SearchProfilesCommand,
  type FieldSourceProfileIds,
  type MatchType,
  type Profile as SdkProfile,
} from '@aws-sdk/client-customer-profiles';
import { classifyAwsError } from '../aws/errors.js';
import { fieldSourceProfileIds, MAX_SET_PROFILES, type FieldSources } from '../domain/duplicates.js';

/** The profiles of these ids that exist now, in the order asked: one SearchProfiles by `_profileId` (its Values take them all). */
export async function profilesById(client: CustomerProfilesClient, domain: string, ids: readonly string[]): Promise<SdkProfile[]> {
  // MaxResults: the model's maxSize100, more than a set holds (MAX_SET_PROFILES)
  const out = await client.send(new SearchProfilesCommand({ DomainName: domain, KeyName: '_profileId', Values: [...ids], MaxResults: Math.max(MAX_SET_PROFILES, ids.length) }));
  const found = new Map((out.Items ?? []).map((p) => [p.ProfileId, p]));
  return ids.flatMap((id) => {
    const p = found.get(id);
    if (!p) return [];
    const { FoundByItems: _found, ...profile } = p;
    return [profile];
  });
}

/**
 * MergeProfiles (POST /domains/{DomainName}/profiles/objects/merge): `keep` is MainProfileId, the rest
 * ProfileIdsToBeMerged (1-20), `sources` FieldSourceProfileIds (`Attributes.<name>` into its Attributes map).
 * Returns the service's Message. Merged profiles cannot be separated again (API reference).
 */
export async function mergeProfiles(client: CustomerProfilesClient, domain: string, keep: string, merged: readonly string[], sources: FieldSources): Promise<string> {
  const fields = fieldSourceProfileIds(sources) as FieldSourceProfileIds;
  const out = await client.send(
    new MergeProfilesCommand({ DomainName: domain, MainProfileId: keep, ProfileIdsToBeMerged: [...merged], ...(Object.keys(fields).length > 0 && { FieldSourceProfileIds: fields }) }),
  );
  return out.Message ?? '';
}

/** One of the domain's match groups that holds profiles of a set. */
export interface MatchFound {
  source: 'GetMatches' | `GetSimilarProfiles ${MatchType}`;
  matchId: string;
  profileIds: string[];
  /** ML: ConfidenceScore; rule-based: RuleLevel */
  score?: string | undefined;
}

/** What one source answered: its groups, or why it has none (identity resolution not enabled: BadRequestException). */
export interface MatchReading {
  source: MatchFound['source'];
  found: MatchFound[];
  /** the error in a few words; undefined when the source answered */
  unavailable?: string | undefined;
  /** GetMatches: when the job that made them ran */
  generatedAt?: Date | undefined;
}

// GetMatches lists every group of the domain; a set's are looked for in this many pages (100 groups each) at most
const MAX_MATCH_PAGES = 10;

const why = (err: unknown): string => {
  const { name } = classifyAwsError(err);
  const message = String((err as Error | undefined)?.message ?? err).split('\n')[0];
  return name === 'BadRequestException' ? `not available in this domain (${name}: ${message})` : `${name}: ${message}`;
};

/**
 * What the domain's identity resolution says of a set's profiles: the ML job's groups that hold one of them
 * (GetMatches, at most MAX_MATCH_PAGES pages), and, for each profile, its group of each match type
 * (GetSimilarProfiles by `_profileId`). A source the domain does not have enabled says so; nothing fails the rest.
 */
export async function matchesOf(client: CustomerProfilesClient, domain: string, ids: readonly string[]): Promise<MatchReading[]> {
  const ours = (list: readonly string[] | undefined) => (list ?? []).some((id) => ids.includes(id));
  const fromGetMatches = async (): Promise<MatchReading> => {
    const reading: MatchReading = { source: 'GetMatches', found: [] };
    try {
      let token: string | undefined;
      for (let page = 0; page < MAX_MATCH_PAGES; page++) {
        const out = await client.send(new GetMatchesCommand({ DomainName: domain, MaxResults: 100, NextToken: token }));
        reading.generatedAt = out.MatchGenerationDate;
        for (const m of out.Matches ?? []) {
          if (ours(m.ProfileIds)) reading.found.push({ source: 'GetMatches', matchId: m.MatchId ?? '', profileIds: m.ProfileIds ?? [], score: m.ConfidenceScore?.toString() });
        }
        token = out.NextToken;
        if (!token) break;
      }
    } catch (err) {
      reading.unavailable = why(err);
    }
    return reading;
  };
  const similar = async (type: MatchType): Promise<MatchReading> => {
    const source = `GetSimilarProfiles ${type}` as const;
    const reading: MatchReading = { source, found: [] };
    try {
      for (const id of ids) {
        if (reading.found.some((f) => f.profileIds.includes(id))) continue;
        const out = await client.send(new GetSimilarProfilesCommand({ DomainName: domain, MatchType: type, SearchKey: '_profileId', SearchValue: id, MaxResults: 100 }));
        if ((out.ProfileIds ?? []).length === 0) continue;
        const score = type === 'ML_BASED_MATCHING' ? out.ConfidenceScore?.toString() : out.RuleLevel === undefined ? undefined : `rule level ${out.RuleLevel}`;
        reading.found.push({ source, matchId: out.MatchId ?? '', profileIds: out.ProfileIds ?? [], score });
      }
    } catch (err) {
      reading.unavailable = why(err);
    }
    return reading;
  };
  return Promise.all([fromGetMatches(), similar('RULE_BASED_MATCHING'), similar('ML_BASED_MATCHING')]);
}
