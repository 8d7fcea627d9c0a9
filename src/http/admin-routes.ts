import type { Express, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Eraser } from '../contact/erase.js';
import type { ProfileUpdater } from '../contact/update.js';
import { isCountryCode, normaliseEmail, normalisePhone } from '../domain/identity.js';
import { STANDARD_KEYS, type CallerKeys } from '../domain/keys.js';
import { UPDATE_PREFIX } from '../domain/profile-update.js';
import { AppError } from '../errors.js';
import { maskEmail, maskPhone } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { bearerAuth } from './auth.js';
import { readJson, requireJson } from './json.js';
import { requestLog } from './request-log.js';

/** The admin endpoints, behind ADMIN_TOKENS (never a resolve token): erasure of a caller, an update of any profile. */
export function adminRoutes(
  app: Express,
  admin: { tokens: readonly string[]; eraser: Eraser; updater: ProfileUpdater; defaultCountry: CountryCode; resolveDeadlineMs: number; metrics: Metrics },
): void {
  // Erasure of one caller (GDPR): phoneNumber or emailAddress, as the flow would send it; or the
  // accountNumber of a caller who was looked up by it alone (caller ID withheld).
  app.post('/v1/admin/erase', bearerAuth(admin.tokens), requireJson, readJson, async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const identity = normalisePhone(body.phoneNumber, adminCountry(body, admin.defaultCountry)) ?? normaliseEmail(body.emailAddress);
    const account = typeof body.accountNumber === 'string' ? body.accountNumber.trim() : '';
    if (!identity && (account.length < 1 || account.length > 255)) {
      throw new AppError('INVALID_REQUEST', 400, 'give a valid phoneNumber or emailAddress, or an accountNumber of 1 to 255 characters');
    }
    const keys: CallerKeys = identity
      ? { identity, extra: [], mode: 'any' }
      : { identity: undefined, extra: [{ name: STANDARD_KEYS.account, values: [account] }], mode: 'any' };
    const report = await admin.eraser.erase(keys);
    requestLog(res).identity = !identity ? 'account' : identity.type === 'PHONE' ? maskPhone(identity.e164) : maskEmail(identity.address);
    res.json({ erased: report, identityType: identity?.type ?? 'ACCOUNT' });
  });

  // An update of any profile, by its id: an operator's correction, never a flow's (a flow writes only
  // to the profile its contact resolved to: see ProfileUpdater). The same `profile.*` fields, checks
  // and durable queue as a flow's update.
  app.post('/v1/admin/update', bearerAuth(admin.tokens), requireJson, readJson, async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const profileId = typeof body.profileId === 'string' ? body.profileId.trim().toLowerCase() : '';
    if (!/^[0-9a-f]{32}$/.test(profileId)) throw new AppError('INVALID_REQUEST', 400, 'profileId: must be a profile id: 32 hex characters');
    const country = adminCountry(body, admin.defaultCountry);
    for (const name of Object.keys(body)) {
      if (name !== 'profileId' && name !== 'countryCode' && !name.startsWith(UPDATE_PREFIX)) {
        throw new AppError('INVALID_REQUEST', 400, `${JSON.stringify(name.slice(0, 64))}: give profileId, countryCode and profile.<Field> fields only`);
      }
    }
    const updated = await admin.updater.adminUpdate(profileId, body, country, `admin-${randomUUID()}`, AbortSignal.timeout(admin.resolveDeadlineMs));
    admin.metrics.profileUpdates.inc({ status: updated.status });
    Object.assign(requestLog(res), { operation: 'admin-update', updateStatus: updated.status, updatedFields: updated.fields });
    res.status(updated.status === 'QUEUED' ? 202 : 503).json(updated.answer);
  });
}

/** An admin body's `countryCode`, as a flow's: blank is not given (the default), any letter case; an unknown region is a 400 naming it. */
function adminCountry(body: Record<string, unknown>, fallback: CountryCode): CountryCode {
  const given = typeof body.countryCode === 'string' ? body.countryCode.trim().toUpperCase() : '';
  if (given === '') return fallback;
  if (!isCountryCode(given)) throw new AppError('INVALID_REQUEST', 400, 'countryCode: must be a region code libphonenumber-js supports (ISO 3166-1 alpha-2 such as US or DE; the United Kingdom is GB)');
  return given;
}
