// NIP-42 authentication, NIP-70 protected events, restricted reads of
// kinds 4 and 1059, and the auth_required limit.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, RelayProcess, T, keys, mkAuth, mkEvent, nip11, now, withTimeout } from './lib.mjs';

const AUTH_FAIL = /^(invalid|restricted|auth-required): ./;

describe('NIP-42 AUTH', () => {
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

	test('an AUTH challenge is the first message on connect, fresh per connection', T, async () => {
		const a = await open({ keepAuth: true });
		const b = await open({ keepAuth: true });
		const ma = await a.next();
		const mb = await b.next();
		assert.equal(ma[0], 'AUTH');
		assert.equal(ma.length, 2);
		assert.equal(typeof ma[1], 'string');
		assert.ok(ma[1].length >= 16, `challenge ${ma[1]} is long enough`);
		assert.equal(mb[0], 'AUTH');
		assert.notEqual(ma[1], mb[1]);
	});

	test('a valid AUTH is ["OK",id,true,""]', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ev = mkAuth(sk, await c.challenge(), relay.url);
		c.send(['AUTH', ev]);
		assert.deepEqual(await c.next(), ['OK', ev.id, true, '']);
		await c.roundTrip();
	});

	test('the relay URL may carry a trailing slash (as nostr-tools sends it)', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ev = mkAuth(sk, await c.challenge(), relay.url + '/');
		assert.deepEqual(await c.auth(ev), ['OK', ev.id, true, '']);
	});

	const bad = [
		['wrong challenge', (sk, ch, url) => mkAuth(sk, ch.replace(/^./, (x) => (x === 'a' ? 'b' : 'a')), url)],
		['challenge of another connection', null],
		['wrong relay URL', (sk, ch) => mkAuth(sk, ch, 'ws://127.0.0.1:1')],
		['wrong relay host', (sk, ch, url) => mkAuth(sk, ch, url.replace('127.0.0.1', 'relay.example.invalid'))],
		['stale created_at (1 hour ago)', (sk, ch, url) => mkAuth(sk, ch, url, { created_at: now() - 3600 })],
		['created_at 1 hour ahead', (sk, ch, url) => mkAuth(sk, ch, url, { created_at: now() + 3600 })],
		['wrong kind', (sk, ch, url) => mkAuth(sk, ch, url, { kind: 1 })],
		['bad signature', (sk, ch, url) => {
			const ev = mkAuth(sk, ch, url);
			return { ...ev, sig: ev.sig.slice(0, -2) + (ev.sig.endsWith('00') ? '11' : '00') };
		}],
		['missing challenge tag', (sk, ch, url) => mkEvent(sk, { kind: 22242, content: '', tags: [['relay', url]] })],
		['missing relay tag', (sk, ch) => mkEvent(sk, { kind: 22242, content: '', tags: [['challenge', ch]] })],
	];
	for (const [what, make] of bad) {
		test(`AUTH refused: ${what}`, T, async () => {
			const c = await open();
			const { sk } = keys();
			let ev;
			if (make) {
				ev = make(sk, await c.challenge(), relay.url);
			} else {
				const other = await open();
				ev = mkAuth(sk, await other.challenge(), relay.url);
			}
			c.send(['AUTH', ev]);
			const m = await c.next();
			assert.equal(m.length, 4, JSON.stringify(m));
			assert.deepEqual(m.slice(0, 3), ['OK', ev.id, false], JSON.stringify(m));
			assert.match(m[3], AUTH_FAIL);
			await c.roundTrip();
			// and it did not authenticate: a protected event is still refused
			const p = mkEvent(sk, { tags: [['-']] });
			const r = await c.publish(p);
			assert.equal(r[2], false, JSON.stringify(r));
			assert.match(r[3], /^auth-required: /);
		});
	}

	test('AUTH events are not stored or broadcast', T, async () => {
		const watcher = await open();
		const c = await open();
		const { sk, pk } = keys();
		watcher.send(['REQ', 'w', { authors: [pk] }]);
		assert.deepEqual(await watcher.next(), ['EOSE', 'w']);
		const ev = mkAuth(sk, await c.challenge(), relay.url);
		assert.deepEqual(await c.auth(ev), ['OK', ev.id, true, '']);
		await watcher.quiet(300);
		assert.deepEqual(await c.req('s', { ids: [ev.id] }), []);
	});

	test('NIP-70: a protected event is refused without AUTH, with a new AUTH challenge', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		await c.challenge();
		const before_ = c.challenges.length;
		const ev = mkEvent(sk, { tags: [['-']] });
		c.send(['EVENT', ev]);
		const m = await c.next();
		assert.equal(m.length, 4);
		assert.deepEqual(m.slice(0, 3), ['OK', ev.id, false]);
		assert.match(m[3], /^auth-required: ./);
		await withTimeout((async () => {
			while (c.challenges.length === before_)
				await new Promise((r) => setTimeout(r, 20));
		})(), 3000, 'an AUTH challenge after auth-required');
		assert.deepEqual(await c.req('s', { authors: [pk] }), []);
	});

	test('NIP-70: a protected event is accepted after AUTH as its author', T, async () => {
		const c = await open();
		const { sk, pk } = keys();
		assert.equal((await c.authAs(sk, relay.url))[2], true);
		const ev = mkEvent(sk, { tags: [['-']] });
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.req('s', { authors: [pk] }), [ev]);
	});

	test('NIP-70: AUTH as someone else does not allow publishing a protected event', T, async () => {
		const c = await open();
		const author = keys();
		const other = keys();
		assert.equal((await c.authAs(other.sk, relay.url))[2], true);
		const ev = mkEvent(author.sk, { tags: [['-']] });
		const m = await c.publish(ev);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^(auth-required|restricted): /);
	});

	test('several pubkeys on one connection', T, async () => {
		const c = await open();
		const a = keys();
		const b = keys();
		assert.equal((await c.authAs(a.sk, relay.url))[2], true);
		assert.equal((await c.authAs(b.sk, relay.url))[2], true);
		const ea = mkEvent(a.sk, { tags: [['-']] });
		const eb = mkEvent(b.sk, { tags: [['-']] });
		assert.deepEqual(await c.publish(ea), ['OK', ea.id, true, '']);
		assert.deepEqual(await c.publish(eb), ['OK', eb.id, true, '']);
	});
});

describe('restricted kinds (4, 1059)', () => {
	let relay;
	const clients = [];
	const open = async (opts) => {
		const c = await Client.open(relay.url, opts);
		clients.push(c);
		return c;
	};
	const A = keys(); // sender
	const B = keys(); // recipient
	const C = keys(); // another sender
	const D = keys(); // another recipient
	const E = keys(); // unrelated
	let dmAB, dmCD, wrapB, noteA;

	before(async () => {
		relay = await RelayProcess.start();
		const c = await open();
		const t = now() - 100;
		dmAB = mkEvent(A.sk, { kind: 4, tags: [['p', B.pk]], content: 'secret?iv=abc', created_at: t });
		dmCD = mkEvent(C.sk, { kind: 4, tags: [['p', D.pk]], content: 'other?iv=abc', created_at: t + 1 });
		wrapB = mkEvent(keys().sk, { kind: 1059, tags: [['p', B.pk]], content: 'wrapped', created_at: t + 2 });
		noteA = mkEvent(A.sk, { kind: 1, content: 'public', created_at: t + 3 });
		for (const ev of [dmAB, dmCD, wrapB, noteA]) {
			const m = await c.publish(ev);
			assert.deepEqual(m, ['OK', ev.id, true, ''], `publishing kind ${ev.kind}`);
		}
	});
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('REQ for kind 4 without AUTH is CLOSED "auth-required: ..."', T, async () => {
		const c = await open();
		c.send(['REQ', 'dm', { kinds: [4], '#p': [B.pk] }]);
		const m = await c.next();
		assert.equal(m.length, 3, JSON.stringify(m));
		assert.deepEqual(m.slice(0, 2), ['CLOSED', 'dm']);
		assert.match(m[2], /^auth-required: ./);
		await c.roundTrip();
	});

	test('REQ for kind 1059 without AUTH is CLOSED "auth-required: ..."', T, async () => {
		const c = await open();
		c.send(['REQ', 'gw', { kinds: [1059] }]);
		const m = await c.next();
		assert.deepEqual(m.slice(0, 2), ['CLOSED', 'gw']);
		assert.match(m[2], /^auth-required: ./);
		await c.roundTrip();
	});

	test('COUNT for kind 4 without AUTH is CLOSED "auth-required: ..."', T, async () => {
		const c = await open();
		c.send(['COUNT', 'cnt', { kinds: [4] }]);
		const m = await c.next();
		assert.deepEqual(m.slice(0, 2), ['CLOSED', 'cnt'], JSON.stringify(m));
		assert.match(m[2], /^auth-required: ./);
		await c.roundTrip();
	});

	test('a REQ without kinds never returns restricted events to an unauthed connection', T, async () => {
		const c = await open();
		c.send(['REQ', 'all', { authors: [A.pk, C.pk] }]);
		const r = await c.collect('all');
		for (const ev of r.events)
			assert.ok(ev.kind !== 4 && ev.kind !== 1059, `got restricted ${JSON.stringify(ev)}`);
		if (r.end[0] === 'EOSE')
			assert.deepEqual(r.events, [noteA]);
		else
			assert.match(r.end[2], /^(auth-required|restricted): /);
		await c.roundTrip();
	});

	test('after AUTH as the recipient, only their DMs come back', T, async () => {
		const c = await open();
		assert.equal((await c.authAs(B.sk, relay.url))[2], true);
		assert.deepEqual(await c.req('dm', { kinds: [4] }), [dmAB]);
		assert.deepEqual(await c.req('gw', { kinds: [1059], '#p': [B.pk] }), [wrapB]);
		assert.deepEqual(await c.req('both', { kinds: [4, 1059] }), [wrapB, dmAB]);
		assert.deepEqual(await c.count('n', { kinds: [4], '#p': [B.pk] }), ['COUNT', 'n', { count: 1 }]);
	});

	test('after AUTH as the sender, their sent DMs come back', T, async () => {
		const c = await open();
		assert.equal((await c.authAs(A.sk, relay.url))[2], true);
		assert.deepEqual(await c.req('dm', { kinds: [4] }), [dmAB]);
		assert.deepEqual(await c.req('mine', { authors: [A.pk] }), [noteA, dmAB]);
	});

	test('AUTH as an unrelated key sees no DMs', T, async () => {
		const c = await open();
		assert.equal((await c.authAs(E.sk, relay.url))[2], true);
		c.send(['REQ', 'dm', { kinds: [4] }]);
		const r = await c.collect('dm');
		assert.deepEqual(r.events, []);
		if (r.end[0] === 'CLOSED')
			assert.match(r.end[2], /^(restricted|auth-required): /);
		await c.roundTrip();
	});

	test('live: a DM reaches its recipient only', T, async () => {
		const rb = await open();
		const re = await open();
		const anon = await open();
		assert.equal((await rb.authAs(B.sk, relay.url))[2], true);
		assert.equal((await re.authAs(E.sk, relay.url))[2], true);
		rb.send(['REQ', 'live', { kinds: [4] }]);
		assert.equal((await rb.collect('live')).end[0], 'EOSE');
		re.send(['REQ', 'live', { kinds: [4] }]);
		const rE = await re.collect('live');
		anon.send(['REQ', 'live', { authors: [A.pk, C.pk] }]);
		const rA = await anon.collect('live');
		const pub = await open();
		const toB = mkEvent(A.sk, { kind: 4, tags: [['p', B.pk]], content: 'live?iv=x' });
		const toD = mkEvent(C.sk, { kind: 4, tags: [['p', D.pk]], content: 'live2?iv=x' });
		assert.deepEqual(await pub.publish(toD), ['OK', toD.id, true, '']);
		assert.deepEqual(await pub.publish(toB), ['OK', toB.id, true, '']);
		assert.deepEqual(await rb.next(), ['EVENT', 'live', toB]);
		await rb.quiet(300);
		if (rE.end[0] === 'EOSE')
			await re.quiet(100);
		if (rA.end[0] === 'EOSE')
			await anon.quiet(100);
	});
});

describe('auth_required = true', () => {
	let relay;
	const clients = [];
	before(async () => { relay = await RelayProcess.start({ relay: { limits: { auth_required: true } } }); });
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('EVENT and REQ before AUTH are refused with auth-required, allowed after', T, async () => {
		const c = await Client.open(relay.url);
		clients.push(c);
		const { sk, pk } = keys();
		const ev = mkEvent(sk);
		const m = await c.publish(ev);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^auth-required: /);
		c.send(['REQ', 's', { authors: [pk] }]);
		const r = await c.next();
		assert.deepEqual(r.slice(0, 2), ['CLOSED', 's'], JSON.stringify(r));
		assert.match(r[2], /^auth-required: /);
		assert.equal((await c.authAs(sk, relay.url))[2], true);
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await c.req('s2', { authors: [pk] }), [ev]);
	});

	test('NIP-11 says auth_required', T, async () => {
		const doc = await nip11(relay.port);
		assert.equal(doc.limitation?.auth_required, true);
	});
});
