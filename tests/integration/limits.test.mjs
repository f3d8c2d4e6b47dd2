// Every configured limit is enforced, not only advertised: event tags,
// content length, created_at window, subscription id length, NIP-13 proof
// of work, restricted_kinds, connections per IP (with and without a
// trusted proxy header), and the connection log lines.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { minePow } from 'nostr-tools/nip13';
import { finalizeEvent } from 'nostr-tools/pure';

import { Client, RelayProcess, T, WebSocket, keys, mkEvent, nip11, now, randHex, sleep, withTimeout } from './lib.mjs';

/** Opens a raw ws with extra request headers; resolves the socket or rejects with the HTTP status. */
function openWith(url, headers) {
	return withTimeout(new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { headers, perMessageDeflate: false });
		ws.once('open', () => resolve(ws));
		ws.once('unexpected-response', (req, res) => {
			const e = new Error(`HTTP ${res.statusCode}`);
			e.status = res.statusCode;
			res.resume();
			reject(e);
		});
		ws.once('error', reject);
	}), 5000, 'WebSocket open');
}

describe('event and subscription limits', () => {
	let relay;
	const clients = [];
	const open = async () => {
		const c = await Client.open(relay.url);
		clients.push(c);
		return c;
	};
	before(async () => {
		relay = await RelayProcess.start({
			relay: {
				limits: {
					max_event_tags: 5, max_content_length: 100, created_at_lower_limit: 3600,
					created_at_upper_limit: 60, max_subid_length: 10,
				},
			},
		});
	});
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('NIP-11 advertises them', T, async () => {
		const lim = (await nip11(relay.port)).limitation;
		assert.equal(lim.max_event_tags, 5);
		assert.equal(lim.max_content_length, 100);
		assert.equal(lim.max_subid_length, 10);
		if ('created_at_lower_limit' in lim)
			assert.equal(lim.created_at_lower_limit, 3600);
		if ('created_at_upper_limit' in lim)
			assert.equal(lim.created_at_upper_limit, 60);
	});

	test('max_event_tags', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ok = mkEvent(sk, { tags: [['t', 'a'], ['t', 'b'], ['t', 'c'], ['t', 'd'], ['t', 'e']] });
		assert.deepEqual(await c.publish(ok), ['OK', ok.id, true, '']);
		const bad = mkEvent(sk, { tags: [['t', 'a'], ['t', 'b'], ['t', 'c'], ['t', 'd'], ['t', 'e'], ['t', 'f']] });
		const m = await c.publish(bad);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^invalid: ./);
		await c.roundTrip();
	});

	test('max_content_length (bytes)', T, async () => {
		const c = await open();
		const { sk } = keys();
		const ok = mkEvent(sk, { content: 'x'.repeat(100) });
		assert.deepEqual(await c.publish(ok), ['OK', ok.id, true, '']);
		const bad = mkEvent(sk, { content: 'x'.repeat(101) });
		const m = await c.publish(bad);
		assert.equal(m[2], false, JSON.stringify(m));
		assert.match(m[3], /^invalid: ./);
		// 34 three-byte characters are 102 bytes
		const wide = mkEvent(sk, { content: '€'.repeat(34) });
		const w = await c.publish(wide);
		assert.equal(w[2], false, `content length is counted in bytes: ${JSON.stringify(w)}`);
		await c.roundTrip();
	});

	test('created_at_lower_limit and created_at_upper_limit', T, async () => {
		const c = await open();
		const { sk } = keys();
		const old = mkEvent(sk, { created_at: now() - 7200 });
		const m1 = await c.publish(old);
		assert.equal(m1[2], false, JSON.stringify(m1));
		assert.match(m1[3], /^invalid: ./);
		const future = mkEvent(sk, { created_at: now() + 300 });
		const m2 = await c.publish(future);
		assert.equal(m2[2], false, JSON.stringify(m2));
		assert.match(m2[3], /^invalid: ./);
		const fine = mkEvent(sk, { created_at: now() - 1800 });
		assert.deepEqual(await c.publish(fine), ['OK', fine.id, true, '']);
	});

	test('max_subid_length', T, async () => {
		const c = await open();
		c.send(['REQ', 'a'.repeat(10), { ids: [randHex(32)] }]);
		assert.deepEqual(await c.next(), ['EOSE', 'a'.repeat(10)]);
		const long = 'b'.repeat(11);
		c.send(['REQ', long, { ids: [randHex(32)] }]);
		const m = await c.next();
		assert.equal(m.length, 3, JSON.stringify(m));
		assert.deepEqual(m.slice(0, 2), ['CLOSED', long]);
		assert.match(m[2], /^invalid: .*10/);
		await c.roundTrip();
	});
});

describe('min_pow_difficulty (NIP-13)', () => {
	let relay;
	let c;
	before(async () => {
		relay = await RelayProcess.start({ relay: { limits: { min_pow_difficulty: 8 } } });
		c = await Client.open(relay.url);
	});
	after(async () => {
		c?.close();
		await relay?.stop();
	});

	test('an event without enough work is OK false "pow: ..."; a mined one is accepted', T, async () => {
		const { sk, pk } = keys();
		const plain = mkEvent(sk);
		// a random id has 8 leading zero bits with probability 1/256
		if (!plain.id.startsWith('00')) {
			const m = await c.publish(plain);
			assert.equal(m[2], false, JSON.stringify(m));
			assert.match(m[3], /^pow: ./);
		}
		const mined = minePow({ kind: 1, tags: [], content: 'work', created_at: now(), pubkey: pk }, 10);
		const ev = finalizeEvent({ kind: mined.kind, tags: mined.tags, content: mined.content, created_at: mined.created_at }, sk);
		assert.equal(ev.id, mined.id);
		assert.deepEqual(await c.publish(JSON.parse(JSON.stringify(ev))), ['OK', ev.id, true, '']);
		assert.equal((await nip11(relay.port)).limitation.min_pow_difficulty, 8);
	});
});

describe('restricted_kinds from the config', () => {
	let relay;
	let c;
	before(async () => {
		relay = await RelayProcess.start({ relay: { auth: { restricted_kinds: [7] } } });
		c = await Client.open(relay.url);
	});
	after(async () => {
		c?.close();
		await relay?.stop();
	});

	test('kind 4 is served to anyone, kind 7 needs AUTH', T, async () => {
		const a = keys();
		const b = keys();
		const dm = mkEvent(a.sk, { kind: 4, tags: [['p', b.pk]], content: 'x?iv=y' });
		const react = mkEvent(a.sk, { kind: 7, tags: [['p', b.pk]], content: '+' });
		await c.publish(dm);
		await c.publish(react);
		assert.deepEqual(await c.req('dm', { kinds: [4], authors: [a.pk] }), [dm]);
		c.send(['REQ', 'r', { kinds: [7], authors: [a.pk] }]);
		const m = await c.next();
		assert.deepEqual(m.slice(0, 2), ['CLOSED', 'r']);
		assert.match(m[2], /^auth-required: /);
	});
});

describe('connections per IP and the trusted proxy header', () => {
	let plain;
	let proxied;
	const sockets = [];
	before(async () => {
		plain = await RelayProcess.start({ relay: { limits: { max_connections_per_ip: 2 } } });
		proxied = await RelayProcess.start({ relay: { trusted_proxy_header: 'X-Forwarded-For', limits: { max_connections_per_ip: 1 } } });
	});
	after(async () => {
		sockets.forEach((s) => s.terminate());
		await Promise.all([plain?.stop(), proxied?.stop()]);
	});

	test('a connection over max_connections_per_ip is refused with HTTP 429', T, async () => {
		sockets.push(await openWith(plain.url, {}));
		sockets.push(await openWith(plain.url, { 'X-Forwarded-For': '203.0.113.9' }));
		// the header is not trusted here: still the same IP
		const err = await openWith(plain.url, { 'X-Forwarded-For': '203.0.113.10' }).then((ws) => { sockets.push(ws); return null; }, (e) => e);
		assert.ok(err, 'third connection from 127.0.0.1 was refused');
		assert.equal(err.status, 429);
		// closing one makes room again
		sockets[0].terminate();
		await sleep(300);
		sockets.push(await openWith(plain.url, {}));
	});

	test('with trusted_proxy_header, the header names the client', T, async () => {
		sockets.push(await openWith(proxied.url, { 'X-Forwarded-For': '198.51.100.1' }));
		sockets.push(await openWith(proxied.url, { 'X-Forwarded-For': '10.0.0.1, 198.51.100.2' }));
		const err = await openWith(proxied.url, { 'X-Forwarded-For': '198.51.100.1' }).then((ws) => { sockets.push(ws); return null; }, (e) => e);
		assert.ok(err, 'a second connection for 198.51.100.1 was refused');
		assert.equal(err.status, 429);
	});

	test('connection open and close are logged with the client IP', T, async () => {
		const ws = await openWith(proxied.url, { 'X-Forwarded-For': '198.51.100.77' });
		ws.close();
		await sleep(300);
		const log = fs.readFileSync(proxied.logPath, 'utf8');
		assert.match(log, /open .*198\.51\.100\.77/);
		assert.match(log, /close .*198\.51\.100\.77/);
		const plog = fs.readFileSync(plain.logPath, 'utf8');
		assert.match(plog, /open .*127\.0\.0\.1/);
		assert.doesNotMatch(plog, /203\.0\.113\.9/, 'untrusted header not used');
	});
});
