// Happy paths through a real Nostr client library: nostr-tools' Relay and
// SimplePool (which verify every event they receive).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Relay, useWebSocketImplementation as useWsRelay } from 'nostr-tools/relay';
import { SimplePool, useWebSocketImplementation as useWsPool } from 'nostr-tools/pool';
import { finalizeEvent } from 'nostr-tools/pure';

import { RelayProcess, T, WebSocket, keys, mkEvent, now, withTimeout } from './lib.mjs';

useWsRelay(WebSocket);
useWsPool(WebSocket);

describe('nostr-tools client', () => {
	let relay;
	const opened = [];

	before(async () => { relay = await RelayProcess.start(); });
	after(async () => {
		for (const r of opened)
			try { r.close(); } catch { /* already closed */ }
		await relay?.stop();
	});

	async function connect() {
		const r = await withTimeout(Relay.connect(relay.url), 5000, 'Relay.connect');
		r.notices = [];
		r.onnotice = (msg) => r.notices.push(msg);
		opened.push(r);
		return r;
	}

	test('Relay: publish, subscribe (stored, EOSE, live), count', T, async () => {
		const r = await connect();
		const { sk, pk } = keys();
		const t = now() - 10;
		const e1 = mkEvent(sk, { created_at: t });
		const e2 = mkEvent(sk, { created_at: t + 1 });
		assert.equal(await r.publish(e1), '');
		assert.equal(await r.publish(e2), '');

		const got = [];
		let eose;
		const eosed = new Promise((res) => { eose = res; });
		let onLive;
		const live = new Promise((res) => { onLive = res; });
		const sub = r.subscribe([{ authors: [pk] }], {
			onevent(ev) {
				got.push(ev);
				if (got.length === 3)
					onLive();
			},
			oneose() { eose(); },
		});
		await withTimeout(eosed, 5000, 'EOSE');
		assert.deepEqual(got.map((e) => e.id), [e2.id, e1.id]);
		const e3 = mkEvent(sk);
		const r2 = await connect();
		assert.equal(await r2.publish(e3), '');
		await withTimeout(live, 5000, 'live event');
		assert.equal(got[2].id, e3.id);
		sub.close();

		assert.equal(await r.count([{ authors: [pk] }]), 3);
		assert.deepEqual(r.notices, []);
	});

	test('Relay: a refused publish rejects with the relay reason', T, async () => {
		const r = await connect();
		const { sk } = keys();
		const ev = mkEvent(sk, { tags: [['expiration', String(now() - 100)]] });
		await assert.rejects(r.publish(ev), /invalid: /);
	});

	test('Relay: NIP-42 auth then a NIP-70 protected event', T, async () => {
		const r = await connect();
		const { sk, pk } = keys();
		await withTimeout((async () => {
			while (!r.challenge)
				await new Promise((res) => setTimeout(res, 20));
		})(), 5000, 'challenge');
		const reason = await r.auth((tmpl) => finalizeEvent(tmpl, sk));
		assert.equal(reason, '');
		const ev = mkEvent(sk, { tags: [['-']] });
		assert.equal(await r.publish(ev), '');
		const r2 = await connect();
		const got = [];
		await new Promise((res) => {
			r2.subscribe([{ authors: [pk] }], { onevent: (e) => got.push(e), oneose: res });
		});
		assert.deepEqual(got.map((e) => e.id), [ev.id]);
	});

	test('SimplePool: publish with onauth answers auth-required (NIP-70)', T, async () => {
		const pool = new SimplePool();
		try {
			const { sk, pk } = keys();
			const ev = mkEvent(sk, { tags: [['-']] });
			const res = await withTimeout(Promise.all(pool.publish([relay.url], ev, {
				onauth: (tmpl) => finalizeEvent(tmpl, sk),
			})), 10000, 'publish with auth');
			assert.deepEqual(res, ['']);
			const got = await pool.querySync([relay.url], { authors: [pk] });
			assert.deepEqual(got.map((e) => e.id), [ev.id]);
		} finally {
			pool.destroy();
		}
	});

	test('SimplePool: publish, querySync, get', T, async () => {
		const pool = new SimplePool();
		try {
			const { sk, pk } = keys();
			const evs = [];
			for (let i = 0; i < 5; i++)
				evs.push(mkEvent(sk, { kind: 1, created_at: now() - 10 + i }));
			for (const ev of evs)
				assert.deepEqual(await Promise.all(pool.publish([relay.url], ev)), ['']);
			const all = await withTimeout(pool.querySync([relay.url], { authors: [pk] }), 10000, 'querySync');
			assert.deepEqual(all.map((e) => e.id).sort(), evs.map((e) => e.id).sort());
			const latest = await withTimeout(pool.get([relay.url], { authors: [pk] }), 10000, 'get');
			assert.equal(latest.id, evs[4].id);
			const limited = await pool.querySync([relay.url], { authors: [pk], limit: 2 });
			assert.deepEqual(limited.map((e) => e.id).sort(), [evs[4].id, evs[3].id].sort());
		} finally {
			pool.destroy();
		}
	});

	test('SimplePool: replaceable and addressable lookups', T, async () => {
		const pool = new SimplePool();
		try {
			const { sk, pk } = keys();
			const t = now() - 10;
			const p1 = finalizeEvent({ kind: 0, created_at: t, tags: [], content: '{"name":"a"}' }, sk);
			const p2 = finalizeEvent({ kind: 0, created_at: t + 1, tags: [], content: '{"name":"b"}' }, sk);
			await Promise.all(pool.publish([relay.url], p1));
			await Promise.all(pool.publish([relay.url], p2));
			const got = await pool.querySync([relay.url], { kinds: [0], authors: [pk] });
			assert.deepEqual(got.map((e) => e.id), [p2.id]);
			const a = finalizeEvent({ kind: 30078, created_at: t, tags: [['d', 'app']], content: 'v1' }, sk);
			const b = finalizeEvent({ kind: 30078, created_at: t + 1, tags: [['d', 'app']], content: 'v2' }, sk);
			await Promise.all(pool.publish([relay.url], a));
			await Promise.all(pool.publish([relay.url], b));
			const g = await pool.get([relay.url], { kinds: [30078], authors: [pk], '#d': ['app'] });
			assert.equal(g.content, 'v2');
		} finally {
			pool.destroy();
		}
	});
});
