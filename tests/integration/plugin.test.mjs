// Write-policy plugins (strfry protocol) run by the real `tern serve`:
// the test plugins of tests/plugins accept, reject, shadow-reject, hang,
// crash, write garbage, answer slowly, and get replaced on disk.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client, RelayProcess, ROOT, T, keys, mkEvent, randHex, sleep } from './lib.mjs';

const plugin = (name, ...args) =>
	['perl', path.join(ROOT, 'tests', 'plugins', name), ...args.map((a) => `'${a}'`)].join(' ');

/** Runs fn with a fresh relay using the given relay.plugin settings. */
async function withRelay(pluginCfg, fn) {
	const relay = await RelayProcess.start({ relay: { plugin: pluginCfg } });
	const clients = [];
	const open = async (opts) => {
		const c = await Client.open(relay.url, opts);
		clients.push(c);
		return c;
	};
	try {
		await fn({ relay, open });
	} finally {
		clients.forEach((c) => c.close());
		await relay.stop();
	}
}

/** Polls cond (async) every 100 ms until it is true or ms have passed. */
async function eventually(cond, ms, what) {
	const deadline = Date.now() + ms;
	for (;;) {
		if (await cond())
			return;
		if (Date.now() > deadline)
			throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await sleep(100);
	}
}

describe('write-policy plugin', () => {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tern-plugin-it-'));
	after(() => fs.rmSync(tmp, { recursive: true, force: true }));

	test('accept: the event is stored and OK true', T, async () => {
		await withRelay({ command: plugin('accept-all.pl') }, async ({ open }) => {
			const c = await open();
			const { sk, pk } = keys();
			const ev = mkEvent(sk);
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
			assert.deepEqual(await c.req('s', { authors: [pk] }), [ev]);
		});
	});

	test('reject: OK false with the plugin\'s message, prefixed "blocked: " when it has none', T, async () => {
		await withRelay({ command: plugin('reject-all.pl') }, async ({ open }) => {
			const c = await open();
			const { sk, pk } = keys();
			const ev = mkEvent(sk);
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, false, 'blocked: not allowed here']);
			assert.deepEqual(await c.req('s', { authors: [pk] }), []);
		});
		await withRelay({ command: plugin('reject-all.pl', 'rate-limited: slow down') }, async ({ open }) => {
			const c = await open();
			const ev = mkEvent(keys().sk);
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, false, 'rate-limited: slow down']);
		});
	});

	test('the request carries the strfry fields: type, event, receivedAt, sourceType, sourceInfo, authed', T, async () => {
		await withRelay({ command: plugin('inspect.pl') }, async ({ relay, open }) => {
			const c = await open();
			const { sk, pk } = keys();
			const ev = mkEvent(sk, { kind: 7, content: 'probe' });
			const m = await c.publish(ev);
			assert.deepEqual(m, ['OK', ev.id, false,
				'restricted: type=new sourceType=IP4 sourceInfo=127.0.0.1 authed= kind=7 content=probe receivedAt=ok']);
			// after NIP-42 AUTH the pubkey is passed on
			const ok = await c.authAs(sk, relay.url);
			assert.equal(ok[2], true, `AUTH failed: ${JSON.stringify(ok)}`);
			const ev2 = mkEvent(sk, { content: 'again' });
			const m2 = await c.publish(ev2);
			assert.match(m2[3], new RegExp(`authed=${pk} `));
			// the plugin's stderr reaches the relay's log
			await eventually(() => relay.log().includes('inspect: type=new'), 5000, 'plugin stderr in the log');
		});
	});

	test('shadowReject: OK true, but neither stored nor broadcast', T, async () => {
		await withRelay({ command: plugin('shadow-reject.pl') }, async ({ open }) => {
			const listener = await open();
			const c = await open();
			const { sk, pk } = keys();
			listener.send(['REQ', 'live', { authors: [pk] }]);
			assert.deepEqual(await listener.next(), ['EOSE', 'live']);
			const ev = mkEvent(sk);
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
			assert.deepEqual(await c.req('s', { authors: [pk] }), []);
			await listener.quiet(300);
		});
	});

	test('timeout, fail-closed: OK false "error: plugin timed out"; other connections are served meanwhile', T, async () => {
		await withRelay({ command: plugin('never-answers.pl'), timeout_ms: 1000 }, async ({ open }) => {
			const c = await open();
			const other = await open();
			const { sk, pk } = keys();
			const ev = mkEvent(sk);
			const t0 = Date.now();
			c.send(['EVENT', ev]);
			await sleep(100);
			// the waiting event holds nobody else up
			await other.roundTrip();
			assert.equal(c.queue.length, 0, 'another connection waited for the plugin');
			const m = await c.waitFor((x) => x[0] === 'OK' && x[1] === ev.id, 5000, 'the OK');
			assert.deepEqual(m, ['OK', ev.id, false, 'error: plugin timed out']);
			assert.ok(Date.now() - t0 >= 900, 'answered before the timeout');
			assert.deepEqual(await other.req('s', { authors: [pk] }), []);
		});
	});

	test('timeout, fail-open: the event is accepted and stored', T, async () => {
		await withRelay({ command: plugin('never-answers.pl'), timeout_ms: 300, fail_open: true }, async ({ open }) => {
			const c = await open();
			const { sk, pk } = keys();
			const ev = mkEvent(sk);
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
			assert.deepEqual(await c.req('s', { authors: [pk] }), [ev]);
		});
	});

	test('a plugin that dies is restarted; the event it held gets the fail policy', T, async () => {
		await withRelay({ command: plugin('crash-after.pl', 1) }, async ({ relay, open }) => {
			const c = await open();
			const { sk } = keys();
			const first = mkEvent(sk);
			assert.deepEqual(await c.publish(first), ['OK', first.id, true, '']);
			const second = mkEvent(sk);
			assert.deepEqual(await c.publish(second), ['OK', second.id, false, 'error: plugin exited']);
			// a new process answers again (after a short backoff)
			let accepted = false;
			for (let i = 0; i < 20 && !accepted; i++) {
				const ev = mkEvent(sk);
				const m = await c.publish(ev);
				accepted = m[2] === true;
				if (!accepted)
					await sleep(100);
			}
			assert.ok(accepted, 'no event accepted after the crash');
			const starts = relay.log().match(/crash-after: started pid/g) || [];
			assert.ok(starts.length >= 2, `expected a restart in the log:\n${relay.log()}`);
		});
	});

	test('a changed plugin file is reloaded: new events go to the new version', T, async () => {
		const script = path.join(tmp, 'policy.pl');
		const install = (name) => {
			fs.copyFileSync(path.join(ROOT, 'tests', 'plugins', name), script + '.new');
			fs.chmodSync(script + '.new', 0o755);
			fs.renameSync(script + '.new', script);
		};
		install('accept-all.pl');
		await withRelay({ command: script }, async ({ open }) => {
			const c = await open();
			const { sk } = keys();
			const ev = mkEvent(sk);
			assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
			install('reject-all.pl');
			await eventually(async () => {
				const e = mkEvent(sk);
				const m = await c.publish(e);
				return m[2] === false && m[3] === 'blocked: not allowed here';
			}, 10000, 'the new plugin version to answer');
		});
	});

	test('garbage output lines are ignored; the real reply is used', T, async () => {
		await withRelay({ command: plugin('garbage.pl') }, async ({ open }) => {
			const c = await open();
			const { sk, pk } = keys();
			const yes = mkEvent(sk, { content: 'yes please' });
			const no = mkEvent(sk, { content: 'no thanks' });
			assert.deepEqual(await c.publish(yes), ['OK', yes.id, true, '']);
			assert.deepEqual(await c.publish(no), ['OK', no.id, false, 'blocked: says no']);
			assert.deepEqual(await c.req('s', { authors: [pk] }), [yes]);
		});
	});

	test('a slow plugin delays only the events it holds', T, async () => {
		await withRelay({ command: plugin('slow.pl', 1500), timeout_ms: 5000 }, async ({ open }) => {
			const c = await open();
			const others = await Promise.all([open(), open(), open()]);
			const { sk, pk } = keys();
			const ev = mkEvent(sk);
			const t0 = Date.now();
			c.send(['EVENT', ev]);
			await sleep(50);
			await Promise.all(others.map((o) => o.roundTrip()));
			assert.equal(c.queue.length, 0, 'other connections waited for the plugin');
			const m = await c.waitFor((x) => x[0] === 'OK' && x[1] === ev.id, 5000, 'the OK');
			assert.deepEqual(m, ['OK', ev.id, true, '']);
			assert.ok(Date.now() - t0 >= 1450, 'answered before the plugin did');
			assert.deepEqual(await others[0].req('s', { authors: [pk] }), [ev]);
		});
	});

	test('replies keep the order of a connection\'s events', T, async () => {
		await withRelay({ command: plugin('accept-all.pl') }, async ({ open }) => {
			const c = await open();
			const { sk } = keys();
			const evs = Array.from({ length: 20 }, (_, i) => mkEvent(sk, { content: `n${i} ${randHex(2)}` }));
			evs.forEach((ev) => c.send(['EVENT', ev]));
			const oks = [];
			for (let i = 0; i < evs.length; i++)
				oks.push(await c.next());
			assert.deepEqual(oks.map((m) => m[1]), evs.map((e) => e.id));
			assert.ok(oks.every((m) => m[0] === 'OK' && m[2] === true));
		});
	});
});
