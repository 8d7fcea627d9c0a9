// createRedisClient for a Redis Cluster: the options the ioredis Cluster is built with. Each client
// is disconnected as soon as it is built, before it resolves a seed or opens a socket.
import { lookup } from 'node:dns';
import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { createRedisClient } from '../../src/redis/client.js';
import { loadConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../support/service.js';

// the configuration endpoint of an ElastiCache cluster with cluster mode and in-transit encryption
const ELASTICACHE = 'clustercfg.acme-resolver.abc123.use1.cache.amazonaws.com';

/** The Cluster createRedisClient builds for env, disconnected before it connects. */
function clusterFor(env: Record<string, string>, purpose: 'state' | 'worker' = 'state'): Cluster {
  const client = createRedisClient(loadConfig(env, REPO_ROOT), purpose);
  expect(client).to.be.instanceOf(Cluster);
  (client as Cluster).disconnect();
  return client as Cluster;
}

/** What a dnsLookup option answers for a hostname. */
function lookedUp(dnsLookup: NonNullable<Cluster['options']['dnsLookup']>, hostname: string): Promise<{ err: unknown; address: string }> {
  return new Promise((resolve) => dnsLookup(hostname, (err, address) => resolve({ err, address })));
}

describe('createRedisClient: Redis Cluster', () => {
  for (const purpose of ['state', 'worker'] as const) {
    it(`when REDIS_CLUSTER_TLS=true (ElastiCache in-transit encryption), the ${purpose} client connects with TLS to the seeds' hostnames, not to the IP addresses they resolve to`, async () => {
      // Arrange
      const env = { REDIS_CLUSTER_NODES: `${ELASTICACHE}:6379`, REDIS_CLUSTER_TLS: 'true', REDIS_CLUSTER_PASSWORD: 'auth-token-of-the-cluster' };

      // Act
      const cluster = clusterFor(env, purpose);

      // Assert
      expect(cluster.options.redisOptions?.tls).to.deep.equal({});
      const dnsLookup = cluster.options.dnsLookup!;
      // ioredis' default is dns.lookup (hostname -> IP address; the certificate names the hostname)
      expect(dnsLookup).to.be.a('function').and.not.equal(lookup);
      expect(await lookedUp(dnsLookup, ELASTICACHE)).to.deep.equal({ err: null, address: ELASTICACHE });
    });
  }

  it('when REDIS_CLUSTER_TLS is off, keeps the default lookup (dns.lookup) and no TLS', () => {
    // Arrange: IP seeds, so that even the default lookup is never called
    const env = { REDIS_CLUSTER_NODES: '10.0.1.10:6379,10.0.2.10:6379' };

    // Act
    const cluster = clusterFor(env);

    // Assert
    expect(cluster.options.dnsLookup).to.equal(lookup);
    expect(cluster.options.redisOptions?.tls).to.equal(undefined);
  });
});
