// Shared helpers of the example checks. Each check is a script run by
// scripts/test-examples.sh against one running example relay:
//
//     node tests/examples/<name>.mjs URL [more arguments]
//
// It prints one "ok - ..." line per passed check and exits 1 at the first
// failed one. The WebSocket client, keys and events come from the
// integration harness (tests/integration/lib.mjs, whose node_modules hold
// nostr-tools and ws).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';

import { Client, finalizeEvent, keys, mkEvent, nip01Order, now, randHex, ROOT, sleep } from '../integration/lib.mjs';

export { assert, Client, finalizeEvent, keys, mkEvent, nip01Order, now, randHex, ROOT, sleep };

/** Runs the named checks in order; exits 1 on the first failure. */
export async function run(name, checks) {
	for (const [what, fn] of checks) {
		try {
			await fn();
		} catch (e) {
			console.error(`not ok - ${name}: ${what}\n${e && e.stack ? e.stack : e}`);
			process.exit(1);
		}
		console.log(`ok - ${name}: ${what}`);
	}
	process.exit(0);
}

/** Asserts that an OK message accepted the event. */
export function assertOk(ok, what = 'event') {
	assert.equal(ok[0], 'OK');
	assert.equal(ok[2], true, `${what} refused: ${JSON.stringify(ok)}`);
}

/** Asserts that an OK message refused the event with a reason starting with prefix. */
export function assertRefused(ok, prefix, what = 'event') {
	assert.equal(ok[0], 'OK');
	assert.equal(ok[2], false, `${what} accepted, expected "${prefix}": ${JSON.stringify(ok)}`);
	assert.ok(ok[3].startsWith(prefix), `${what}: expected a reason starting "${prefix}", got ${JSON.stringify(ok[3])}`);
}

/** Sends REQ and returns its end message (EOSE or CLOSED) with the events before it. */
export async function reqEnd(c, sub, ...filters) {
	c.send(['REQ', sub, ...filters]);
	return c.collect(sub);
}

// ---- NIP-13 proof of work ---------------------------------------------------

/** Leading zero bits of a hex id. */
export function leadingZeroBits(hex) {
	let n = 0;
	for (const ch of hex) {
		const v = parseInt(ch, 16);
		if (v === 0) {
			n += 4;
			continue;
		}
		return n + Math.clz32(v) - 28;
	}
	return n;
}

/** NIP-01 id of an unsigned event (the serialization every client hashes). */
function eventId(pk, { created_at, kind, tags, content }) {
	return crypto.createHash('sha256').update(JSON.stringify([0, pk, created_at, kind, tags, content])).digest('hex');
}

/**
 * A signed event whose id has at least bits leading zero bits, with a
 * ["nonce", n, target] tag (target defaults to bits).
 */
export function mined(k, { kind = 1, content = 'work ' + randHex(4), tags = [], bits, target = bits, created_at = now() }) {
	for (let n = 0; ; n++) {
		const t = [...tags, ['nonce', String(n), String(target)]];
		const id = eventId(k.pk, { created_at, kind, tags: t, content });
		if (leadingZeroBits(id) >= bits) {
			const ev = JSON.parse(JSON.stringify(finalizeEvent({ kind, tags: t, content, created_at }, k.sk)));
			assert.equal(ev.id, id, 'mined id differs from the signed one');
			return ev;
		}
	}
}

/** A signed event whose id has fewer than bits leading zero bits. */
export function unmined(k, bits, opts = {}) {
	for (;;) {
		const ev = mkEvent(k.sk, opts);
		if (leadingZeroBits(ev.id) < bits)
			return ev;
	}
}

// ---- the tern binary's offline tools --------------------------------------

/** `tern scan --db dir filter`: the events stored in dir, parsed. */
export function scanStore(dir, filter = {}) {
	const tern = process.env.TERN || `${ROOT}/build/tern`;
	const r = spawnSync(tern, ['scan', '--db', dir, JSON.stringify(filter)], { encoding: 'utf8' });
	if (r.status !== 0)
		throw new Error(`tern scan --db ${dir} exited ${r.status}: ${r.stderr}`);
	return r.stdout.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}
