// Shared helpers for the vector generators: deterministic keys, signing and
// randomness, so that every run writes byte-identical files.
//
// Signatures: BIP-340 signing takes 32 bytes of auxiliary randomness, and
// nostr-tools' finalizeEvent draws them from the system RNG. The generators
// sign with the same library nostr-tools uses (@noble/curves) but pass a fixed
// all-zero auxiliary value, which BIP-340 allows and which makes signatures
// reproducible. Every event is then checked with nostr-tools' verifyEvent.

import { finalizeEvent, getEventHash, getPublicKey, serializeEvent, verifyEvent } from 'nostr-tools/pure';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

export { getEventHash, getPublicKey, serializeEvent, verifyEvent, bytesToHex, hexToBytes };

export const AUX_ZERO = new Uint8Array(32);
const utf8 = new TextEncoder();

/** A secret key derived from a label: sha256(label). */
export function secretKey(label) {
	return sha256(utf8.encode(label));
}

/** Sign a 32-byte id (hex) with a fixed aux value; returns the signature hex. */
export function signId(idHex, sk) {
	return bytesToHex(schnorr.sign(hexToBytes(idHex), sk, AUX_ZERO));
}

/** The event with its fields in tern's stored order (id, pubkey, created_at, kind, tags, content, sig). */
export function ordered(ev) {
	return {
		id: ev.id, pubkey: ev.pubkey, created_at: ev.created_at, kind: ev.kind,
		tags: ev.tags, content: ev.content, sig: ev.sig,
	};
}

/** Canonical stored JSON of an event. */
export function canonicalJson(ev) {
	return JSON.stringify(ordered(ev));
}

/**
 * Sign an event template {created_at, kind, tags, content} with nostr-tools'
 * finalizeEvent (pubkey and id), re-sign deterministically, and check the
 * result with verifyEvent on a fresh object. Returns the ordered event.
 */
export function sign(tpl, sk) {
	const t = { created_at: tpl.created_at, kind: tpl.kind, tags: tpl.tags, content: tpl.content };
	const fin = finalizeEvent(t, sk);
	const ev = ordered(fin);
	ev.sig = signId(ev.id, sk);
	if (getEventHash(ev) !== ev.id || !verifyEvent(ordered(ev)))
		throw new Error('nostr-tools does not verify a generated event');
	// The id preimage is JSON.stringify's escaping, which the canonical form reuses.
	if (serializeEvent(ev) !== JSON.stringify([0, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content]))
		throw new Error('nostr-tools serializes differently from JSON.stringify');
	return ev;
}

/**
 * Sign without nostr-tools' validation, for invalid vectors whose only defect
 * is a field nostr-tools would happily hash (kind 65536, created_at -1, ...):
 * the id and signature are right, so only a strict parser rejects them.
 */
export function signLoose(tpl, sk) {
	const pubkey = getPublicKey(sk);
	const ser = JSON.stringify([0, pubkey, tpl.created_at, tpl.kind, tpl.tags, tpl.content]);
	const id = bytesToHex(sha256(utf8.encode(ser)));
	return { id, pubkey, created_at: tpl.created_at, kind: tpl.kind, tags: tpl.tags,
		content: tpl.content, sig: signId(id, sk) };
}

/** mulberry32: a small deterministic PRNG returning floats in [0, 1). */
export function prng(seed) {
	let a = seed >>> 0;
	return function () {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Deterministic 32-byte hex value from a label (for tag values that need no key). */
export function fakeHex32(label) {
	return bytesToHex(sha256(utf8.encode(label)));
}

// ---- NIP-01 semantics used to compute expectations ------------------------

export const isReplaceable = (k) => k === 0 || k === 3 || (k >= 10000 && k < 20000);
export const isEphemeral = (k) => k >= 20000 && k < 30000;
export const isAddressable = (k) => k >= 30000 && k < 40000;

export function dTag(ev) {
	const t = ev.tags.find((x) => x[0] === 'd' && x.length >= 1);
	return t && t.length > 1 ? t[1] : '';
}

/** "kind:pubkey:d" for replaceable and addressable events, else null. */
export function addressOf(ev) {
	if (isReplaceable(ev.kind)) return `${ev.kind}:${ev.pubkey}:`;
	if (isAddressable(ev.kind)) return `${ev.kind}:${ev.pubkey}:${dTag(ev)}`;
	return null;
}

/** NIP-01 order: newest first, equal created_at by lowest id. */
export function newestFirst(a, b) {
	if (a.created_at !== b.created_at) return b.created_at - a.created_at;
	return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** NIP-01 filter match (ids, authors, kinds, #x, since, until; limit is not applied here). */
export function matches(f, ev) {
	if (f.ids && !f.ids.includes(ev.id)) return false;
	if (f.authors && !f.authors.includes(ev.pubkey)) return false;
	if (f.kinds && !f.kinds.includes(ev.kind)) return false;
	if (f.since !== undefined && ev.created_at < f.since) return false;
	if (f.until !== undefined && ev.created_at > f.until) return false;
	for (const key of Object.keys(f)) {
		if (key.length !== 2 || key[0] !== '#') continue;
		const name = key[1];
		const want = f[key];
		if (!ev.tags.some((t) => t[0] === name && t.length > 1 && want.includes(t[1]))) return false;
	}
	return true;
}
