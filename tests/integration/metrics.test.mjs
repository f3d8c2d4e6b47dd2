// The Prometheus endpoint of `tern serve` (metrics section of the config):
// the text format, the values after a published event, the allow list
// (with and without a trusted proxy header), and its absence when off.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, RelayProcess, T, httpRequest, keys, mkEvent, sleep } from './lib.mjs';

/**
 * Parses the Prometheus text format 0.0.4 strictly enough for the tests:
 * returns { samples: Map name -> [{ labels, value }], help, type } and
 * throws on a line that is not a comment, a blank or a sample, on a
 * sample without its HELP and TYPE before it, or on a repeated HELP/TYPE.
 */
function parseMetrics(text) {
	const help = new Map(), type = new Map(), samples = new Map();
	assert.ok(text.endsWith('\n'), 'the text ends with a newline');
	for (const line of text.split('\n').slice(0, -1)) {
		let m;
		if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line))) {
			assert.ok(!help.has(m[1]), `one HELP for ${m[1]}`);
			help.set(m[1], m[2]);
		} else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
			assert.ok(!type.has(m[1]), `one TYPE for ${m[1]}`);
			assert.ok(help.has(m[1]), `HELP before TYPE for ${m[1]}`);
			assert.ok(!samples.has(m[1]), `TYPE before the samples of ${m[1]}`);
			type.set(m[1], m[2]);
		} else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line))) {
			const [, name, labels = '', v] = m;
			assert.ok(type.has(name), `TYPE line before sample ${name}`);
			const value = Number(v);
			assert.ok(Number.isFinite(value), `a number for ${name}: ${v}`);
			if (!samples.has(name))
				samples.set(name, []);
			samples.get(name).push({ labels, value });
		} else {
			assert.fail(`not a line of the text format: ${JSON.stringify(line)}`);
		}
	}
	for (const [name, t] of type) {
		assert.ok(samples.has(name), `samples for ${name}`);
		assert.equal(t === 'counter', name.endsWith('_total'), `${name}: counters, and only they, end in _total`);
	}
	return { samples, help, type };
}

function value(parsed, name) {
	const s = parsed.samples.get(name);
	assert.ok(s && s.length === 1, `one sample of ${name}`);
	return s[0].value;
}

describe('metrics enabled', () => {
	let relay;

	before(async () => {
		relay = await RelayProcess.start({ extra: { metrics: { enabled: true } } });
	});
	after(async () => { await relay?.stop(); });

	test('text format, relay counters after a published event', T, async () => {
		const c = await Client.open(relay.url);
		const { sk } = keys();
		const ok = await c.publish(mkEvent(sk));
		assert.equal(ok[2], true, `stored: ${ok[3]}`);
		const eph = await c.publish(mkEvent(sk, { kind: 20001 }));
		assert.equal(eph[2], true, `ephemeral accepted: ${eph[3]}`);

		let r, p;
		for (let i = 0; i < 40; i++) {
			r = await httpRequest(relay.port, { path: '/metrics' });
			assert.equal(r.status, 200, r.body);
			p = parseMetrics(r.body);
			if (value(p, 'tern_events_stored_total') >= 1 && value(p, 'tern_events_ephemeral_total') >= 1)
				break;
			await sleep(50);
		}
		assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
		assert.ok(value(p, 'tern_events_stored_total') >= 1, 'events_stored_total >= 1');
		assert.ok(value(p, 'tern_events_received_total') >= 2, 'events_received_total >= 2');
		assert.ok(value(p, 'tern_events_ephemeral_total') >= 1, 'events_ephemeral_total >= 1');
		assert.equal(p.type.get('tern_connections'), 'gauge');
		assert.ok(value(p, 'tern_connections') >= 2, 'the client and the scrape are open');
		assert.ok(value(p, 'tern_connections_accepted_total') >= 2);
		assert.equal(value(p, 'tern_websocket_connections'), 1);
		assert.ok(value(p, 'tern_websocket_connections_total') >= 1);
		assert.equal(value(p, 'tern_slow_consumers_total'), 0);
		assert.ok(value(p, 'tern_store_events') >= 1, 'store events >= 1');
		assert.ok(value(p, 'tern_store_used_bytes') > 0);
		assert.ok(value(p, 'tern_store_map_size_bytes') >= value(p, 'tern_store_used_bytes'));
		const bi = p.samples.get('tern_build_info');
		assert.equal(bi.length, 1);
		assert.match(bi[0].labels, /^\{version="[^"]+"\}$/);
		assert.equal(bi[0].value, 1);
		assert.ok(value(p, 'process_resident_memory_bytes') > 0);
		assert.ok(value(p, 'process_cpu_seconds_total') >= 0);
		assert.ok(value(p, 'process_open_fds') > 0);
		const start = value(p, 'process_start_time_seconds');
		const nowS = Date.now() / 1000;
		assert.ok(start > nowS - 600 && start <= nowS + 5, `start time ${start} is recent`);

		c.close();
		await c.closed;
		for (let i = 0; i < 40; i++) {
			p = parseMetrics((await httpRequest(relay.port, { path: '/metrics' })).body);
			if (value(p, 'tern_websocket_connections') === 0)
				break;
			await sleep(50);
		}
		assert.equal(value(p, 'tern_websocket_connections'), 0, 'the closed WebSocket is gone');
	});

	test('HEAD answers without a body; other methods 405', T, async () => {
		const h = await httpRequest(relay.port, { method: 'HEAD', path: '/metrics' });
		assert.equal(h.status, 200);
		assert.match(h.headers['content-type'], /^text\/plain; version=0\.0\.4/);
		assert.equal(h.body, '');
		const q = await httpRequest(relay.port, { path: '/metrics?x=1' });
		assert.equal(q.status, 200, 'a query string is ignored');
		const post = await httpRequest(relay.port, { method: 'POST', path: '/metrics' });
		assert.equal(post.status, 405);
		assert.match(post.headers.allow, /GET/);
		const other = await httpRequest(relay.port, { path: '/metrics/x' });
		assert.equal(other.status, 404, 'only the exact path');
	});
});

describe('metrics disabled (the default)', () => {
	let relay;

	before(async () => { relay = await RelayProcess.start(); });
	after(async () => { await relay?.stop(); });

	test('GET /metrics is 404', T, async () => {
		const r = await httpRequest(relay.port, { path: '/metrics' });
		assert.equal(r.status, 404);
	});
});

describe('metrics allow list', () => {
	let relay, proxied;

	before(async () => {
		relay = await RelayProcess.start({
			extra: { metrics: { enabled: true, path: '/internal/metrics', allow: ['10.0.0.0/8', '::2'] } },
		});
		proxied = await RelayProcess.start({
			relay: { trusted_proxy_header: 'X-Forwarded-For' },
			extra: { metrics: { enabled: true, allow: ['192.0.2.7'] } },
		});
	});
	after(async () => {
		await relay?.stop();
		await proxied?.stop();
	});

	test('a client outside the list gets 403', T, async () => {
		const r = await httpRequest(relay.port, { path: '/internal/metrics' });
		assert.equal(r.status, 403);
		assert.doesNotMatch(r.body, /tern_/);
		const h = await httpRequest(relay.port, { method: 'HEAD', path: '/internal/metrics' });
		assert.equal(h.status, 403);
		const def = await httpRequest(relay.port, { path: '/metrics' });
		assert.equal(def.status, 404, 'the default path is not served');
	});

	test('behind a trusted proxy, the forwarded address decides', T, async () => {
		const ok = await httpRequest(proxied.port, {
			path: '/metrics', headers: { 'X-Forwarded-For': '198.51.100.1, 192.0.2.7' },
		});
		assert.equal(ok.status, 200);
		parseMetrics(ok.body);
		const no = await httpRequest(proxied.port, {
			path: '/metrics', headers: { 'X-Forwarded-For': '198.51.100.1' },
		});
		assert.equal(no.status, 403);
		const direct = await httpRequest(proxied.port, { path: '/metrics' });
		assert.equal(direct.status, 403, '127.0.0.1 is not in this list');
	});
});
