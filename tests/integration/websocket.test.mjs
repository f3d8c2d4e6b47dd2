// WebSocket (RFC 6455 / RFC 7692): ping/pong, keepalive, close codes
// (1000, 1002, 1007, 1009), fragmentation, permessage-deflate on and off,
// and 1 MB messages accepted or refused as configured.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';

import { Client, RawWs, RelayProcess, T, keys, mkEvent, randHex, sleep, withTimeout } from './lib.mjs';

const MB = 1 << 20;

/** Event whose content is n bytes of hex (incompressible enough). */
function bigEvent(sk, n) {
	let content = '';
	while (content.length < n)
		content += randHex(Math.min(4096, (n - content.length + 1) >> 1));
	return mkEvent(sk, { content: content.slice(0, n) });
}

describe('WebSocket', () => {
	let dflt; // default limits (max_message_length 131072, max_content_length 65536)
	let big;  // max_message_length 2 MiB, max_content_length 1.1 MB
	let keepalive; // fast pings, compression off
	const clients = [];
	const open = async (relay, opts) => {
		const c = await Client.open(relay.url, opts);
		clients.push(c);
		return c;
	};

	before(async () => {
		dflt = await RelayProcess.start();
		big = await RelayProcess.start({ relay: { limits: { max_message_length: 2 * MB, max_content_length: 1100000 } } });
		keepalive = await RelayProcess.start({ relay: { websocket: { ping_interval: 1, ping_timeout: 2, compression: false } } });
	});
	after(async () => {
		clients.forEach((c) => c.close());
		await Promise.all([dflt?.stop(), big?.stop(), keepalive?.stop()]);
	});

	test('ping is answered with a pong carrying the same data', T, async () => {
		const c = await open(dflt);
		const pong = once(c.ws, 'pong');
		c.ws.ping(Buffer.from('tern-ping'));
		const [data] = await withTimeout(pong, 3000, 'pong');
		assert.equal(data.toString(), 'tern-ping');
		await c.roundTrip();
	});

	test('a message over max_message_length is refused with close 1009', T, async () => {
		const c = await open(dflt);
		const { sk } = keys();
		c.send(['EVENT', bigEvent(sk, 140000)]);
		const info = await withTimeout(c.closed, 5000, 'close');
		assert.equal(info.code, 1009);
	});

	test('1009 comes without the relay reading the whole message', T, async () => {
		const r = await RawWs.open(dflt.port);
		assert.equal(r.status, 101);
		r.sendFrame(1, Buffer.alloc(1000, 0x20), { declaredLength: 16 * MB });
		const cl = await r.closeFrame(5000);
		assert.equal(cl.code, 1009);
		r.destroy();
	});

	test('a fragmented message over max_message_length is refused with 1009', T, async () => {
		const r = await RawWs.open(dflt.port);
		const chunk = Buffer.alloc(60000, 0x20);
		r.sendFrame(1, chunk, { fin: false });
		r.sendFrame(0, chunk, { fin: false });
		r.sendFrame(0, chunk, { fin: false });
		r.sendFrame(0, chunk, { fin: true });
		const cl = await r.closeFrame(5000);
		assert.equal(cl.code, 1009);
		r.destroy();
	});

	test('invalid UTF-8 in a text message closes with 1007', T, async () => {
		const c = await open(dflt);
		c.ws.send(Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]), { binary: false });
		const info = await withTimeout(c.closed, 5000, 'close');
		assert.equal(info.code, 1007);
	});

	test('invalid UTF-8 split across fragments closes with 1007', T, async () => {
		const r = await RawWs.open(dflt.port);
		r.sendFrame(1, Buffer.from([0x5b, 0x22, 0xe2, 0x82]), { fin: false });
		r.sendFrame(0, Buffer.from([0x41, 0x22, 0x5d]), { fin: true });
		const cl = await r.closeFrame(5000);
		assert.equal(cl.code, 1007);
		r.destroy();
	});

	test('a fragmented message (with a ping in between) is reassembled', T, async () => {
		const r = await RawWs.open(dflt.port);
		const id = randHex(32);
		// "€" (e2 82 ac) split across fragments is valid UTF-8
		const whole = Buffer.from(`["REQ","fr€g",{"ids":["${id}"]}]`);
		const cut = whole.indexOf(0xe2) + 1;
		r.sendFrame(1, whole.subarray(0, cut), { fin: false });
		r.sendFrame(9, Buffer.from('mid'));
		r.sendFrame(0, whole.subarray(cut, cut + 10), { fin: false });
		r.sendFrame(0, whole.subarray(cut + 10), { fin: true });
		let sawPong = false;
		for (;;) {
			const f = await r.nextFrame(5000);
			if (f.opcode === 10) {
				assert.equal(f.payload.toString(), 'mid');
				sawPong = true;
				continue;
			}
			if (f.opcode === 1) {
				const m = JSON.parse(f.payload.toString());
				if (m[0] === 'AUTH')
					continue;
				assert.deepEqual(m, ['EOSE', 'fr€g']);
				break;
			}
			assert.fail(`unexpected frame opcode ${f.opcode}`);
		}
		if (!sawPong) {
			const f = await r.nextFrame(2000);
			assert.equal(f.opcode, 10);
		}
		for (const f of r.frames)
			assert.equal(f.masked, false, 'server frames are unmasked');
		r.destroy();
	});

	test('the close handshake echoes 1000', T, async () => {
		const r = await RawWs.open(dflt.port);
		r.sendFrame(8, Buffer.from([0x03, 0xe8]));
		const cl = await r.closeFrame(5000);
		assert.equal(cl.code, 1000);
		await r.until(() => r.ended, 5000, 'the relay closing TCP');
	});

	const protocolErrors = [
		['an unmasked client frame', (r) => r.sendFrame(1, '["REQ","x",{}]', { mask: false })],
		['an unknown opcode', (r) => r.sendFrame(3, 'x')],
		['RSV1 without a negotiated extension', (r) => r.sendFrame(1, '[]', { rsv1: true })],
		['a continuation with no message started', (r) => r.sendFrame(0, 'x')],
		['a fragmented ping', (r) => r.sendFrame(9, 'x', { fin: false })],
		['a control frame over 125 bytes', (r) => r.sendFrame(9, Buffer.alloc(126))],
	];
	for (const [what, send] of protocolErrors) {
		test(`protocol error closes with 1002: ${what}`, T, async () => {
			const r = await RawWs.open(dflt.port);
			send(r);
			const cl = await r.closeFrame(5000);
			assert.equal(cl.code, 1002);
			r.destroy();
		});
	}

	test('compression on: negotiated, and replies equal the uncompressed ones', T, async () => {
		const z = await open(dflt, { perMessageDeflate: true });
		const p = await open(dflt, { perMessageDeflate: false });
		assert.match(z.ws.extensions, /permessage-deflate/);
		assert.equal(p.ws.extensions, '');
		const { sk, pk } = keys();
		const evs = [];
		for (let i = 0; i < 5; i++)
			evs.push(mkEvent(sk, { content: 'compress me '.repeat(200) + i, created_at: 1700000000 + i }));
		for (const ev of evs)
			assert.deepEqual(await z.publish(ev), ['OK', ev.id, true, '']);
		const viaZ = await z.req('s', { authors: [pk] });
		const viaP = await p.req('s', { authors: [pk] });
		assert.equal(viaZ.length, 5);
		assert.deepEqual(viaZ, viaP);
		// live delivery through both
		z.send(['REQ', 'live', { authors: [pk] }]);
		p.send(['REQ', 'live', { authors: [pk] }]);
		await z.collect('live');
		await p.collect('live');
		const ev = mkEvent(sk, { content: 'live '.repeat(500) });
		assert.deepEqual(await p.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await z.next(), ['EVENT', 'live', ev]);
		assert.deepEqual(await p.next(), ['EVENT', 'live', ev]);
		// malformed input through the compressed path
		z.send('nope');
		assert.deepEqual(await z.next(), ['NOTICE', 'invalid: message is not a JSON array']);
		await z.roundTrip();
	});

	test('compression: max_message_length applies to the inflated size', T, async () => {
		const z = await open(dflt, { perMessageDeflate: true });
		assert.match(z.ws.extensions, /permessage-deflate/);
		// ~1 MB of spaces deflates to about 1 KB on the wire
		z.send('[' + ' '.repeat(MB) + ']');
		const info = await withTimeout(z.closed, 5000, 'close');
		assert.equal(info.code, 1009);
	});

	test('compression off in the config: not negotiated, everything still works', T, async () => {
		const z = await open(keepalive, { perMessageDeflate: true });
		assert.equal(z.ws.extensions, '');
		const { sk, pk } = keys();
		const ev = mkEvent(sk);
		assert.deepEqual(await z.publish(ev), ['OK', ev.id, true, '']);
		assert.deepEqual(await z.req('s', { authors: [pk] }), [ev]);
	});

	test('keepalive: the relay pings, and a client that answers stays connected', { timeout: 20000 }, async () => {
		const c = await open(keepalive);
		let pings = 0;
		c.ws.on('ping', () => { pings++; });
		await sleep(3500);
		assert.ok(pings >= 2, `got ${pings} pings in 3.5 s with ping_interval 1`);
		assert.equal(c.closeInfo, null);
		await c.roundTrip();
	});

	test('keepalive: a client that never answers pings is dropped', { timeout: 20000 }, async () => {
		const r = await RawWs.open(keepalive.port);
		const t0 = Date.now();
		await r.until(() => r.ended, 10000, 'the relay dropping a silent client');
		const dt = Date.now() - t0;
		assert.ok(dt >= 1500, `dropped after ${dt} ms (ping_timeout is 2 s)`);
		assert.ok(r.frames.some((f) => f.opcode === 9) || r.frames.length === 0, 'pings were sent');
	});

	test('1 MB message refused with 1009 under the default max_message_length', T, async () => {
		const c = await open(dflt);
		const { sk } = keys();
		c.send(['EVENT', bigEvent(sk, MB)]);
		const info = await withTimeout(c.closed, 5000, 'close');
		assert.equal(info.code, 1009);
	});

	test('content over max_content_length (message within limits) is OK false', T, async () => {
		const c = await open(dflt);
		const { sk, pk } = keys();
		const ev = bigEvent(sk, 100000);
		const m = await c.publish(ev);
		assert.equal(m[2], false, JSON.stringify(m).slice(0, 300));
		assert.match(m[3], /^invalid: /);
		await c.roundTrip();
		assert.deepEqual(await c.req('s', { authors: [pk] }), []);
	});

	for (const deflate of [false, true]) {
		test(`1 MB event accepted when max_message_length allows it (compression ${deflate ? 'on' : 'off'})`, T, async () => {
			const c = await open(big, { perMessageDeflate: deflate });
			const { sk, pk } = keys();
			const ev = bigEvent(sk, MB);
			assert.deepEqual(await c.publish(ev, 15000), ['OK', ev.id, true, '']);
			const got = await c.req('s', { authors: [pk] });
			assert.equal(got.length, 1);
			assert.equal(got[0].content.length, MB);
			assert.deepEqual(got[0], ev);
		});
	}

	test('raised max_message_length but default-size content limit refuses big content', T, async () => {
		const c = await open(big);
		const { sk } = keys();
		const ev = bigEvent(sk, 1200000);
		const m = await c.publish(ev, 15000);
		assert.equal(m[2], false, JSON.stringify(m).slice(0, 300));
		assert.match(m[3], /^invalid: /);
		await c.roundTrip();
	});
});
