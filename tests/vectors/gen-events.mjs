// Writes N signed events as JSONL (canonical key order, one per line) for the
// import benchmark: deterministic, ~80 keys, a realistic mix of kinds.
//
//   node gen-events.mjs N OUT        e.g. node gen-events.mjs 100000 events-100k.jsonl
//
// Mix: ~78% kind 1 (100-800 bytes, e/p/t tags), ~12% kind 7 reactions, ~5%
// kind 30023 long-form (several d-tags per author), and kind 0/3/10002
// replaceable events (follow lists of 20-200 p tags). created_at increases
// with small gaps, so replaceable events replace earlier versions.
//
// Signing uses nostr-tools' WebAssembly backend (libsecp256k1 compiled by
// nostr-wasm, several times faster than the JS one) with fixed auxiliary
// randomness, checked at start against the JS signer with the same aux value,
// and every 1000th event is re-verified with nostr-tools' verifyEvent.

import { openSync, writeSync, closeSync } from 'node:fs';
import { initNostrWasm } from 'nostr-wasm';
import { secretKey, signId, prng, getPublicKey, canonicalJson, verifyEvent, ordered, getEventHash } from './lib.mjs';

const n = Number(process.argv[2]);
const out = process.argv[3];
if (!Number.isInteger(n) || n <= 0 || !out) {
	console.error('usage: node gen-events.mjs N OUT');
	process.exit(2);
}

const nw = await initNostrWasm();
const NKEYS = 80;
const SK = Array.from({ length: NKEYS }, (_, i) => secretKey(`tern-bench/key/${i}`));
const PK = SK.map((k) => getPublicKey(k));

// nostr-wasm signs with the aux bytes already in its buffer when `ent` is
// given (zero-initialised memory): check that this equals a zero-aux signature.
function wasmSign(tpl, sk) {
	const ev = { created_at: tpl.created_at, kind: tpl.kind, tags: tpl.tags, content: tpl.content };
	nw.finalizeEvent(ev, sk, true);
	return ordered(ev);
}
{
	const probe = wasmSign({ created_at: 1, kind: 1, tags: [], content: 'probe' }, SK[0]);
	if (probe.sig !== signId(probe.id, SK[0]) || !verifyEvent(ordered(probe))) {
		console.error('gen-events: the WebAssembly signer is not deterministic here');
		process.exit(1);
	}
}

const r = prng(0x7e57);
const ri = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
const pick = (a) => a[Math.floor(r() * a.length)];
const WORDS = ('the a to of and in is it that for on you with this be are was have not but at from or by one ' +
	'relay nostr event note zap key sign verify lightning bitcoin client server protocol decentralized social ' +
	'network post reply thread follow mute list profile media image video link meetup today tomorrow weekend ' +
	'coffee music photo sunrise mountain river city café naïve 日本 東京 🤙 💜 ⚡ 🌅 gm gn pura vida').split(' ');
const TOPICS = ['nostr', 'bitcoin', 'tern', 'relay', 'photography', 'music', 'dev', 'zap', 'gm', 'plebchain'];

function text(minBytes, maxBytes) {
	const target = ri(minBytes, maxBytes);
	let s = '';
	while (Buffer.byteLength(s) < target) {
		s += pick(WORDS);
		const x = r();
		s += x < 0.05 ? '.\n' : x < 0.1 ? ', ' : x < 0.12 ? ' "quoted" ' : ' ';
	}
	return s.trimEnd();
}

const recent = [];          // recent kind-1 ids for e tags
let t = 1700000000;
const fd = openSync(out, 'w');
let buf = [];
const started = Date.now();

for (let i = 0; i < n; i++) {
	t += ri(0, 3);
	const a = ri(0, NKEYS - 1);
	const x = r();
	let tpl;
	if (x < 0.78 || recent.length === 0) {
		const tags = [];
		if (recent.length && r() < 0.5) {
			const root = pick(recent);
			tags.push(['e', root, '', 'root']);
			if (r() < 0.5) tags.push(['e', pick(recent), '', 'reply']);
		}
		for (let k = ri(0, 3); k > 0; k--) tags.push(['p', pick(PK)]);
		if (r() < 0.3) tags.push(['t', pick(TOPICS)]);
		tpl = { kind: 1, tags, content: text(100, 800) };
	} else if (x < 0.90) {
		tpl = { kind: 7, tags: [['e', pick(recent)], ['p', pick(PK)], ['k', '1']], content: r() < 0.7 ? '+' : pick(['🤙', '💜', '⚡', '-']) };
	} else if (x < 0.95) {
		const d = `article-${ri(0, 7)}`;
		tpl = { kind: 30023, tags: [['d', d], ['title', text(10, 60)], ['published_at', `${t - ri(0, 100000)}`], ['t', pick(TOPICS)]],
			content: text(500, 3000) };
	} else if (x < 0.97) {
		tpl = { kind: 0, tags: [], content: JSON.stringify({ name: `user${a}`, about: text(20, 200),
			picture: `https://example.com/u/${a}.png`, nip05: `user${a}@example.com` }) };
	} else if (x < 0.99) {
		const tags = [];
		for (let k = ri(20, 200); k > 0; k--) tags.push(['p', pick(PK)]);
		tpl = { kind: 3, tags, content: '' };
	} else {
		const tags = [];
		for (let k = ri(2, 6); k > 0; k--) tags.push(['r', `wss://relay${ri(0, 40)}.example.com`, ...(r() < 0.3 ? [pick(['read', 'write'])] : [])]);
		tpl = { kind: 10002, tags, content: '' };
	}
	tpl.created_at = t;
	const ev = wasmSign(tpl, SK[a]);
	if (ev.kind === 1) {
		recent.push(ev.id);
		if (recent.length > 500) recent.shift();
	}
	if (i % 1000 === 0 && (getEventHash(ev) !== ev.id || !verifyEvent(ordered(ev)))) {
		console.error(`gen-events: event ${i} does not verify with nostr-tools`);
		process.exit(1);
	}
	buf.push(canonicalJson(ev));
	if (buf.length === 1000 || i === n - 1) {
		writeSync(fd, buf.join('\n') + '\n');
		buf = [];
	}
	if ((i + 1) % 10000 === 0 || i === n - 1)
		process.stderr.write(`gen-events: ${i + 1}/${n} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}
closeSync(fd);
