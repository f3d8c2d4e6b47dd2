// Operating the relay: SIGTERM with events in flight loses nothing that
// was acknowledged and exits 0; SIGHUP reloads limits and NIP-11 info
// without dropping connections, and survives a broken config file.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client, RawWs, RelayProcess, TERN, keys, mkEvent, nip11, randHex, sleep, withTimeout } from './lib.mjs';

describe('SIGTERM with events in flight', () => {
	const relays = [];
	const clients = [];
	after(async () => {
		clients.forEach((c) => c.close());
		for (const r of relays)
			await r.stop();
	});

	test('every OK true event is there after a restart; exit code 0; clients see 1001', { timeout: 90000 }, async () => {
		const relay = await RelayProcess.start({ relay: { shutdown_grace: 5 } });
		relays.push(relay);
		const CONNS = 4;
		const PER = 500;
		const { sk, pk } = keys();
		const batches = [];
		for (let c = 0; c < CONNS; c++) {
			const evs = [];
			for (let i = 0; i < PER; i++)
				evs.push(mkEvent(sk, { content: `c${c} e${i}`, created_at: 1700000000 + c * PER + i }));
			batches.push(evs);
		}
		const conns = [];
		for (let c = 0; c < CONNS; c++) {
			const cl = await Client.open(relay.url);
			clients.push(cl);
			conns.push(cl);
		}
		const acked = new Set();
		const refused = [];
		let started = false;
		const okListener = (cl) => () => {
			for (const m of cl.queue.splice(0)) {
				if (m[0] !== 'OK')
					continue;
				if (m[2] === true)
					acked.add(m[1]);
				else
					refused.push(m);
			}
		};
		for (const cl of conns)
			cl.ws.on('message', () => setImmediate(okListener(cl)));
		// pipeline everything at once
		conns.forEach((cl, c) => {
			for (const ev of batches[c])
				cl.send(['EVENT', ev]);
		});
		await withTimeout((async () => {
			while (acked.size < 200)
				await sleep(5);
		})(), 20000, '200 OKs');
		started = true;
		relay.signal('SIGTERM');
		const exit = await relay.waitExit(15000);
		assert.ok(exit, 'relay exited within 15 s of SIGTERM');
		const closes = await Promise.all(conns.map((cl) => withTimeout(cl.closed, 5000, 'client close')));
		conns.forEach((cl) => okListener(cl)());
		assert.ok(started);
		console.log(`# SIGTERM: ${acked.size}/${CONNS * PER} acknowledged, ${refused.length} refused, close codes ${closes.map((x) => x.code)}, exit ${JSON.stringify(exit)}`);
		assert.deepEqual(exit, { code: 0, signal: null });
		relay.checkLog();
		for (const r of refused)
			assert.match(r[3], /^(error|rate-limited|restricted|blocked): /, JSON.stringify(r));
		for (const x of closes)
			assert.ok(x.code === 1001 || x.code === 1006, `close code ${x.code}`);
		assert.ok(closes.some((x) => x.code === 1001), `at least one client got 1001: ${closes.map((x) => x.code)}`);

		// restart on the same database
		const again = await RelayProcess.start({ db: relay.db });
		relays.push(again);
		const c = await Client.open(again.url);
		clients.push(c);
		const ids = [...acked];
		const found = new Set();
		for (let i = 0; i < ids.length; i += 100) {
			const evs = await c.req(`q${i}`, { ids: ids.slice(i, i + 100) });
			evs.forEach((e) => found.add(e.id));
		}
		const missing = ids.filter((id) => !found.has(id));
		assert.deepEqual(missing, [], `${missing.length} acknowledged events are missing after restart`);
		// and nothing that was never sent appears
		const all = await c.req('all', { authors: [pk], limit: 5000 });
		const sent = new Set(batches.flat().map((e) => e.id));
		for (const e of all)
			assert.ok(sent.has(e.id));
		const st = await again.stop();
		assert.deepEqual(st, { code: 0, signal: null });
	});

	test('SIGINT also exits 0', { timeout: 30000 }, async () => {
		const relay = await RelayProcess.start();
		relays.push(relay);
		const c = await Client.open(relay.url);
		clients.push(c);
		await c.roundTrip();
		relay.signal('SIGINT');
		const exit = await relay.waitExit(15000);
		assert.deepEqual(exit, { code: 0, signal: null });
		relay.checkLog();
		const cl = await withTimeout(c.closed, 5000, 'client close');
		assert.equal(cl.code, 1001);
	});
});

describe('SIGTERM with a client that never reads', () => {
	let relay;
	after(async () => { await relay?.stop(); });

	test('the relay still exits 0 within shutdown_grace', { timeout: 60000 }, async () => {
		relay = await RelayProcess.start({ relay: { shutdown_grace: 2 } });
		const { sk, pk } = keys();
		const stuck = await RawWs.open(relay.port);
		stuck.sendText(['REQ', 's', { authors: [pk] }]);
		await sleep(200);
		stuck.sock.pause();
		const pub = await Client.open(relay.url);
		for (let i = 0; i < 60; i++)
			pub.send(['EVENT', mkEvent(sk, { content: randHex(30000) })]);
		for (let i = 0; i < 60; i++)
			await pub.waitFor((m) => m[0] === 'OK', 10000, 'OK');
		const t0 = Date.now();
		relay.signal('SIGTERM');
		const exit = await relay.waitExit(15000);
		const dt = Date.now() - t0;
		stuck.destroy();
		pub.close();
		assert.ok(exit, 'exited');
		assert.deepEqual(exit, { code: 0, signal: null });
		relay.checkLog();
		assert.ok(dt < 2000 + 3000, `exited ${dt} ms after SIGTERM with shutdown_grace 2 s`);
	});
});

describe('SIGHUP reload', () => {
	let relay;
	const clients = [];
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	async function waitName(name) {
		let doc;
		await withTimeout((async () => {
			for (;;) {
				doc = await nip11(relay.port);
				if (doc.name === name)
					return;
				await sleep(50);
			}
		})(), 5000, `NIP-11 name "${name}" (last: ${JSON.stringify(doc?.name)})`);
		return doc;
	}

	test('limits and NIP-11 info reload; connections stay up', { timeout: 30000 }, async () => {
		relay = await RelayProcess.start({ name: 'before-hup', relay: { limits: { max_filters: 5, max_limit: 100 } } });
		const c = await Client.open(relay.url);
		clients.push(c);
		const f = { kinds: [1], authors: [keys().pk] };
		assert.deepEqual(await c.req('four', f, f, f, f), []);
		let doc = await nip11(relay.port);
		assert.equal(doc.name, 'before-hup');
		assert.equal(doc.limitation.max_limit, 100);

		relay.name = 'after-hup';
		relay.writeConfig({ info: { name: 'after-hup' }, limits: { max_filters: 2, max_limit: 77 } });
		relay.signal('SIGHUP');
		doc = await waitName('after-hup');
		assert.equal(doc.limitation.max_limit, 77);
		if ('max_filters' in doc.limitation)
			assert.equal(doc.limitation.max_filters, 2);

		// the old connection is still up and works
		assert.equal(c.closeInfo, null);
		await c.roundTrip();
		// a new connection sees the new limit
		const d = await Client.open(relay.url);
		clients.push(d);
		d.send(['REQ', 'three', f, f, f]);
		assert.deepEqual(await d.next(), ['CLOSED', 'three', 'invalid: too many filters (max 2)']);
		await d.roundTrip();
	});

	test('an existing connection gets the reloaded limits too', { timeout: 30000 }, async () => {
		const c = clients[0];
		const f = { kinds: [1], authors: [keys().pk] };
		c.send(['REQ', 'three', f, f, f]);
		assert.deepEqual(await c.next(), ['CLOSED', 'three', 'invalid: too many filters (max 2)']);
		await c.roundTrip();
	});

	test('a broken config on SIGHUP keeps the running config', { timeout: 30000 }, async () => {
		const good = fs.readFileSync(relay.configPath, 'utf8');
		fs.writeFileSync(relay.configPath, good.replace('after-hup', 'broken-hup') + '\nrelay = { this is not valid\n');
		relay.signal('SIGHUP');
		await sleep(1000);
		assert.equal(relay.exitInfo, undefined, 'relay still running');
		const doc = await nip11(relay.port);
		assert.equal(doc.name, 'after-hup');
		await clients[0].roundTrip();
		fs.writeFileSync(relay.configPath, good);
	});

	test('an unknown setting on SIGHUP keeps the running config', { timeout: 30000 }, async () => {
		const good = fs.readFileSync(relay.configPath, 'utf8');
		fs.writeFileSync(relay.configPath, good.replace('after-hup', 'unknown-hup').replace('max_limit = 77;', 'max_limit = 77;\n\t\tno_such_setting = 1;'));
		relay.signal('SIGHUP');
		await sleep(1000);
		assert.equal(relay.exitInfo, undefined, 'relay still running');
		assert.equal((await nip11(relay.port)).name, 'after-hup');
		fs.writeFileSync(relay.configPath, good);
	});
});

describe('a second relay on the same port', () => {
	const relays = [];
	after(async () => { for (const r of relays) await r.stop(); });

	test('is refused instead of sharing the port through SO_REUSEPORT', { timeout: 30000 }, async () => {
		const relay = await RelayProcess.start();
		relays.push(relay);
		const db = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-second-'));
		const r = spawnSync(TERN, ['serve', '--bind', '127.0.0.1', '--port', String(relay.port), '--db', db],
			{ encoding: 'utf8', timeout: 10000 });
		fs.rmSync(db, { recursive: true, force: true });
		assert.equal(r.status, 1, `second relay exit: ${r.status} ${r.signal} ${r.stderr}`);
		assert.match(r.stderr, /bind 127\.0\.0\.1:\d+: Address already in use/);
		const c = await Client.open(relay.url);
		await c.roundTrip();
		c.close();
	});
});

describe('SIGHUP with a setting that needs a restart', () => {
	let relay;
	after(async () => { await relay?.stop(); });

	test('the change is logged as needing a restart; the relay keeps serving', { timeout: 30000 }, async () => {
		relay = await RelayProcess.start({ relay: { io_threads: 2 } });
		relay.writeConfig({ io_threads: 1 });
		relay.signal('SIGHUP');
		let log = '';
		await withTimeout((async () => {
			for (;;) {
				log = fs.readFileSync(relay.logPath, 'utf8');
				if (/SIGHUP: changed since start: .*relay\.io_threads=1.*only take effect after a restart/.test(log))
					return;
				await sleep(50);
			}
		})(), 5000, `restart warning in the log (log: ${log.slice(-400)})`);
		const c = await Client.open(relay.url);
		await c.roundTrip();
		c.close();
	});
});
