// NIP-45 COUNT with HyperLogLog over the wire, on the default LMDB store:
// qualifying filters get an "hll" field whose registers follow the NIP's
// rules (recomputed here from the events' pubkeys), others get none.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, RelayProcess, T, keys, mkEvent, now, randHex } from './lib.mjs';

// NIP-45: offset = hex digit 32 of the filter's tag value + 8; for each
// counted event, register pubkey[offset] keeps the largest 1 + leading
// zero bits of pubkey[offset+1 .. offset+7].
function offsetOf(hex) {
	return parseInt(hex[32], 16) + 8;
}

function expectedHll(pubkeys, offset) {
	const regs = new Uint8Array(256);
	for (const pkHex of pubkeys) {
		const pk = Buffer.from(pkHex, 'hex');
		let zeros = 0;
		for (let i = offset + 1; i < offset + 8; i++) {
			const b = pk[i];
			if (b === 0) {
				zeros += 8;
				continue;
			}
			zeros += Math.clz32(b) - 24;
			break;
		}
		const v = zeros + 1;
		if (v > regs[pk[offset]])
			regs[pk[offset]] = v;
	}
	return Buffer.from(regs).toString('hex');
}

describe('COUNT with hll (NIP-45)', () => {
	let relay;
	const clients = [];
	const open = async () => {
		const c = await Client.open(relay.url);
		clients.push(c);
		return c;
	};

	before(async () => { relay = await RelayProcess.start(); });
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('followers: kind 3 with one #p gets the registers of its authors', T, async () => {
		const c = await open();
		const target = randHex(32);
		const authors = [];
		for (let i = 0; i < 12; i++) {
			const { sk, pk } = keys();
			authors.push(pk);
			const ev = mkEvent(sk, { kind: 3, tags: [['p', target]], content: '' });
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		}
		// noise: other kinds and other targets are not counted
		const { sk } = keys();
		await c.publish(mkEvent(sk, { kind: 1, tags: [['p', target]] }));
		await c.publish(mkEvent(sk, { kind: 3, tags: [['p', randHex(32)]] }));

		const reply = await c.count('f', { kinds: [3], '#p': [target] });
		assert.equal(reply[0], 'COUNT');
		assert.equal(reply[2].count, 12);
		assert.match(reply[2].hll, /^[0-9a-f]{512}$/);
		assert.equal(reply[2].hll, expectedHll(authors, offsetOf(target)));
	});

	test('reactions: kind 7 with one #e, and no hll for other filters', T, async () => {
		const c = await open();
		const note = randHex(32);
		const authors = [];
		for (let i = 0; i < 5; i++) {
			const { sk, pk } = keys();
			authors.push(pk);
			await c.publish(mkEvent(sk, { kind: 7, tags: [['e', note]], content: '+', created_at: now() - i }));
		}
		const reply = await c.count('r', { kinds: [7], '#e': [note] });
		assert.equal(reply[2].count, 5);
		assert.equal(reply[2].hll, expectedHll(authors, offsetOf(note)));

		for (const f of [
			{ kinds: [7] },
			{ kinds: [1, 7], '#e': [note] },
			{ kinds: [7], '#e': [note], since: 1 },
			{ kinds: [3], '#e': [note] },
		]) {
			const r = await c.count('n', f);
			assert.equal(r[0], 'COUNT');
			assert.equal(r[2].hll, undefined, JSON.stringify(f));
		}
		// two filters: a plain count
		const two = await c.count('two', { kinds: [7], '#e': [note] }, { kinds: [7], '#e': [note] });
		assert.deepEqual(two[2], { count: 5 });
	});
});
