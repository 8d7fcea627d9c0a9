// The baseline: Customer Profiles work done the way the published contact-flow Lambda samples do it, behind a
// small Express server so it is measured like the service. Per contact, in sequence and with no cache:
// SearchProfiles on the caller's number, CreateProfile when nothing matched, then PutProfileObject of the
// contact record; then the answer. The SDK client is the default one (created once), pointed at the fake.
//   AWS_ENDPOINT_URL_CUSTOMER_PROFILES=... CUSTOMER_PROFILES_DOMAIN=... AWS_REGION=... PORT=0 \
//     node --import tsx bench/naive-peer.ts   -> prints NAIVE_URL=http://127.0.0.1:N
import {
  CreateProfileCommand,
  CustomerProfilesClient,
  PutProfileObjectCommand,
  SearchProfilesCommand,
} from '@aws-sdk/client-customer-profiles';
import express from 'express';
import type { AddressInfo } from 'node:net';

const domain = process.env.CUSTOMER_PROFILES_DOMAIN ?? 'bench-domain';
const objectType = process.env.RECORD_OBJECT_TYPE ?? 'ResolvedContact';
const endpoint = process.env.AWS_ENDPOINT_URL_CUSTOMER_PROFILES;
const client = new CustomerProfilesClient({ region: process.env.AWS_REGION ?? 'us-east-1', ...(endpoint ? { endpoint } : {}) });

interface ContactData {
  ContactId?: string;
  InitialContactId?: string;
  PreviousContactId?: string;
  Channel?: string;
  InitiationMethod?: string;
  InstanceARN?: string;
  Queue?: { Name?: string } | null;
  CustomerEndpoint?: { Address?: string } | null;
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/v1/resolve', express.json({ limit: '64kb', type: 'application/json' }), async (req, res) => {
  const contact = ((req.body as { Details?: { ContactData?: ContactData } }).Details?.ContactData ?? {});
  const phone = contact.CustomerEndpoint?.Address ?? '';
  try {
    const found = await client.send(new SearchProfilesCommand({ DomainName: domain, KeyName: '_phone', Values: [phone] }));
    let profile = found.Items?.[0];
    let status = 'KNOWN';
    if (!profile) {
      const created = await client.send(new CreateProfileCommand({ DomainName: domain, PhoneNumber: phone, PartyTypeString: 'INDIVIDUAL' }));
      profile = { ProfileId: created.ProfileId, PhoneNumber: phone };
      status = 'NEW';
    }
    await client.send(
      new PutProfileObjectCommand({
        DomainName: domain,
        ObjectTypeName: objectType,
        Object: JSON.stringify({
          ContactId: contact.ContactId,
          InitialContactId: contact.InitialContactId,
          PreviousContactId: contact.PreviousContactId,
          Channel: contact.Channel,
          InitiationMethod: contact.InitiationMethod,
          InstanceARN: contact.InstanceARN,
          QueueName: contact.Queue?.Name ?? '',
          CustomerIdentity: phone,
          ProfileId: profile.ProfileId,
          ReceivedAt: new Date().toISOString(),
        }),
      }),
    );
    res.json({
      customerStatus: status,
      profileId: profile.ProfileId ?? '',
      firstName: profile.FirstName ?? '',
      lastName: profile.LastName ?? '',
      accountNumber: profile.AccountNumber ?? '',
    });
  } catch (err) {
    res.status(500).json({ error: { code: 'UPSTREAM', message: (err as Error).name } });
  }
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`NAIVE_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  client.destroy();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
