// The NIP-86 management API of `tern serve` (management.admins), driven
// as an administrator's tool would: fetch() POSTs with a NIP-98
// Authorization header made by nostr-tools. Each method's effect is checked
// on the wire (OK false for banned pubkeys, events and kinds, HTTP 429 for
// a blocked IP, the NIP-11 document), and the state survives a restart.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { getToken } from 'nostr-tools/nip98';
import { finalizeEvent } from 'nostr-tools/pure';

import { Client, RelayProcess, T, WebSocket, keys, mkEvent, withTimeout } from './lib.mjs';

const admin = keys();

/** Calls method on relay as who (default: the admin); { status, body }. */
async function call(relay, method, params = [], who = admin, opts = {}) {
	const req = { method, params };
	const headers = { 'Content-Type': 'application/nostr+json+rpc' };
	if (!opts.noAuth)
		headers.Authorization = await getToken(opts.url || relay.httpUrl, 'post',
			(e) => finalizeEvent(e, who.sk), true, req);
	const res = await fetch(relay.httpUrl + '/', {
		method: 'POST',
		headers,
		body: JSON.stringify(req),
	});
	return { status: res.status, body: await res.json() };
}

async function ok(relay, method, params = []) {
	const r = await call(relay, method, params);
	assert.equal(r.status, 200, `${method}: ${JSON.stringify(r.body)}`);
	assert.equal(r.body.error, undefined, `${method}: ${JSON.stringify(r.body)}`);
	return r.body.result;
}

async function info(relay) {
	const res = await fetch(relay.httpUrl + '/', { headers: { Accept: 'application/nostr+json' } });
	return res.json();
}

/** Opens a ws with extra headers; resolves it or rejects with .status. */
function openRaw(url, headers) {
	return withTimeout(new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { perMessageDeflate: false, headers });
		ws.once('open', () => resolve(ws));
		ws.once('unexpected-response', (req, res) => {
			const e = new Error(`HTTP ${res.statusCode}`);
			e.status = res.statusCode;
			reject(e);
		});
		ws.once('error', reject);
	}), 5000, 'WebSocket open');
}

const config = {
	relay: { trusted_proxy_header: 'X-Forwarded-For' },
	extra: { management: { admins: [admin.pk] } },
};

describe('NIP-86 management API', () => {
	let relay, c;
	const spammer = keys(), friend = keys(), other = keys();

	before(async () => {
		relay = await RelayProcess.start(config);
		c = await Client.open(relay.url);
	});
	after(async () => {
		c?.close();
		await relay?.stop();
	});

	test('NIP-11 lists 86; supportedmethods lists the methods', T, async () => {
		assert.ok((await info(relay)).supported_nips.includes(86));
		const methods = await ok(relay, 'supportedmethods');
		for (const m of ['banpubkey', 'listbannedpubkeys', 'allowpubkey', 'banevent', 'listbannedevents',
			'changerelayname', 'changerelaydescription', 'changerelayicon', 'allowkind', 'disallowkind',
			'listallowedkinds', 'blockip', 'unblockip', 'listblockedips', 'listeventsneedingmoderation'])
			assert.ok(methods.includes(m), `${m} missing from ${JSON.stringify(methods)}`);
	});

	test('unauthorized callers get 401', T, async () => {
		let r = await call(relay, 'supportedmethods', [], admin, { noAuth: true });
		assert.equal(r.status, 401);
		assert.match(r.body.error, /^unauthorized: missing Authorization/);
		r = await call(relay, 'supportedmethods', [], other);
		assert.equal(r.status, 401);
		assert.equal(r.body.error, 'restricted: not an admin of this relay');
		r = await call(relay, 'supportedmethods', [], admin, { url: 'http://elsewhere.example/' });
		assert.equal(r.status, 401);
		assert.match(r.body.error, /"u" tag/);
		// the relay's ws:// URL is accepted as well as http://
		r = await call(relay, 'supportedmethods', [], admin, { url: relay.url });
		assert.equal(r.status, 200);
	});

	test('banpubkey: the pubkey is refused; unbanpubkey lifts it', T, async () => {
		assert.equal(await ok(relay, 'banpubkey', [spammer.pk, 'spam']), true);
		const refused = await c.publish(mkEvent(spammer.sk));
		assert.equal(refused[2], false);
		assert.equal(refused[3], 'blocked: pubkey is banned');
		assert.deepEqual(await ok(relay, 'listbannedpubkeys'), [{ pubkey: spammer.pk, reason: 'spam' }]);
		assert.equal((await c.publish(mkEvent(friend.sk)))[2], true);
		await ok(relay, 'unbanpubkey', [spammer.pk]);
		assert.equal((await c.publish(mkEvent(spammer.sk)))[2], true);
		assert.deepEqual(await ok(relay, 'listbannedpubkeys'), []);
	});

	test('allowpubkey: a non-empty allow list refuses everyone else', T, async () => {
		await ok(relay, 'allowpubkey', [friend.pk, 'a friend']);
		assert.equal((await c.publish(mkEvent(friend.sk)))[2], true);
		const refused = await c.publish(mkEvent(other.sk));
		assert.deepEqual([refused[2], refused[3]], [false, 'blocked: pubkey is not allowed here']);
		assert.deepEqual(await ok(relay, 'listallowedpubkeys'), [{ pubkey: friend.pk, reason: 'a friend' }]);
		await ok(relay, 'unallowpubkey', [friend.pk]);
		assert.equal((await c.publish(mkEvent(other.sk)))[2], true);
	});

	test('banevent: the stored event is removed and refused again', T, async () => {
		const ev = mkEvent(friend.sk);
		assert.equal((await c.publish(ev))[2], true);
		assert.equal((await c.req('b1', { ids: [ev.id] })).length, 1);
		await ok(relay, 'banevent', [ev.id, 'illegal']);
		assert.equal((await c.req('b2', { ids: [ev.id] })).length, 0);
		const again = await c.publish(ev);
		assert.deepEqual([again[2], again[3]], [false, 'blocked: event is banned']);
		assert.deepEqual(await ok(relay, 'listbannedevents'), [{ id: ev.id, reason: 'illegal' }]);
		assert.deepEqual(await ok(relay, 'listeventsneedingmoderation'), []);
	});

	test('allowkind / disallowkind', T, async () => {
		await ok(relay, 'disallowkind', [7]);
		const r = await c.publish(mkEvent(friend.sk, { kind: 7 }));
		assert.deepEqual([r[2], r[3]], [false, 'blocked: kind 7 is not allowed here']);
		await ok(relay, 'allowkind', [1]);
		assert.deepEqual(await ok(relay, 'listallowedkinds'), [1]);
		assert.deepEqual(await ok(relay, 'listdisallowedkinds'), [7]);
		assert.equal((await c.publish(mkEvent(friend.sk, { kind: 1 })))[2], true);
		assert.equal((await c.publish(mkEvent(friend.sk, { kind: 30023, tags: [['d', 'x']] })))[2], false);
		const bad = await call(relay, 'allowkind', ['1']);
		assert.match(bad.body.error, /^invalid params/);
	});

	test('blockip: connections from that address get 429', T, async () => {
		const ip = '203.0.113.9';
		await ok(relay, 'blockip', [ip, 'abuse']);
		await assert.rejects(openRaw(relay.url, { 'X-Forwarded-For': ip }), (e) => e.status === 429);
		const fine = await openRaw(relay.url, { 'X-Forwarded-For': '203.0.113.10' });
		fine.close();
		assert.deepEqual(await ok(relay, 'listblockedips'), [{ ip, reason: 'abuse' }]);
		await ok(relay, 'unblockip', [ip]);
		(await openRaw(relay.url, { 'X-Forwarded-For': ip })).close();
		await ok(relay, 'blockip', [ip, 'abuse again']);
	});

	test('changerelayname / description / icon show in NIP-11', T, async () => {
		await ok(relay, 'changerelayname', ['Managed']);
		await ok(relay, 'changerelaydescription', ['line one\nline two']);
		await ok(relay, 'changerelayicon', ['https://example.com/icon.png']);
		const doc = await info(relay);
		assert.equal(doc.name, 'Managed');
		assert.equal(doc.description, 'line one\nline two');
		assert.equal(doc.icon, 'https://example.com/icon.png');
	});

	test('the state survives a restart', { timeout: 60000 }, async () => {
		await ok(relay, 'banpubkey', [spammer.pk, 'spam, "quoted"\\ and \r\n more']);
		c.close();
		c = null;
		await relay.stop();
		relay = await RelayProcess.start({ ...config, db: relay.db });
		c = await Client.open(relay.url);
		const doc = await info(relay);
		assert.equal(doc.name, 'Managed');
		assert.equal(doc.description, 'line one\nline two');
		assert.deepEqual(await ok(relay, 'listbannedpubkeys'),
			[{ pubkey: spammer.pk, reason: 'spam, "quoted"\\ and \r\n more' }]);
		assert.equal((await ok(relay, 'listbannedevents')).length, 1);
		assert.deepEqual(await ok(relay, 'listallowedkinds'), [1]);
		assert.deepEqual(await ok(relay, 'listblockedips'), [{ ip: '203.0.113.9', reason: 'abuse again' }]);
		assert.equal((await c.publish(mkEvent(spammer.sk)))[2], false);
		await assert.rejects(openRaw(relay.url, { 'X-Forwarded-For': '203.0.113.9' }), (e) => e.status === 429);
	});
});

describe('without management.admins', () => {
	let relay;
	before(async () => { relay = await RelayProcess.start(); });
	after(async () => { await relay?.stop(); });

	test('POST is 405 and NIP-11 does not list 86', T, async () => {
		const r = await fetch(relay.httpUrl + '/', {
			method: 'POST',
			headers: { 'Content-Type': 'application/nostr+json+rpc' },
			body: '{"method":"supportedmethods","params":[]}',
		});
		assert.equal(r.status, 405);
		await r.text();
		assert.ok(!(await info(relay)).supported_nips.includes(86));
	});
});
