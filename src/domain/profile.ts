// The profile as Customer Profiles holds it: the fields this service reads, maps and writes.

/** Written into `Attributes.createdBy` of every profile this service creates. */
export const PROFILE_SOURCE = 'connect-profile-resolver';

/** A postal address as Customer Profiles holds it. */
export interface ProfileAddress {
  Address1?: string;
  Address2?: string;
  Address3?: string;
  Address4?: string;
  City?: string;
  County?: string;
  State?: string;
  Province?: string;
  Country?: string;
  PostalCode?: string;
}

export const SCALAR_PROFILE_FIELDS = [
  'AccountNumber',
  'AdditionalInformation',
  'PartyType',
  'PartyTypeString',
  'BusinessName',
  'FirstName',
  'MiddleName',
  'LastName',
  'BirthDate',
  'Gender',
  'GenderString',
  'PhoneNumber',
  'MobilePhoneNumber',
  'HomePhoneNumber',
  'BusinessPhoneNumber',
  'EmailAddress',
  'PersonalEmailAddress',
  'BusinessEmailAddress',
  'ProfileType',
] as const;
/** The profile fields Customer Profiles' `_phone` and `_email` search keys read. */
export const PHONE_FIELDS = ['PhoneNumber', 'MobilePhoneNumber', 'HomePhoneNumber', 'BusinessPhoneNumber'] as const;
export const EMAIL_FIELDS = ['EmailAddress', 'PersonalEmailAddress', 'BusinessEmailAddress'] as const;
export const ADDRESS_FIELDS = ['Address', 'ShippingAddress', 'MailingAddress', 'BillingAddress'] as const;
export const ADDRESS_PARTS = [
  'Address1',
  'Address2',
  'Address3',
  'Address4',
  'City',
  'County',
  'State',
  'Province',
  'Country',
  'PostalCode',
] as const;

export type ScalarProfileField = (typeof SCALAR_PROFILE_FIELDS)[number];
export type AddressField = (typeof ADDRESS_FIELDS)[number];

/** The part of a Customer Profiles `Profile` this service reads (same names as the API). */
export type Profile = { ProfileId: string; Attributes?: Record<string, string> } & Partial<
  Record<ScalarProfileField, string>
> &
  Partial<Record<AddressField, ProfileAddress>>;

/**
 * A profile with what a domain holds beside it: its custom search keys, calculated attributes,
 * objects by type and the segments it is in. The embedded store starts from these (local runs).
 */
export type ProfileSeed = Profile & {
  searchKeys?: Record<string, string[]>;
  calculatedAttributes?: Record<string, string>;
  objects?: Record<string, Array<Record<string, unknown>>>;
  segments?: string[];
};
