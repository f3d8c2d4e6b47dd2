// examples/community.c: the policies library at work - kinds allowlist,
// NIP-13 proof of work (with the committed target), maximum content
// length, and the per-author event rate limit.
//
//     node tests/examples/community.mjs URL POW_BITS

import { assert, Client, assertOk, assertRefused, keys, mined, reqEnd, run, unmined } from './common.mjs';

const url = process.argv[2];
const bits = Number(process.argv[3]);
const k = keys();
let c, good;

await run('community', [
	['connects', async () => {
		c = await Client.open(url);
	}],
	['a kind outside the allowlist is refused (blocked), even with enough work', async () => {
		assertRefused(await c.publish(mined(k, { kind: 30023, bits, tags: [['d', 'x']] })), 'blocked:', 'kind 30023');
	}],
	['a note without enough work is refused (pow)', async () => {
		const ok = await c.publish(unmined(k, bits));
		assertRefused(ok, 'pow:');
		assert.match(ok[3], new RegExp(`less than ${bits}\\b`));
	}],
	['a note with enough work is accepted and stored', async () => {
		good = mined(k, { bits });
		assertOk(await c.publish(good));
		assert.deepEqual(await c.req('g', { ids: [good.id] }), [good]);
	}],
	['a lucky id does not pass when its nonce commits to a lower target (pow)', async () => {
		// Enough leading zeros, but the nonce tag says it aimed lower.
		assertRefused(await c.publish(mined(k, { bits, target: 1 })), 'pow:');
	}],
	['content over 2000 bytes is refused (invalid)', async () => {
		assertRefused(await c.publish(mined(k, { bits, content: 'x'.repeat(2001) })), 'invalid:');
	}],
	['content of 2000 bytes passes', async () => {
		assertOk(await c.publish(mined(k, { bits, content: 'y'.repeat(2000) })));
	}],
	['per-author rate limit: a burst of 5, then rate-limited', async () => {
		const fresh = keys();
		for (let i = 0; i < 5; i++)
			assertOk(await c.publish(mined(fresh, { bits })), `event ${i + 1} of the burst`);
		assertRefused(await c.publish(mined(fresh, { bits })), 'rate-limited:', 'event 6');
	}],
	['search filters are refused (blocked)', async () => {
		const r = await reqEnd(c, 's', { kinds: [1], search: 'x' });
		assert.equal(r.end[0], 'CLOSED');
		assert.ok(r.end[2].startsWith('blocked:'), JSON.stringify(r.end));
	}],
	['disconnects', async () => {
		c.close();
	}],
]);
