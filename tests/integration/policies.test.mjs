// The policies of relay.policies in tern.conf, as a client sees them: each
// one, switched on in the config file, refuses (or rewrites) exactly what
// it should at the right point - OK false for events, CLOSED for REQ and
// COUNT, HTTP 429 for connections - with the NIP-01 prefix of its reason,
// and lets everything else through.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { getPow, minePow } from 'nostr-tools/nip13';
import { finalizeEvent } from 'nostr-tools/pure';

import { Client, RelayProcess, T, WebSocket, keys, mkEvent, now, randHex, withTimeout } from './lib.mjs';

/** Opens a ws; resolves it, or rejects with err.status = the HTTP status. */
function openRaw(url) {
	return withTimeout(new Promise((resolve, reject) => {
		const ws = new WebSocket(url, { perMessageDeflate: false });
		ws.once('open', () => resolve(ws));
		ws.once('unexpected-response', (req, res) => {
			const e = new Error(`HTTP ${res.statusCode}`);
			e.status = res.statusCode;
			let body = '';
			res.on('data', (d) => { body += d; });
			res.on('end', () => { e.body = body; reject(e); });
		});
		ws.once('error', reject);
	}), 5000, 'WebSocket open');
}

/**
 * Starts a relay for the enclosing describe() with these relay.policies
 * (and more relay settings); returns { relay, open }.
 */
function withRelay(policies, relay = {}) {
	const ctx = { clients: [] };
	before(async () => {
		ctx.relay = await RelayProcess.start({ relay: { ...relay, policies } });
	});
	after(async () => {
		ctx.clients.forEach((c) => c.close());
		await ctx.relay?.stop();
	});
	ctx.open = async () => {
		const c = await Client.open(ctx.relay.url);
		ctx.clients.push(c);
		return c;
	};
	return ctx;
}

async function expectOk(c, ev) {
	const ok = await c.publish(ev);
	assert.equal(ok[2], true, `expected OK true, got ${JSON.stringify(ok)}`);
}

async function expectRefused(c, ev, prefix) {
	const ok = await c.publish(ev);
	assert.equal(ok[2], false, `expected OK false, got ${JSON.stringify(ok)}`);
	assert.ok(ok[3].startsWith(prefix + ':'), `reason ${JSON.stringify(ok[3])} should start with ${prefix}:`);
	return ok[3];
}

/** REQ that must end with CLOSED whose reason starts with prefix. */
async function expectClosed(c, prefix, ...filters) {
	const sub = 's' + randHex(3);
	c.send(['REQ', sub, ...filters]);
	const r = await c.collect(sub);
	assert.equal(r.end[0], 'CLOSED', `expected CLOSED, got ${JSON.stringify(r.end)}`);
	assert.ok(r.end[2].startsWith(prefix + ':'), `reason ${JSON.stringify(r.end[2])} should start with ${prefix}:`);
	return r.end[2];
}

describe('event policies', () => {
	const ctx = withRelay({
		max_content_length: 40,
		max_indexable_tags: 3,
		max_indexable_tags_ignore_kinds: [3],
		max_tag_value_length: 20,
		allowed_kinds: [0, 1, 3, 5, 7],
		allow_ephemeral: true,
		max_past: 3600,
		max_future: 60,
		reject_base64_media: true,
		validate_kind: true,
	});
	const { sk } = keys();

	test('plain events pass every policy', T, async () => {
		const c = await ctx.open();
		await expectOk(c, mkEvent(sk, { content: 'fine', tags: [['t', 'a'], ['p', 'x'.repeat(20)], ['alt', 'y'.repeat(100)]] }));
		await expectOk(c, mkEvent(sk, { kind: 0, content: '{"name":"alice"}' }));
		await expectOk(c, mkEvent(sk, { kind: 20001, content: 'ephemeral' }));
	});

	test('max_content_length', T, async () => {
		const c = await ctx.open();
		const why = await expectRefused(c, mkEvent(sk, { content: 'z'.repeat(41) }), 'invalid');
		assert.match(why, /longer than 40 bytes/);
		await expectOk(c, mkEvent(sk, { content: 'z'.repeat(40) }));
	});

	test('max_indexable_tags, with ignored kinds', T, async () => {
		const c = await ctx.open();
		const tags = [['t', 'a'], ['t', 'b'], ['e', 'abc'], ['p', 'q']];
		await expectRefused(c, mkEvent(sk, { tags }), 'blocked');
		await expectOk(c, mkEvent(sk, { tags: tags.slice(1) }));
		await expectOk(c, mkEvent(sk, { kind: 3, content: '', tags }));
	});

	test('max_tag_value_length', T, async () => {
		const c = await ctx.open();
		const why = await expectRefused(c, mkEvent(sk, { tags: [['t', 'x'.repeat(21)]] }), 'blocked');
		assert.match(why, /too large tags/);
	});

	test('allowed_kinds (ephemeral allowed)', T, async () => {
		const c = await ctx.open();
		const why = await expectRefused(c, mkEvent(sk, { kind: 30023, tags: [['d', 'a']] }), 'blocked');
		assert.equal(why, 'blocked: received event kind 30023 not allowed');
	});

	test('max_past and max_future', T, async () => {
		const c = await ctx.open();
		assert.equal(await expectRefused(c, mkEvent(sk, { created_at: now() - 4000 }), 'invalid'), 'invalid: event too old');
		await expectOk(c, mkEvent(sk, { created_at: now() - 3000 }));
		await expectRefused(c, mkEvent(sk, { created_at: now() + 300 }), 'invalid');
		await expectOk(c, mkEvent(sk, { created_at: now() + 10 }));
	});

	test('reject_base64_media', T, async () => {
		const c = await ctx.open();
		assert.equal(await expectRefused(c, mkEvent(sk, { content: 'data:image/png;base64,iVBO' }), 'blocked'),
			'blocked: event with base64 media');
	});

	test('validate_kind', T, async () => {
		const c = await ctx.open();
		await expectRefused(c, mkEvent(sk, { kind: 0, content: '{"about":"no name"}' }), 'invalid');
		await expectRefused(c, mkEvent(sk, { kind: 0, content: 'not json' }), 'invalid');
	});

	test('a refused event is not stored', T, async () => {
		const c = await ctx.open();
		const ev = mkEvent(sk, { content: 'data:video/mp4;base64,AAAA' });
		await expectRefused(c, ev, 'blocked');
		assert.deepEqual(await c.req('q', { ids: [ev.id] }), []);
	});
});

describe('proof of work and protected events', () => {
	const ctx = withRelay({ min_pow: 8, only_protected_events: true });

	test('min_pow: difficulty, and the committed target', T, async () => {
		const { sk, pk } = keys();
		const c = await ctx.open();
		assert.equal((await c.authAs(sk, ctx.relay.url))[2], true);
		const tags = [['-']];
		const mine = (target, min) => {
			for (;;) {
				const t = minePow({ kind: 1, tags: [...tags], content: randHex(4), created_at: now(), pubkey: pk }, target);
				if (getPow(t.id) >= min)
					return finalizeEvent(t, sk);
			}
		};
		await expectOk(c, mine(8, 8));
		// lucky: 8 leading zero bits, but the nonce commits to 6
		const why = await expectRefused(c, mine(6, 8), 'pow');
		assert.match(why, /committed target difficulty 6 is less than 8/);
		// too little work
		let weak;
		do
			weak = mkEvent(sk, { tags, content: randHex(4) });
		while (getPow(weak.id) >= 8);
		assert.match(await expectRefused(c, weak, 'pow'), /^pow: difficulty \d is less than 8$/);
	});

	test('only_protected_events', T, async () => {
		const { sk, pk } = keys();
		const c = await ctx.open();
		assert.equal((await c.authAs(sk, ctx.relay.url))[2], true);
		let ev;
		do
			ev = mkEvent(sk, { content: randHex(4) });
		while (getPow(ev.id) < 8);
		const why = await expectRefused(c, ev, 'blocked');
		assert.match(why, /NIP-70/);
		assert.ok(pk);
	});
});

describe('event rate limiters', () => {
	const ctx = withRelay({
		event_pubkey_rate_limit: { tokens_per_interval: 1, interval: 3600, max_tokens: 3 },
		event_authed_rate_limit: { tokens_per_interval: 1, interval: 3600, max_tokens: 5 },
	});

	test('per pubkey: a burst of max_tokens, then rate-limited', T, async () => {
		const a = keys(), b = keys();
		const c = await ctx.open();
		for (let i = 0; i < 3; i++)
			await expectOk(c, mkEvent(a.sk));
		assert.equal(await expectRefused(c, mkEvent(a.sk), 'rate-limited'), 'rate-limited: slow down, please');
		// another author is counted apart, even on the same connection
		await expectOk(c, mkEvent(b.sk));
	});

	test('per authed pubkey: counts what the authed connection sends', T, async () => {
		const me = keys();
		const c = await ctx.open();
		assert.equal((await c.authAs(me.sk, ctx.relay.url))[2], true);
		// five events by five authors, all sent by one authed user
		for (let i = 0; i < 5; i++)
			await expectOk(c, mkEvent(keys().sk));
		await expectRefused(c, mkEvent(keys().sk), 'rate-limited');
		// a connection that is not authed is not counted by it
		const anon = await ctx.open();
		await expectOk(anon, mkEvent(keys().sk));
	});
});

describe('event rate limiter per IP', () => {
	const ctx = withRelay({ event_ip_rate_limit: { tokens_per_interval: 1, interval: 3600, max_tokens: 4 } });

	test('shared by every connection of one IP', T, async () => {
		const c1 = await ctx.open(), c2 = await ctx.open();
		for (let i = 0; i < 2; i++) {
			await expectOk(c1, mkEvent(keys().sk));
			await expectOk(c2, mkEvent(keys().sk));
		}
		await expectRefused(c1, mkEvent(keys().sk), 'rate-limited');
		await expectRefused(c2, mkEvent(keys().sk), 'rate-limited');
	});
});

describe('filter policies', () => {
	const ctx = withRelay({
		reject_kind4_snoopers: true,
		no_empty_filters: true,
		no_complex_filters: true,
		anti_sync_bots: true,
		no_search_queries: true,
	}, { auth: { restricted_kinds: [] } }); // so that kind 4 is this policy's alone

	test('ordinary filters are served', T, async () => {
		const c = await ctx.open();
		const { sk, pk } = keys();
		const ev = mkEvent(sk);
		await expectOk(c, ev);
		assert.deepEqual((await c.req('a', { kinds: [1], authors: [pk] })).map((e) => e.id), [ev.id]);
		assert.deepEqual((await c.req('b', { ids: [ev.id] })).map((e) => e.id), [ev.id]);
	});

	test('no_empty_filters', T, async () => {
		const c = await ctx.open();
		assert.equal(await expectClosed(c, 'blocked', { limit: 5 }), 'blocked: can\'t handle empty filters');
	});

	test('no_complex_filters', T, async () => {
		const c = await ctx.open();
		const f = { kinds: [1, 7], authors: [randHex()], '#t': ['a'], '#r': ['b'], '#d': ['c'] };
		assert.equal(await expectClosed(c, 'blocked', f), 'blocked: too many things to filter for');
	});

	test('anti_sync_bots', T, async () => {
		const c = await ctx.open();
		assert.match(await expectClosed(c, 'blocked', { kinds: [1] }), /an author must be specified/);
		assert.deepEqual(await c.req('ok', { kinds: [0] }), []);
	});

	test('no_search_queries', T, async () => {
		const c = await ctx.open();
		assert.equal(await expectClosed(c, 'blocked', { search: 'cats', authors: [randHex()] }),
			'blocked: search is not supported');
	});

	test('reject_kind4_snoopers: auth-required, then only the parties', T, async () => {
		const me = keys(), other = keys();
		const c = await ctx.open();
		await expectClosed(c, 'auth-required', { kinds: [4], '#p': [me.pk] });
		assert.equal((await c.authAs(me.sk, ctx.relay.url))[2], true);
		assert.deepEqual(await c.req('mine', { kinds: [4], '#p': [me.pk] }), []);
		assert.deepEqual(await c.req('sent', { kinds: [4], authors: [me.pk] }), []);
		await expectClosed(c, 'restricted', { kinds: [4], authors: [other.pk] });
	});

	test('COUNT goes through the filter policies too', T, async () => {
		const c = await ctx.open();
		const r = await c.count('n', { limit: 1 });
		assert.equal(r[0], 'CLOSED', JSON.stringify(r));
		assert.match(r[2], /^blocked: /);
	});
});

describe('must_auth and the filter rate limiter', () => {
	const ctx = withRelay({
		must_auth: true,
		filter_ip_rate_limit: { tokens_per_interval: 1, interval: 3600, max_tokens: 3 },
	});

	test('must_auth sends AUTH and CLOSED auth-required until authed', T, async () => {
		const me = keys();
		const c = await ctx.open();
		const before = c.challenges.length;
		await expectClosed(c, 'auth-required', { kinds: [1], authors: [me.pk] });
		await c.challenge();
		assert.ok(c.challenges.length >= Math.max(1, before));
		assert.equal((await c.authAs(me.sk, ctx.relay.url))[2], true);
		// the refused filter took no token: three more pass, then the limit
		for (let i = 0; i < 3; i++)
			assert.deepEqual(await c.req('ok' + i, { kinds: [1], authors: [me.pk] }), []);
		assert.equal(await expectClosed(c, 'rate-limited', { kinds: [1], authors: [me.pk] }),
			'rate-limited: there is a bug in the client, no one should be making so many requests');
	});
});

describe('filter rewriting', () => {
	const ctx = withRelay({
		remove_search_queries: true,
		remove_all_but_kinds: [1],
		remove_all_but_tags: ['t'],
	});

	test('remove_all_but_kinds, remove_all_but_tags, remove_search_queries', T, async () => {
		const { sk, pk } = keys();
		const c = await ctx.open();
		const note = mkEvent(sk, { tags: [['t', 'x']] });
		const reaction = mkEvent(sk, { kind: 7, content: '+', tags: [['e', randHex()]] });
		await expectOk(c, note);
		await expectOk(c, reaction);
		// kind 7 is removed from the filter: only the note comes back
		assert.deepEqual((await c.req('k', { kinds: [1, 7], authors: [pk] })).map((e) => e.id), [note.id]);
		// a filter left with no kind matches nothing
		assert.deepEqual(await c.req('none', { kinds: [7], authors: [pk] }), []);
		// "#e" is dropped, so the filter matches the note without that tag
		assert.deepEqual((await c.req('tag', { kinds: [1], authors: [pk], '#e': [randHex()], '#t': ['x'] })).map((e) => e.id), [note.id]);
		// "search" is dropped: served as a plain filter
		assert.deepEqual((await c.req('s', { kinds: [1], authors: [pk], search: 'zzz' })).map((e) => e.id), [note.id]);
	});

	test('COUNT filters are rewritten as REQ filters are', T, async () => {
		const { sk, pk } = keys();
		const c = await ctx.open();
		await expectOk(c, mkEvent(sk, { tags: [['t', 'y']] }));
		await expectOk(c, mkEvent(sk, { kind: 7, content: '+', tags: [['e', randHex()]] }));
		const count = async (sub, filter) => {
			const r = await c.count(sub, filter);
			assert.equal(r[0], 'COUNT', JSON.stringify(r));
			return r[2].count;
		};
		// kind 7 is removed: only the note is counted
		assert.equal(await count('k', { kinds: [1, 7], authors: [pk] }), 1);
		// a filter left with no kind counts nothing
		assert.equal(await count('none', { kinds: [7], authors: [pk] }), 0);
		// "#e" is dropped, "#t" kept
		assert.equal(await count('tag', { kinds: [1], authors: [pk], '#e': [randHex()], '#t': ['y'] }), 1);
		assert.equal(await count('tag2', { kinds: [1], authors: [pk], '#t': ['x'] }), 0);
		// "search" is dropped: counted as a plain filter
		assert.equal(await count('s', { kinds: [1], authors: [pk], search: 'zzz' }), 1);
	});
});

describe('connection rate limiter', () => {
	const ctx = withRelay({ connection_rate_limit: { tokens_per_interval: 1, interval: 3600, max_tokens: 3 } });

	test('a burst of max_tokens upgrades per IP, then HTTP 429', T, async () => {
		const sockets = [];
		try {
			for (let i = 0; i < 3; i++)
				sockets.push(await openRaw(ctx.relay.url));
			const err = await openRaw(ctx.relay.url).then((ws) => { sockets.push(ws); return null; }, (e) => e);
			assert.ok(err, 'the fourth connection should be refused');
			assert.equal(err.status, 429);
			assert.match(err.body || '', /rate-limited/);
		} finally {
			sockets.forEach((ws) => ws.terminate());
		}
	});
});

describe('apply_defaults', () => {
	const ctx = withRelay({ apply_defaults: true });

	test('base64 media and complex filters are refused; plain use is not', T, async () => {
		const { sk, pk } = keys();
		const c = await ctx.open();
		await expectOk(c, mkEvent(sk));
		await expectRefused(c, mkEvent(sk, { content: 'data:image/gif;base64,R0lG' }), 'blocked');
		await expectClosed(c, 'blocked', { kinds: [1, 7], '#t': ['a'], '#r': ['b'], '#d': ['c'] });
		assert.equal((await c.req('ok', { kinds: [1], authors: [pk] })).length, 1);
	});

	test('events per IP: a burst of 10, then rate-limited', T, async () => {
		const c = await ctx.open();
		let refused = null;
		// the first test used 2 tokens (one refused event took none)
		for (let i = 0; i < 12 && !refused; i++) {
			const ok = await c.publish(mkEvent(keys().sk));
			if (!ok[2])
				refused = { i, why: ok[3] };
		}
		assert.ok(refused, 'never rate-limited');
		assert.match(refused.why, /^rate-limited: /);
		assert.ok(refused.i >= 7 && refused.i <= 9, `refused after ${refused.i} events`);
	});
});
