// REQ / CLOSE / COUNT: ordering, limits, EOSE, live delivery, subscription
// replacement, OR-ed filters, and every CLOSED refusal.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, RelayProcess, T, keys, mkEvent, nip01Order, now, randHex } from './lib.mjs';

const LIMITS = { max_subscriptions: 4, max_filters: 3, max_limit: 50, default_limit: 20 };

describe('REQ, CLOSE and COUNT', () => {
	let relay;
	const clients = [];
	const open = async (opts) => {
		const c = await Client.open(relay.url, opts);
		clients.push(c);
		return c;
	};

	before(async () => { relay = await RelayProcess.start({ relay: { limits: LIMITS } }); });
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('stored events come newest first, ties lowest id first, then EOSE', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now() - 100;
		const evs = [
			mkEvent(sk, { created_at: t }),
			mkEvent(sk, { created_at: t + 50 }),
			mkEvent(sk, { created_at: t + 50 }),
			mkEvent(sk, { created_at: t + 50 }),
			mkEvent(sk, { created_at: t + 10 }),
			mkEvent(sk, { created_at: t + 90 }),
		];
		for (const ev of evs)
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		c.send(['REQ', 'ord', { authors: [pk] }]);
		for (const ev of nip01Order(evs))
			assert.deepEqual(await c.next(), ['EVENT', 'ord', ev]);
		assert.deepEqual(await c.next(), ['EOSE', 'ord']);
	});

	test('limit returns the newest N', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now() - 100;
		const evs = [];
		for (let i = 0; i < 6; i++)
			evs.push(mkEvent(sk, { created_at: t + i }));
		for (const ev of evs)
			await c.publish(ev);
		assert.deepEqual(await c.req('l', { authors: [pk], limit: 2 }), [evs[5], evs[4]]);
		assert.deepEqual(await c.req('l0', { authors: [pk], limit: 0 }), []);
		assert.deepEqual(await c.req('since', { authors: [pk], since: t + 3 }), [evs[5], evs[4], evs[3]]);
		assert.deepEqual(await c.req('until', { authors: [pk], until: t + 1 }), [evs[1], evs[0]]);
	});

	test('limit is capped by max_limit; a filter without limit gets default_limit', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now() - 1000;
		const evs = [];
		for (let i = 0; i < LIMITS.max_limit + 5; i++)
			evs.push(mkEvent(sk, { created_at: t + i }));
		// pipeline, then collect the OKs
		for (const ev of evs)
			c.send(['EVENT', ev]);
		for (const ev of evs) {
			const m = await c.waitFor((x) => x[0] === 'OK' && x[1] === ev.id);
			assert.equal(m[2], true, JSON.stringify(m));
		}
		const big = await c.req('big', { authors: [pk], limit: 1000 });
		assert.equal(big.length, LIMITS.max_limit);
		assert.deepEqual(big, nip01Order(evs).slice(0, LIMITS.max_limit));
		const dflt = await c.req('dflt', { authors: [pk] });
		assert.equal(dflt.length, LIMITS.default_limit);
	});

	test('after EOSE, matching new events are delivered live', T, async () => {
		const sub = await open();
		const pub = await open();
		const { sk, pk } = keys();
		const old = mkEvent(sk, { kind: 1 });
		await pub.publish(old);
		sub.send(['REQ', 'live', { authors: [pk], kinds: [1] }]);
		assert.deepEqual(await sub.next(), ['EVENT', 'live', old]);
		assert.deepEqual(await sub.next(), ['EOSE', 'live']);
		const other = mkEvent(sk, { kind: 7 });
		const ev = mkEvent(sk, { kind: 1 });
		assert.deepEqual(await pub.publish(other), ['OK', other.id, true, '']);
		assert.deepEqual(await pub.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await sub.next(), ['EVENT', 'live', ev]);
		await sub.quiet(300);
	});

	test('live events reach subscribers on every connection, tag filters included', T, async () => {
		const subs = [];
		const { sk } = keys();
		const topic = 'topic-' + randHex(4);
		for (let i = 0; i < 6; i++) {
			const c = await open();
			c.send(['REQ', 't', { '#t': [topic] }]);
			assert.deepEqual(await c.next(), ['EOSE', 't']);
			subs.push(c);
		}
		const pub = await open();
		const ev = mkEvent(sk, { tags: [['t', topic]] });
		await pub.publish(ev);
		for (const c of subs)
			assert.deepEqual(await c.next(), ['EVENT', 't', ev]);
	});

	test('a REQ with the same sub id replaces the old subscription', T, async () => {
		const sub = await open();
		const pub = await open();
		const a = keys();
		const b = keys();
		sub.send(['REQ', 'same', { authors: [a.pk] }]);
		assert.deepEqual(await sub.next(), ['EOSE', 'same']);
		const bOld = mkEvent(b.sk, { created_at: now() - 5 });
		await pub.publish(bOld);
		sub.send(['REQ', 'same', { authors: [b.pk] }]);
		assert.deepEqual(await sub.next(), ['EVENT', 'same', bOld]);
		assert.deepEqual(await sub.next(), ['EOSE', 'same']);
		const evA = mkEvent(a.sk);
		const evB = mkEvent(b.sk);
		await pub.publish(evA);
		await pub.publish(evB);
		assert.deepEqual(await sub.next(), ['EVENT', 'same', evB]);
		await sub.quiet(300);
	});

	test('CLOSE stops delivery', T, async () => {
		const sub = await open();
		const pub = await open();
		const { sk, pk } = keys();
		sub.send(['REQ', 'c', { authors: [pk] }]);
		assert.deepEqual(await sub.next(), ['EOSE', 'c']);
		sub.send(['CLOSE', 'c']);
		await sub.roundTrip();
		const ev = mkEvent(sk);
		await pub.publish(ev);
		await sub.quiet(400);
		// closing an unknown subscription is harmless
		sub.send(['CLOSE', 'never-opened']);
		await sub.roundTrip();
	});

	test('several filters are OR-ed, each event sent once', T, async () => {
		const c = await open();
		const a = keys();
		const b = keys();
		const t = now() - 50;
		const a1 = mkEvent(a.sk, { kind: 1, created_at: t + 1 });
		const a7 = mkEvent(a.sk, { kind: 7, created_at: t + 2 });
		const b1 = mkEvent(b.sk, { kind: 1, created_at: t + 3 });
		const b7 = mkEvent(b.sk, { kind: 7, created_at: t + 4 });
		for (const ev of [a1, a7, b1, b7])
			await c.publish(ev);
		const got = await c.req('or', { authors: [a.pk] }, { authors: [b.pk], kinds: [7] }, { ids: [a1.id] });
		assert.deepEqual(got.map((e) => e.id).sort(), [a1, a7, b7].map((e) => e.id).sort());
		// live: an event matching either filter comes once
		c.send(['REQ', 'or-live', { authors: [a.pk] }, { kinds: [7], authors: [a.pk, b.pk] }]);
		await c.collect('or-live');
		const ev = mkEvent(a.sk, { kind: 7 });
		const pub = await open();
		await pub.publish(ev);
		assert.deepEqual(await c.next(), ['EVENT', 'or-live', ev]);
		await c.quiet(300);
	});

	test('ids, kinds and tag filters select exactly', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const p = keys().pk;
		const e1 = mkEvent(sk, { kind: 1, tags: [['p', p]] });
		const e2 = mkEvent(sk, { kind: 6, tags: [['e', randHex(32)]] });
		await c.publish(e1);
		await c.publish(e2);
		assert.deepEqual(await c.req('ids', { ids: [e2.id] }), [e2]);
		assert.deepEqual(await c.req('kinds', { authors: [pk], kinds: [6] }), [e2]);
		assert.deepEqual(await c.req('p', { '#p': [p] }), [e1]);
		assert.deepEqual(await c.req('none', { authors: [pk], kinds: [9999] }), []);
	});

	test('CLOSED: too many subscriptions', T, async () => {
		const c = await open();
		for (let i = 0; i < LIMITS.max_subscriptions; i++) {
			c.send(['REQ', `s${i}`, { kinds: [9], authors: [randHex(32)] }]);
			assert.deepEqual(await c.next(), ['EOSE', `s${i}`]);
		}
		c.send(['REQ', 'one-too-many', { kinds: [9] }]);
		const m = await c.next();
		assert.equal(m.length, 3, JSON.stringify(m));
		assert.deepEqual(m.slice(0, 2), ['CLOSED', 'one-too-many']);
		assert.match(m[2], /^[a-z-]+: .*subscriptions/, m[2]);
		// replacing an open sub id is not a new subscription
		c.send(['REQ', 's0', { kinds: [9], authors: [randHex(32)] }]);
		assert.deepEqual(await c.next(), ['EOSE', 's0']);
		// after a CLOSE there is room again
		c.send(['CLOSE', 's1']);
		c.send(['REQ', 'fits', { kinds: [9], authors: [randHex(32)] }]);
		assert.deepEqual(await c.next(), ['EOSE', 'fits']);
	});

	test('CLOSED: too many filters', T, async () => {
		const c = await open();
		const f = { kinds: [1], authors: [randHex(32)] };
		c.send(['REQ', 'f', f, f, f, f]);
		assert.deepEqual(await c.next(), ['CLOSED', 'f', `invalid: too many filters (max ${LIMITS.max_filters})`]);
		await c.roundTrip();
		c.send(['REQ', 'f3', f, f, f]);
		assert.deepEqual(await c.next(), ['EOSE', 'f3']);
	});

	test('CLOSED: subscription id over 64 characters; 64 is fine', T, async () => {
		const c = await open();
		const long = 'x'.repeat(65);
		c.send(['REQ', long, { kinds: [1], limit: 1 }]);
		assert.deepEqual(await c.next(), ['CLOSED', long, 'invalid: subscription id must be 1-64 characters']);
		await c.roundTrip();
		const ok = 'y'.repeat(64);
		c.send(['REQ', ok, { ids: [randHex(32)] }]);
		assert.deepEqual(await c.next(), ['EOSE', ok]);
		// 64 characters that are not ASCII: counted as characters, not bytes
		const wide = 'é'.repeat(64);
		c.send(['REQ', wide, { ids: [randHex(32)] }]);
		assert.deepEqual(await c.next(), ['EOSE', wide]);
	});

	test('CLOSED: empty subscription id', T, async () => {
		const c = await open();
		c.send(['REQ', '', { kinds: [1] }]);
		assert.deepEqual(await c.next(), ['CLOSED', '', 'invalid: subscription id must be 1-64 characters']);
		await c.roundTrip();
	});

	const badFilters = [
		[{ kinds: ['a'] }, 'invalid: "kinds" must be an array of integers 0-65535'],
		[{ kinds: [70000] }, 'invalid: "kinds" must be an array of integers 0-65535'],
		[{ kinds: 1 }, 'invalid: "kinds" must be an array of integers 0-65535'],
		[{ kinds: [] }, 'invalid: "kinds" must not be empty'],
		[{ authors: 'abc' }, 'invalid: "authors" must be an array of 64-character lowercase hex strings'],
		[{ authors: ['abc'] }, 'invalid: "authors" must contain 64-character lowercase hex strings'],
		[{ ids: ['A'.repeat(64)] }, 'invalid: "ids" must contain 64-character lowercase hex strings'],
		[{ limit: -1 }, 'invalid: "limit" must be a non-negative integer'],
		[{ since: 'now' }, 'invalid: "since" must be a non-negative integer'],
		[{ until: 1.5 }, 'invalid: "until" must be a non-negative integer'],
		[{ '#t': [1] }, 'invalid: "#t" must be an array of strings'],
		[{ search: 5 }, 'invalid: "search" must be a string'],
		[5, 'invalid: filter must be a JSON object'],
		[{ foo: 1 }, 'unsupported: filter contains unknown field "foo"'],
	];
	for (const [filter, reason] of badFilters) {
		test(`CLOSED: bad filter ${JSON.stringify(filter)}`, T, async () => {
			const c = await open();
			c.send(['REQ', 'bad', filter]);
			assert.deepEqual(await c.next(), ['CLOSED', 'bad', reason]);
			await c.roundTrip();
			c.send(['COUNT', 'badc', filter]);
			assert.deepEqual(await c.next(), ['CLOSED', 'badc', reason]);
			await c.roundTrip();
		});
	}

	test('CLOSED: a bad filter after good ones refuses the whole REQ', T, async () => {
		const c = await open();
		c.send(['REQ', 'mixed', { kinds: [1] }, { kinds: ['x'] }]);
		assert.deepEqual(await c.next(), ['CLOSED', 'mixed', 'invalid: "kinds" must be an array of integers 0-65535']);
		await c.roundTrip();
	});

	test('CLOSED: REQ with a sub id but no filter', T, async () => {
		const c = await open();
		c.send(['REQ', 'nofilter']);
		assert.deepEqual(await c.next(), ['CLOSED', 'nofilter', 'invalid: REQ needs a subscription id and at least one filter']);
		await c.roundTrip();
	});

	test('a refused REQ does not replace an open subscription of the same id', T, async () => {
		const sub = await open();
		const pub = await open();
		const { sk, pk } = keys();
		sub.send(['REQ', 'keep', { authors: [pk] }]);
		assert.deepEqual(await sub.next(), ['EOSE', 'keep']);
		sub.send(['REQ', 'keep', { kinds: ['bad'] }]);
		const m = await sub.next();
		assert.equal(m[0], 'CLOSED');
		const ev = mkEvent(sk);
		await pub.publish(ev);
		// NIP-01 does not say; either the old one is still live or it was
		// closed by the CLOSED. Record what happens: no crash, and the
		// connection works.
		await new Promise((r) => setTimeout(r, 300));
		sub.queue.length = 0;
		await sub.roundTrip();
	});

	test('COUNT returns ["COUNT",sub,{"count":n}]', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		const t = now() - 100;
		const evs = [
			mkEvent(sk, { kind: 1, created_at: t }),
			mkEvent(sk, { kind: 1, created_at: t + 1 }),
			mkEvent(sk, { kind: 7, created_at: t + 2 }),
		];
		for (const ev of evs)
			await c.publish(ev);
		c.send(['COUNT', 'n', { authors: [pk] }]);
		assert.deepEqual(await c.next(), ['COUNT', 'n', { count: 3 }]);
		c.send(['COUNT', 'k', { authors: [pk], kinds: [1] }]);
		assert.deepEqual(await c.next(), ['COUNT', 'k', { count: 2 }]);
		c.send(['COUNT', 'or', { authors: [pk], kinds: [7] }, { ids: [evs[0].id, evs[2].id] }]);
		assert.deepEqual(await c.next(), ['COUNT', 'or', { count: 2 }]);
		c.send(['COUNT', 'zero', { authors: [randHex(32)] }]);
		assert.deepEqual(await c.next(), ['COUNT', 'zero', { count: 0 }]);
		c.send(['COUNT', 'since', { authors: [pk], since: t + 1 }]);
		assert.deepEqual(await c.next(), ['COUNT', 'since', { count: 2 }]);
		await c.roundTrip();
	});

	test('COUNT too many filters is CLOSED', T, async () => {
		const c = await open();
		const f = { kinds: [1] };
		c.send(['COUNT', 'cf', f, f, f, f]);
		assert.deepEqual(await c.next(), ['CLOSED', 'cf', `invalid: too many filters (max ${LIMITS.max_filters})`]);
		await c.roundTrip();
	});
});
