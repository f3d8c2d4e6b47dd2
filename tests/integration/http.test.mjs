// HTTP routes: NIP-11 document, CORS, OPTIONS preflight, the HTML landing
// page, 404, and WebSocket handshake validation.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { RawWs, RelayProcess, T, httpRequest, nip11, withTimeout } from './lib.mjs';

const LIMITS = {
	max_message_length: 100000,
	max_subscriptions: 33,
	max_filters: 7,
	max_limit: 321,
	default_limit: 123,
	max_subid_length: 64,
	max_event_tags: 1234,
	max_content_length: 54321,
	created_at_lower_limit: 86400 * 365,
	created_at_upper_limit: 600,
};

describe('HTTP and NIP-11', () => {
	let relay;

	before(async () => {
		relay = await RelayProcess.start({
			name: 'Tern Test Relay',
			relay: {
				info: {
					description: 'integration <test> & friends',
					contact: 'mailto:ops@example.invalid',
					pubkey: 'a'.repeat(64),
				},
				limits: LIMITS,
			},
		});
	});
	after(async () => { await relay?.stop(); });

	test('NIP-11 document on Accept: application/nostr+json', T, async () => {
		const r = await httpRequest(relay.port, { headers: { Accept: 'application/nostr+json' } });
		assert.equal(r.status, 200);
		assert.match(r.headers['content-type'], /^application\/nostr\+json/);
		const doc = JSON.parse(r.body);
		assert.equal(doc.name, 'Tern Test Relay');
		assert.equal(doc.description, 'integration <test> & friends');
		assert.equal(doc.contact, 'mailto:ops@example.invalid');
		assert.equal(doc.pubkey, 'a'.repeat(64));
		assert.equal(typeof doc.software, 'string');
		assert.equal(typeof doc.version, 'string');
		assert.ok(Array.isArray(doc.supported_nips), 'supported_nips is an array');
		for (const n of doc.supported_nips)
			assert.ok(Number.isInteger(n), `supported_nips holds integers: ${doc.supported_nips}`);
		for (const n of [1, 9, 11, 40, 42, 45, 70])
			assert.ok(doc.supported_nips.includes(n), `supported_nips includes ${n}: ${doc.supported_nips}`);
		assert.deepEqual(doc.supported_nips, [...doc.supported_nips].sort((a, b) => a - b), 'sorted');
	});

	test('NIP-11 limitation numbers equal the config', T, async () => {
		const doc = await nip11(relay.port);
		const lim = doc.limitation;
		assert.equal(typeof lim, 'object');
		for (const k of ['max_message_length', 'max_subscriptions', 'max_limit', 'max_subid_length',
			'max_event_tags', 'max_content_length', 'default_limit'])
			assert.equal(lim[k], LIMITS[k], `limitation.${k}`);
		for (const k of ['max_filters', 'created_at_lower_limit', 'created_at_upper_limit'])
			if (k in lim)
				assert.equal(lim[k], LIMITS[k], `limitation.${k}`);
		assert.equal(lim.auth_required, false);
		if ('min_pow_difficulty' in lim)
			assert.equal(lim.min_pow_difficulty, 0);
		for (const [k, v] of Object.entries(lim))
			assert.ok(typeof v === 'number' || typeof v === 'boolean', `limitation.${k} is a number or boolean`);
	});

	test('NIP-11 with a list of accepted types', T, async () => {
		const r = await httpRequest(relay.port, { headers: { Accept: 'text/html, application/nostr+json;q=0.9' } });
		assert.equal(r.status, 200);
		// either answer is defensible; it must be one of the two
		assert.match(r.headers['content-type'], /^(application\/nostr\+json|text\/html)/);
	});

	test('CORS headers on the NIP-11 reply', T, async () => {
		const r = await httpRequest(relay.port, { headers: { Accept: 'application/nostr+json', Origin: 'https://client.example' } });
		assert.equal(r.status, 200);
		assert.equal(r.headers['access-control-allow-origin'], '*');
		assert.ok(r.headers['access-control-allow-headers'], 'Access-Control-Allow-Headers');
		assert.ok(r.headers['access-control-allow-methods'], 'Access-Control-Allow-Methods');
	});

	test('OPTIONS preflight', T, async () => {
		const r = await httpRequest(relay.port, {
			method: 'OPTIONS',
			headers: {
				Origin: 'https://client.example',
				'Access-Control-Request-Method': 'GET',
				'Access-Control-Request-Headers': 'accept',
			},
		});
		assert.ok(r.status === 200 || r.status === 204, `status ${r.status}`);
		assert.equal(r.headers['access-control-allow-origin'], '*');
		assert.match(r.headers['access-control-allow-methods'] || '', /GET/);
		assert.match(r.headers['access-control-allow-headers'] || '', /accept|\*/i);
	});

	test('GET / in a browser is an HTML page with the name, description, URL and NIPs', T, async () => {
		const r = await httpRequest(relay.port, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
		assert.equal(r.status, 200);
		assert.match(r.headers['content-type'], /^text\/html/);
		assert.match(r.body, /Tern Test Relay/);
		// the description is HTML-escaped
		assert.ok(r.body.includes('integration &lt;test&gt; &amp; friends'), 'escaped description');
		assert.ok(!r.body.includes('<test>'), 'no raw markup from the config');
		assert.ok(r.body.includes(relay.url), 'relay URL');
		assert.match(r.body, /\b42\b/);
		assert.equal(r.headers['access-control-allow-origin'], '*');
	});

	test('unknown path is 404 (with CORS)', T, async () => {
		const r = await httpRequest(relay.port, { path: '/nope', headers: { Accept: 'text/html' } });
		assert.equal(r.status, 404);
		assert.equal(r.headers['access-control-allow-origin'], '*');
	});

	test('an unsupported method is a 4xx and the relay lives on', T, async () => {
		const r = await httpRequest(relay.port, { method: 'DELETE', path: '/' });
		assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
		const doc = await nip11(relay.port);
		assert.equal(doc.name, 'Tern Test Relay');
	});

	test('WebSocket upgrade without Sec-WebSocket-Key is refused with 400', T, async () => {
		const ws = await RawWs.open(relay.port, { headers: { 'Sec-WebSocket-Key': '' } }).catch((e) => e);
		if (ws instanceof Error)
			throw ws;
		assert.equal(ws.status, 400);
		ws.destroy();
	});

	test('WebSocket upgrade with a wrong version is refused', T, async () => {
		const ws = await RawWs.open(relay.port, { headers: { 'Sec-WebSocket-Version': '8' } });
		assert.ok(ws.status === 400 || ws.status === 426, `status ${ws.status}`);
		ws.destroy();
	});

	test('a request with oversized headers is refused and the relay lives on', T, async () => {
		const s = net.connect({ host: '127.0.0.1', port: relay.port });
		await withTimeout(new Promise((r) => s.once('connect', r)), 5000, 'connect');
		let got = '';
		s.on('data', (d) => { got += d.toString('latin1'); });
		s.on('error', () => {});
		const closed = new Promise((r) => s.once('close', r));
		s.write('GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(200000) + '\r\n\r\n');
		await withTimeout(closed, 5000, 'the relay closing an oversized request');
		assert.match(got, /^HTTP\/1\.1 4\d\d|^$/);
		const doc = await nip11(relay.port);
		assert.equal(doc.name, 'Tern Test Relay');
	});

	test('garbage instead of HTTP is answered 400 or closed', T, async () => {
		const s = net.connect({ host: '127.0.0.1', port: relay.port });
		await withTimeout(new Promise((r) => s.once('connect', r)), 5000, 'connect');
		let got = '';
		s.on('data', (d) => { got += d.toString('latin1'); });
		s.on('error', () => {});
		const closed = new Promise((r) => s.once('close', r));
		s.write('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n');
		await withTimeout(closed, 5000, 'the relay closing a garbage request');
		assert.match(got, /^HTTP\/1\.1 400|^$/);
	});
});
