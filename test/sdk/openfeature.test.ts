import { ErrorCode, OpenFeature, ProviderEvents, StandardResolutionReasons } from '@openfeature/server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import { createFlags } from '../../src/sdk/index.js';
import { FerryProvider } from '../../src/sdk/openfeature.js';
import { ensureState } from '../../src/state/store.js';
import { setFlag } from '../helpers/flags.js';
import { until } from '../helpers/process.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  await OpenFeature.close();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('FerryProvider', () => {
  it('answers through the SDK: same values as isEnabled, variants new/old, bucket in metadata, and announces changes', async () => {
    const db = await openPglite();
    cleanups.push(() => db.close());
    await ensureState(db);
    await setFlag(db, 'search-v2', true, 30);
    await setFlag(db, 'off-flag', false, 100);
    const flags = createFlags({ db }, { pollIntervalMs: 50 });
    cleanups.push(() => flags.close());
    await OpenFeature.setProviderAndWait(new FerryProvider(flags));
    const client = OpenFeature.getClient();

    const variants = new Set<string | undefined>();
    for (let i = 0; i < 2000; i++) {
      const unit = `user-${i}`;
      const d = await client.getBooleanDetails('search-v2', false, { targetingKey: unit });
      expect(d.value).toBe(flags.isEnabled('search-v2', unit));
      expect(d.variant).toBe(d.value ? 'new' : 'old');
      expect(d.reason).toBe(StandardResolutionReasons.TARGETING_MATCH);
      expect(d.flagMetadata).toMatchObject({ bucket: flags.bucket('search-v2', unit), percentage: 30, enabled: true });
      variants.add(d.variant);
    }
    expect([...variants].sort()).toEqual(['new', 'old']);

    const off = await client.getBooleanDetails('off-flag', true, { targetingKey: 'user-1' });
    expect(off).toMatchObject({ value: false, variant: 'old', reason: StandardResolutionReasons.DISABLED });

    const missingUnit = await client.getBooleanDetails('search-v2', true, {});
    expect(missingUnit).toMatchObject({ value: true, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.TARGETING_KEY_MISSING });
    const unknown = await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'user-1' });
    expect(unknown).toMatchObject({ value: true, reason: StandardResolutionReasons.ERROR, errorCode: ErrorCode.FLAG_NOT_FOUND });
    const wrongType = await client.getStringDetails('search-v2', 'x', { targetingKey: 'user-1' });
    expect(wrongType).toMatchObject({ value: 'x', errorCode: ErrorCode.TYPE_MISMATCH });

    const changes: (string[] | undefined)[] = [];
    client.addHandler(ProviderEvents.ConfigurationChanged, (e) => changes.push(e?.flagsChanged));
    await setFlag(db, 'search-v2', true, 80);
    await until('the provider to announce the change', () => changes.length > 0);
    expect(changes[0]).toEqual(['search-v2']);
    for (let i = 0; i < 500; i++) {
      const unit = `user-${i}`;
      const d = await client.getBooleanDetails('search-v2', false, { targetingKey: unit });
      expect(d.value).toBe(flags.isEnabled('search-v2', unit));
      expect(d.flagMetadata.percentage).toBe(80);
    }
  });
});
