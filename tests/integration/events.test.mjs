// EVENT: OK replies, duplicates, invalid events, NIP-01 replaceable and
// addressable rules, NIP-09 deletion, NIP-40 expiration, ephemeral events.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, RelayProcess, T, keys, mkEvent, now, randHex } from './lib.mjs';

describe('EVENT', () => {
	let relay;
	const clients = [];
	const open = async (opts) => {
		const c = await Client.open(relay.url, opts);
		clients.push(c);
		return c;
	};

	before(async () => { relay = await RelayProcess.start(); });
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('a valid event is accepted with ["OK",id,true,""] and stored', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk);
		c.send(['EVENT', ev]);
		assert.deepEqual(await c.next(), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.req('s', { authors: [pk] }), [ev]);
	});

	test('a duplicate is OK true with a "duplicate:" reason', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ev = mkEvent(sk);
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		c.send(['EVENT', ev]);
		const m = await c.next();
		assert.equal(m[0], 'OK');
		assert.equal(m[1], ev.id);
		assert.equal(m[2], true);
		assert.match(m[3], /^duplicate: /);
		await c.roundTrip();
	});

	test('a bad signature is OK false "invalid: bad signature"', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk);
		const sig = ev.sig.slice(0, -1) + (ev.sig.endsWith('0') ? '1' : '0');
		const bad = { ...ev, sig };
		c.send(['EVENT', bad]);
		assert.deepEqual(await c.next(), ['OK', ev.id, false, 'invalid: bad signature']);
		await c.roundTrip();
		assert.deepEqual(await c.req('s', { authors: [pk] }), []);
	});

	test('a signature by another key is OK false "invalid: bad signature"', T, async () => {
		const c = await open();
		const a = keys();
		const b = keys();
		const ev = mkEvent(a.sk);
		const other = mkEvent(b.sk, { content: ev.content, created_at: ev.created_at });
		c.send(['EVENT', { ...ev, sig: other.sig }]);
		assert.deepEqual(await c.next(), ['OK', ev.id, false, 'invalid: bad signature']);
		await c.roundTrip();
	});

	test('a wrong id is OK false "invalid: event id does not match"', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk);
		const bad = { ...ev, content: ev.content + '!' };
		c.send(['EVENT', bad]);
		assert.deepEqual(await c.next(), ['OK', ev.id, false, 'invalid: event id does not match']);
		await c.roundTrip();
		assert.deepEqual(await c.req('s', { authors: [pk] }), []);
	});

	test('malformed event JSON with a readable id is OK false "invalid: ..."', T, async () => {
		const c = await open();
		const id = randHex(32);
		const cases = [
			`["EVENT",{"id":"${id}","pubkey":5}]`,
			`["EVENT",{"id":"${id}","pubkey":"${randHex(32)}","created_at":"yesterday","kind":1,"tags":[],"content":"","sig":"${randHex(64)}"}]`,
			`["EVENT",{"id":"${id}","kind":1,`,
			`["EVENT",{"id":"${id}","kind":1.5}]`,
			`["EVENT",{"id":"${id}"},"extra"]`,
		];
		for (const text of cases) {
			c.send(text);
			const m = await c.next();
			assert.equal(m.length, 4, `reply to ${text}: ${JSON.stringify(m)}`);
			assert.deepEqual(m.slice(0, 3), ['OK', id, false], `reply to ${text}`);
			assert.match(m[3], /^invalid: ./, `reply to ${text}`);
			await c.roundTrip();
		}
	});

	test('EVENT with an extra element is OK false "invalid: EVENT takes exactly one event"', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ev = mkEvent(sk);
		c.send(['EVENT', ev, 1]);
		assert.deepEqual(await c.next(), ['OK', ev.id, false, 'invalid: EVENT takes exactly one event']);
		await c.roundTrip();
	});

	test('an event with an uppercase-hex id is refused', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ev = mkEvent(sk);
		c.send(['EVENT', { ...ev, id: ev.id.toUpperCase() }]);
		const m = await c.next();
		// The id is not lowercase hex, so it cannot be echoed: NOTICE; or
		// OK false if the relay echoes it anyway.
		assert.ok(m[0] === 'NOTICE' || (m[0] === 'OK' && m[2] === false), JSON.stringify(m));
		assert.match(m[m.length - 1], /^invalid: /);
		await c.roundTrip();
	});

	test('a replaceable event (kind 0) replaces the older one', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now();
		const v1 = mkEvent(sk, { kind: 0, content: '{"name":"one"}', created_at: t - 20 });
		const v2 = mkEvent(sk, { kind: 0, content: '{"name":"two"}', created_at: t - 10 });
		const v0 = mkEvent(sk, { kind: 0, content: '{"name":"zero"}', created_at: t - 30 });
		assert.deepEqual(await c.publish(v1), ['OK', v1.id, true, '']);
		assert.deepEqual(await c.publish(v2), ['OK', v2.id, true, '']);
		assert.deepEqual(await c.req('a', { authors: [pk], kinds: [0] }), [v2]);
		// an older version arriving late must not come back
		const m = await c.publish(v0);
		assert.match(m[3], /^duplicate: /, JSON.stringify(m));
		assert.deepEqual(await c.req('b', { authors: [pk], kinds: [0] }), [v2]);
		assert.deepEqual(await c.req('c', { ids: [v1.id, v0.id] }), []);
	});

	test('a replaceable event in 10000-19999 replaces the older one', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now();
		const v1 = mkEvent(sk, { kind: 10002, tags: [['r', 'wss://a.example']], content: '', created_at: t - 5 });
		const v2 = mkEvent(sk, { kind: 10002, tags: [['r', 'wss://b.example']], content: '', created_at: t - 1 });
		assert.deepEqual(await c.publish(v1), ['OK', v1.id, true, '']);
		assert.deepEqual(await c.publish(v2), ['OK', v2.id, true, '']);
		assert.deepEqual(await c.req('a', { authors: [pk] }), [v2]);
	});

	test('addressable events (30000-39999) are replaced per d tag', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now();
		const x1 = mkEvent(sk, { kind: 30023, tags: [['d', 'x']], content: 'x1', created_at: t - 30 });
		const y1 = mkEvent(sk, { kind: 30023, tags: [['d', 'y']], content: 'y1', created_at: t - 25 });
		const x2 = mkEvent(sk, { kind: 30023, tags: [['d', 'x']], content: 'x2', created_at: t - 20 });
		for (const ev of [x1, y1, x2])
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.req('a', { authors: [pk], kinds: [30023] }), [x2, y1]);
		assert.deepEqual(await c.req('b', { kinds: [30023], '#d': ['x'], authors: [pk] }), [x2]);
		// another author's event with the same d tag is independent
		const o = keys();
		const ox = mkEvent(o.sk, { kind: 30023, tags: [['d', 'x']], content: 'other', created_at: t - 40 });
		assert.deepEqual(await c.publish(ox), ['OK', ox.id, true, '']);
		assert.deepEqual(await c.req('c', { kinds: [30023], '#d': ['x'], authors: [pk, o.pk] }), [x2, ox]);
	});

	test('kind 5 deletion removes the event, and re-publishing it is refused', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk, { created_at: now() - 10 });
		const keep = mkEvent(sk, { created_at: now() - 9 });
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.publish(keep), ['OK', keep.id, true, '']);
		const del = mkEvent(sk, { kind: 5, tags: [['e', ev.id]], content: 'oops' });
		assert.deepEqual(await c.publish(del), ['OK', del.id, true, '']);
		assert.deepEqual(await c.req('a', { ids: [ev.id] }), []);
		assert.deepEqual(await c.req('b', { authors: [pk] }), [del, keep]);
		const m = await c.publish(ev);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^[a-z-]+: ./);
		assert.deepEqual(await c.req('c', { ids: [ev.id] }), []);
	});

	test('kind 5 by another author does not delete', T, async () => {
		const c = await open();
		const a = keys();
		const b = keys();
		const ev = mkEvent(a.sk);
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		const del = mkEvent(b.sk, { kind: 5, tags: [['e', ev.id]] });
		await c.publish(del);
		assert.deepEqual(await c.req('a', { ids: [ev.id] }), [ev]);
	});

	test('kind 5 with an a tag deletes addressable versions up to its created_at', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now();
		const v = mkEvent(sk, { kind: 30000, tags: [['d', 'list']], created_at: t - 10 });
		assert.deepEqual(await c.publish(v), ['OK', v.id, true, '']);
		const del = mkEvent(sk, { kind: 5, tags: [['a', `30000:${pk}:list`]], created_at: t - 5 });
		assert.deepEqual(await c.publish(del), ['OK', del.id, true, '']);
		assert.deepEqual(await c.req('a', { kinds: [30000], authors: [pk] }), []);
		const newer = mkEvent(sk, { kind: 30000, tags: [['d', 'list']], created_at: t });
		assert.deepEqual(await c.publish(newer), ['OK', newer.id, true, '']);
		assert.deepEqual(await c.req('b', { kinds: [30000], authors: [pk] }), [newer]);
	});

	test('NIP-40: an expired event is refused with OK false', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk, { tags: [['expiration', String(now() - 60)]] });
		const m = await c.publish(ev);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^invalid: /);
		assert.deepEqual(await c.req('a', { authors: [pk] }), []);
	});

	test('NIP-40: an event expiring later is stored and served', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk, { tags: [['expiration', String(now() + 3600)]] });
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.req('a', { authors: [pk] }), [ev]);
	});

	test('NIP-40: an event is not served once it has expired', { timeout: 30000 }, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk, { tags: [['expiration', String(now() + 2)]] });
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.req('a', { authors: [pk] }), [ev]);
		await new Promise((r) => setTimeout(r, 3500));
		assert.deepEqual(await c.req('b', { authors: [pk] }), []);
	});

	test('ephemeral events are delivered live and never stored', T, async () => {
		const sub = await open();
		const pub = await open();
		const { sk, pk } = keys();
		sub.send(['REQ', 'live', { authors: [pk] }]);
		assert.deepEqual(await sub.next(), ['EOSE', 'live']);
		const ev = mkEvent(sk, { kind: 20001, content: 'ephemeral' });
		const ok = await pub.publish(ev);
		assert.equal(ok[2], true, JSON.stringify(ok));
		assert.deepEqual(await sub.next(), ['EVENT', 'live', ev]);
		assert.deepEqual(await pub.req('again', { authors: [pk] }), []);
		assert.deepEqual(await sub.req('again', { ids: [ev.id] }), []);
	});

	test('events with created_at too far in the future are refused', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ev = mkEvent(sk, { created_at: now() + 3600 });
		const m = await c.publish(ev);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^invalid: /);
		await c.roundTrip();
	});
});
