// Generates tern's event test vectors with nostr-tools, an independent Nostr
// implementation. Deterministic: fixed keys, fixed created_at, fixed BIP-340
// aux randomness, so a second run rewrites byte-identical files.
//
//   node gen-vectors.mjs      writes vectors.json, events-sample.jsonl,
//                             events-sample.expect.json next to this script
//
// vectors.json:
//   {"valid":[{"name","input","json","id","pubkey"}],
//    "invalid":[{"name","input","expect":"parse"|"id"|"sig"}]}
// `json` is the canonical stored form (keys id,pubkey,created_at,kind,tags,
// content,sig; JSON.stringify escaping, which is NIP-01's). `input` is a raw
// text a client may send that must parse to exactly `json`. For invalid
// vectors, `expect` names the first check that must reject the input: the
// strict parser ("parse"), the id check ("id"), or the signature ("sig").
// Invalid UTF-8 cannot be written in a JS string, so it has no vector here.

import { writeFileSync } from 'node:fs';
import { schnorr } from '@noble/curves/secp256k1.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
	sign, signLoose, signId, secretKey, getPublicKey, canonicalJson, ordered, prng,
	fakeHex32, getEventHash, verifyEvent, isReplaceable, isEphemeral, isAddressable,
	addressOf, dTag, newestFirst, matches,
} from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const T0 = 1700000000;
const KEYS = Array.from({ length: 4 }, (_, i) => secretKey(`tern-vectors/key/${i}`));
const PUBS = KEYS.map((k) => getPublicKey(k));

// ---- raw JSON writer for `input` texts --------------------------------------
// Options: order (key list), ws (whitespace between tokens), ascii (non-ASCII
// as \uXXXX, astral characters as surrogate pairs), upper (upper-case hex in
// \u escapes), slash ("/" as "\/"), ctrlU (every control as \u00XX), all
// (every character as \uXXXX), extra (list of [name, raw JSON] fields to add;
// a number index puts it before that key).

const WS = [' ', '\n', '\t', '\r\n', '  \n\t ', ''];

function u4(unit, o) {
	const h = unit.toString(16).padStart(4, '0');
	return '\\u' + (o.upper ? h.toUpperCase() : h);
}

function encStr(s, o) {
	let out = '"';
	for (const ch of s) {
		const cp = ch.codePointAt(0);
		if (o.all) {
			for (let i = 0; i < ch.length; i++) out += u4(ch.charCodeAt(i), o);
		} else if (ch === '"') {
			out += '\\"';
		} else if (ch === '\\') {
			out += '\\\\';
		} else if (ch === '/' && o.slash) {
			out += '\\/';
		} else if (cp < 0x20) {
			out += o.ctrlU ? u4(cp, o) : JSON.stringify(ch).slice(1, -1);
		} else if (cp >= 0x7f && o.ascii) {
			for (let i = 0; i < ch.length; i++) out += u4(ch.charCodeAt(i), o);
		} else {
			out += ch;
		}
	}
	return out + '"';
}

function makeWs(o) {
	let i = 0;
	return () => (o.ws ? WS[i++ % WS.length] : '');
}

function encVal(v, o, w) {
	if (typeof v === 'string') return encStr(v, o);
	if (typeof v === 'number') return String(v);
	if (Array.isArray(v)) {
		if (v.length === 0) return '[' + w() + ']';
		return '[' + w() + v.map((x) => encVal(x, o, w)).join(w() + ',' + w()) + w() + ']';
	}
	throw new Error('unexpected value');
}

const KEY_ORDER = ['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig'];

function encodeInput(ev, o = {}) {
	const w = makeWs(o);
	const keys = o.order || KEY_ORDER;
	const members = keys.map((k) => encStr(k, o) + w() + ':' + w() + encVal(ev[k], o, w));
	for (const [name, raw, at] of o.extra || [])
		members.splice(at === undefined ? members.length : at, 0, encStr(name, o) + w() + ':' + w() + raw);
	return w() + '{' + w() + members.join(w() + ',' + w()) + w() + '}' + w();
}

// ---- valid vectors ------------------------------------------------------------

const valid = [];
const signed = {};

function addValid(name, tpl, key, variants = [['', {}]]) {
	const ev = sign(tpl, KEYS[key]);
	signed[name] = ev;
	const json = canonicalJson(ev);
	for (const [suffix, o] of variants) {
		const input = suffix === '' && Object.keys(o).length === 0 ? json : encodeInput(ev, o);
		// The input must be valid JSON carrying the same event.
		const back = JSON.parse(input);
		if (canonicalJson(back) !== json)
			throw new Error(`input of ${name}${suffix} does not round-trip`);
		valid.push({ name: name + suffix, input, json, id: ev.id, pubkey: ev.pubkey });
	}
	return ev;
}

const REORDER = ['sig', 'content', 'tags', 'kind', 'created_at', 'pubkey', 'id'];
const SEEN_ON = ['seen_on', '[1,2]'];

addValid('ascii_plain', { created_at: T0, kind: 1, tags: [], content: 'hello nostr' }, 0, [
	['', {}],
	['_reordered', { order: REORDER }],
	['_whitespace', { ws: true }],
	['_extra_field', { extra: [[...SEEN_ON, 0]] }],
	['_extra_field_last', { extra: [SEEN_ON] }],
	['_extra_nested_field', { extra: [['x_meta', '{"a":[true,false,null,-1.5e-3,"s\\"\\\\",{}],"b":{"c":[]}}', 3]] }],
	['_all_escaped', { all: true, upper: true }],
	['_everything', { order: ['kind', 'tags', 'id', 'content', 'sig', 'created_at', 'pubkey'], ws: true,
		all: true, extra: [[...SEEN_ON, 2], ['relays', '[ "wss://r.example/" ]']] }],
]);
addValid('unicode_accents_cjk', {
	created_at: T0 + 1, kind: 1, tags: [['t', 'café'], ['subject', '日本語']],
	content: 'Café naïve résumé Ærøskøbing — 日本語のテキスト 中文 한국어 Ελληνικά Русский',
}, 1, [['', {}], ['_escaped', { ascii: true }], ['_escaped_upper', { ascii: true, upper: true }]]);
addValid('emoji', {
	created_at: T0 + 2, kind: 1, tags: [['emoji', '🤙'], ['t', '💜']],
	content: 'gm 🌅🤙 nostr 💜 flag 🏳️‍🌈 family 👨‍👩‍👧 math 𝔸 ancient 𐍈',
}, 2, [['', {}], ['_escaped_surrogates', { ascii: true }], ['_escaped_surrogates_upper', { ascii: true, upper: true, ws: true }]]);
addValid('nul_only', { created_at: T0 + 3, kind: 1, tags: [['t', '\u0000']], content: '\u0000' }, 0,
	[['', {}], ['_whitespace', { ws: true }]]);
addValid('nul_inside', { created_at: T0 + 4, kind: 1, tags: [], content: 'before\u0000after\u0000' }, 0);
let allCtrl = '';
for (let c = 0; c < 0x20; c++) allCtrl += String.fromCharCode(c);
addValid('control_all', { created_at: T0 + 5, kind: 1, tags: [['c', allCtrl]], content: allCtrl + 'end' }, 1,
	[['', {}], ['_as_u_escapes', { ctrlU: true }], ['_as_upper_u_escapes', { ctrlU: true, upper: true }]]);
for (const [c, nm] of [[8, 'backspace'], [9, 'tab'], [10, 'newline'], [12, 'formfeed'], [13, 'cr'], [0x1f, 'unit_sep']])
	addValid(`control_${nm}`, { created_at: T0 + 6 + c, kind: 1, tags: [], content: `a${String.fromCharCode(c)}b` }, 2);
addValid('del_7f', { created_at: T0 + 40, kind: 1, tags: [['x', '\u007f']], content: 'del:\u007f.' }, 0,
	[['', {}], ['_escaped', { ascii: true }]]);
addValid('line_separators', { created_at: T0 + 41, kind: 1, tags: [], content: 'a\u2028b\u2029c' }, 1,
	[['', {}], ['_escaped', { ascii: true }]]);
addValid('quotes_backslashes', {
	created_at: T0 + 42, kind: 1, tags: [['q', '"\\']],
	content: 'he said "hi" \\ C:\\path\\to\\ \\\\ \\" /slash/ </script> \\u0041 \'single\'',
}, 2, [['', {}], ['_slash_escaped', { slash: true }]]);

// 100 KB of mixed text, multi-byte characters included (exactly 102400 UTF-8 bytes).
{
	const r = prng(100);
	const words = ['nostr', 'relay', 'event', 'café', '日本', 'tern', '🤙', 'signature', 'lmdb', '\n', 'a "q"', 'x\\y'];
	let s = '';
	while (Buffer.byteLength(s) < 102400 - 16) s += words[Math.floor(r() * words.length)] + ' ';
	while (Buffer.byteLength(s) < 102400) s += '.';
	addValid('content_100k', { created_at: T0 + 43, kind: 1, tags: [], content: s }, 3);
}
{
	const tags = [];
	for (let i = 0; i < 2000; i++) {
		const m = i % 4;
		tags.push(m === 0 ? ['p', fakeHex32(`p${i}`)] : m === 1 ? ['e', fakeHex32(`e${i}`), 'wss://relay.example.com', 'reply']
			: m === 2 ? ['t', `tag${i}`] : ['x', `${i}`]);
	}
	addValid('tags_2000', { created_at: T0 + 44, kind: 1, tags, content: '2000 tags' }, 3,
		[['', {}], ['_whitespace', { ws: true, order: REORDER }]]);
}
addValid('empty_tags_empty_content', { created_at: T0 + 45, kind: 1, tags: [], content: '' }, 0,
	[['', {}], ['_whitespace', { ws: true }]]);
addValid('tags_with_empty_strings', {
	created_at: T0 + 46, kind: 1, tags: [['', ''], ['e', ''], [''], ['t', '', 'x']], content: 'empty strings',
}, 1);
addValid('tag_zero_length', { created_at: T0 + 47, kind: 1, tags: [[], ['t', 'x'], []], content: 'empty tag arrays' }, 1,
	[['', {}], ['_whitespace', { ws: true }]]);
addValid('kind_0_metadata', {
	created_at: T0 + 48, kind: 0, tags: [],
	content: JSON.stringify({ name: 'alice', about: 'line1\nline2 "quoted" é', picture: 'https://example.com/a.png' }),
}, 0, [['', {}], ['_slash_escaped', { slash: true, ascii: true }]]);
addValid('kind_3_follows', {
	created_at: T0 + 49, kind: 3,
	tags: [['p', PUBS[1], 'wss://relay.example.com/', 'bob'], ['p', PUBS[2]], ['p', PUBS[3], '']],
	content: '',
}, 0);
addValid('kind_10002_relays', {
	created_at: T0 + 50, kind: 10002,
	tags: [['r', 'wss://a.example.com'], ['r', 'wss://b.example.com/', 'read'], ['r', 'wss://c.example.com', 'write']],
	content: '',
}, 1);
const article = addValid('kind_30023_addressable', {
	created_at: T0 + 51, kind: 30023,
	tags: [['d', 'my-article'], ['title', 'A title'], ['published_at', `${T0}`], ['t', 'nostr']],
	content: '# Heading\n\nSome *markdown* text.\n\n- item 1\n- item 2\n',
}, 2);
addValid('kind_20001_ephemeral', { created_at: T0 + 52, kind: 20001, tags: [['t', 'live']], content: 'ephemeral' }, 3);
addValid('kind_5_deletion', {
	created_at: T0 + 53, kind: 5,
	tags: [['e', signed.ascii_plain.id], ['a', `30023:${article.pubkey}:my-article`], ['k', '1'], ['k', '30023']],
	content: 'posted by mistake',
}, 2);
addValid('kind_65535', { created_at: T0 + 54, kind: 65535, tags: [], content: 'largest kind' }, 3);
addValid('created_at_0', { created_at: 0, kind: 1, tags: [], content: 'epoch' }, 0);
addValid('created_at_2100', { created_at: 4102444800, kind: 1, tags: [], content: 'year 2100' }, 1);
addValid('created_at_max_safe_integer', { created_at: Number.MAX_SAFE_INTEGER, kind: 1, tags: [], content: '2^53-1' }, 2);
// Above 2^53 a JS number prints as its shortest round-trip form, which is not
// always the integer itself (2^63 prints as 9223372036854776000): keep only
// values that nostr-tools serializes exactly.
for (const [name, big] of [['created_at_2p53_plus_2', 2n ** 53n + 2n], ['created_at_2p63', 2n ** 63n]]) {
	if (String(Number(big)) === big.toString())
		addValid(name, { created_at: Number(big), kind: 1, tags: [], content: `created_at ${big}` }, 3);
}

// ---- invalid vectors ------------------------------------------------------------

const invalid = [];
function addInvalid(name, input, expect) {
	if (invalid.some((v) => v.name === name)) throw new Error('duplicate name ' + name);
	invalid.push({ name, input, expect });
}

const base = sign({ created_at: T0 + 100, kind: 1, tags: [['t', 'base']], content: 'invalid base' }, KEYS[0]);
const baseJson = canonicalJson(base);
const other = sign({ created_at: T0 + 101, kind: 1, tags: [], content: 'another event' }, KEYS[0]);

function flipHex(s, at) {
	const c = s[at];
	const n = c === '0' ? '1' : '0';
	return s.slice(0, at) + n + s.slice(at + 1);
}
function withField(ev, field, value) {
	const o = ordered(ev);
	o[field] = value;
	return canonicalJson(o);
}
// Replace the raw text of one member's value (after `"field":`) in a canonical JSON text.
function rawField(json, field, raw) {
	const o = JSON.parse(json);
	const keys = KEY_ORDER.filter((k) => k in o);
	return '{' + keys.map((k) => JSON.stringify(k) + ':' + (k === field ? raw : JSON.stringify(o[k]))).join(',') + '}';
}
function without(ev, field) {
	const o = ordered(ev);
	delete o[field];
	return JSON.stringify(o);
}

// Checks after a successful parse.
const firstLetter = base.id.search(/[a-f]/);
if (firstLetter < 0) throw new Error('base id has no letter');
addInvalid('id_one_digit_changed', withField(base, 'id', flipHex(base.id, 10)), 'id');
addInvalid('id_of_other_event', withField(base, 'id', other.id), 'id');
addInvalid('sig_one_digit_changed_s', withField(base, 'sig', flipHex(base.sig, 100)), 'sig');
addInvalid('sig_one_digit_changed_r', withField(base, 'sig', flipHex(base.sig, 5)), 'sig');
addInvalid('content_changed_after_signing', withField(base, 'content', 'invalid basE'), 'id');
addInvalid('tags_changed_after_signing', withField(base, 'tags', [['t', 'base'], ['t', 'more']]), 'id');
addInvalid('created_at_changed_after_signing', withField(base, 'created_at', base.created_at + 1), 'id');
addInvalid('kind_changed_after_signing', withField(base, 'kind', 2), 'id');
addInvalid('pubkey_of_other_key', withField(base, 'pubkey', PUBS[1]), 'id');
addInvalid('sig_from_other_key', withField(base, 'sig', signId(base.id, KEYS[1])), 'sig');
addInvalid('sig_of_other_event', withField(base, 'sig', other.sig), 'sig');
addInvalid('sig_all_zero', withField(base, 'sig', '0'.repeat(128)), 'sig');
// A pubkey that is well-formed hex but no curve point: the id is right, the key cannot be parsed.
{
	const mk = (pubkey) => {
		const o = { ...ordered(base), pubkey };
		o.id = getEventHash(o);
		o.sig = base.sig;
		return canonicalJson(o);
	};
	addInvalid('pubkey_above_field_size', mk('f'.repeat(64)), 'sig');
	// x = 5: 5^3 + 7 = 132 is not a square mod p, so no point has this x.
	let onCurve = true;
	try { schnorr.utils.lift_x(5n); } catch { onCurve = false; }
	if (onCurve) throw new Error('x = 5 is on the curve');
	addInvalid('pubkey_not_on_curve', mk('0'.repeat(63) + '5'), 'sig');
}
{
	const o = ordered(base);
	if (verifyEvent({ ...o, sig: signId(base.id, KEYS[1]) })) throw new Error('other-key sig verifies');
}

// Strict parsing: hex fields.
addInvalid('id_uppercase', withField(base, 'id', base.id.toUpperCase()), 'parse');
addInvalid('id_one_uppercase_digit', withField(base, 'id',
	base.id.slice(0, firstLetter) + base.id[firstLetter].toUpperCase() + base.id.slice(firstLetter + 1)), 'parse');
addInvalid('id_63_chars', withField(base, 'id', base.id.slice(0, 63)), 'parse');
addInvalid('id_65_chars', withField(base, 'id', base.id + '0'), 'parse');
addInvalid('id_empty', withField(base, 'id', ''), 'parse');
addInvalid('id_not_string', rawField(baseJson, 'id', '1'), 'parse');
addInvalid('pubkey_not_hex', withField(base, 'pubkey', 'z' + base.pubkey.slice(1)), 'parse');
addInvalid('pubkey_uppercase', withField(base, 'pubkey', base.pubkey.toUpperCase()), 'parse');
addInvalid('pubkey_63_chars', withField(base, 'pubkey', base.pubkey.slice(1)), 'parse');
addInvalid('sig_127_chars', withField(base, 'sig', base.sig.slice(0, 127)), 'parse');
addInvalid('sig_129_chars', withField(base, 'sig', base.sig + 'a'), 'parse');
addInvalid('sig_uppercase', withField(base, 'sig', base.sig.toUpperCase()), 'parse');
addInvalid('sig_not_hex', withField(base, 'sig', base.sig.slice(0, 127) + 'g'), 'parse');

// Strict parsing: kind and created_at. Where nostr-tools can hash the value,
// the event is signed as is, so only the range/type check can reject it.
const looseInput = (tpl) => canonicalJson(signLoose({ created_at: T0 + 200, kind: 1, tags: [], content: 'loose', ...tpl }, KEYS[0]));
addInvalid('kind_65536', looseInput({ kind: 65536 }), 'parse');
addInvalid('kind_negative', looseInput({ kind: -1 }), 'parse');
addInvalid('kind_float', looseInput({ kind: 1.5 }), 'parse');
addInvalid('kind_huge', looseInput({ kind: 4294967297 }), 'parse');
addInvalid('kind_string', rawField(baseJson, 'kind', '"1"'), 'parse');
addInvalid('kind_null', rawField(baseJson, 'kind', 'null'), 'parse');
addInvalid('kind_exponent', rawField(baseJson, 'kind', '1e0'), 'parse');
addInvalid('kind_fraction_zero', rawField(baseJson, 'kind', '1.0'), 'parse');
addInvalid('kind_leading_zero', rawField(baseJson, 'kind', '01'), 'parse');
addInvalid('kind_plus_sign', rawField(baseJson, 'kind', '+1'), 'parse');
addInvalid('created_at_negative', looseInput({ created_at: -1 }), 'parse');
addInvalid('created_at_float', looseInput({ created_at: T0 + 0.5 }), 'parse');
addInvalid('created_at_string', rawField(baseJson, 'created_at', `"${base.created_at}"`), 'parse');
addInvalid('created_at_exponent', rawField(baseJson, 'created_at', '1.7e9'), 'parse');
addInvalid('created_at_2p64', rawField(baseJson, 'created_at', '18446744073709551616'), 'parse');
addInvalid('created_at_huge', rawField(baseJson, 'created_at', '1' + '0'.repeat(30)), 'parse');
addInvalid('created_at_null', rawField(baseJson, 'created_at', 'null'), 'parse');

// Strict parsing: tags and content.
addInvalid('tags_not_array', rawField(baseJson, 'tags', '{}'), 'parse');
addInvalid('tags_string', rawField(baseJson, 'tags', '"t"'), 'parse');
addInvalid('tags_null', rawField(baseJson, 'tags', 'null'), 'parse');
addInvalid('tag_not_array', rawField(baseJson, 'tags', '["t","base"]'), 'parse');
addInvalid('tag_containing_number', rawField(baseJson, 'tags', '[["t",1]]'), 'parse');
addInvalid('tag_containing_null', rawField(baseJson, 'tags', '[["t",null]]'), 'parse');
addInvalid('tag_containing_bool', rawField(baseJson, 'tags', '[["t",true]]'), 'parse');
addInvalid('tag_containing_array', rawField(baseJson, 'tags', '[["t",["base"]]]'), 'parse');
addInvalid('tag_containing_object', rawField(baseJson, 'tags', '[["t",{}]]'), 'parse');
addInvalid('content_not_string', rawField(baseJson, 'content', '1'), 'parse');
addInvalid('content_null', rawField(baseJson, 'content', 'null'), 'parse');

// Strict parsing: fields present exactly once.
for (const f of KEY_ORDER) addInvalid(`missing_${f}`, without(base, f), 'parse');
addInvalid('duplicate_kind', baseJson.replace('"kind":1,', '"kind":1,"kind":1,'), 'parse');
addInvalid('duplicate_kind_different_value', baseJson.replace('"kind":1,', '"kind":1,"kind":2,'), 'parse');
addInvalid('duplicate_id', baseJson.replace(/}$/, `,"id":"${base.id}"}`), 'parse');
addInvalid('duplicate_content', baseJson.replace(/}$/, ',"content":"invalid base"}'), 'parse');
addInvalid('duplicate_id_escaped_key', baseJson.replace(/}$/, `,"\\u0069d":"${base.id}"}`), 'parse');

// Strict parsing: JSON syntax.
addInvalid('trailing_garbage', baseJson + 'x', 'parse');
addInvalid('trailing_second_object', baseJson + '{}', 'parse');
addInvalid('trailing_comma_in_object', baseJson.replace(/}$/, ',}'), 'parse');
addInvalid('trailing_comma_in_tags', rawField(baseJson, 'tags', '[["t","base"],]'), 'parse');
addInvalid('trailing_comma_in_tag', rawField(baseJson, 'tags', '[["t","base",]]'), 'parse');
addInvalid('missing_colon', baseJson.replace('"kind":1', '"kind" 1'), 'parse');
addInvalid('missing_comma', baseJson.replace('"kind":1,', '"kind":1 '), 'parse');
addInvalid('single_quotes', baseJson.replace('"kind"', "'kind'"), 'parse');
addInvalid('truncated', baseJson.slice(0, baseJson.length - 10), 'parse');
addInvalid('unterminated_string', baseJson.slice(0, baseJson.indexOf('invalid base') + 5), 'parse');
addInvalid('not_an_object_array', `[${baseJson}]`, 'parse');
addInvalid('not_an_object_null', 'null', 'parse');
addInvalid('not_an_object_string', JSON.stringify(baseJson), 'parse');
addInvalid('empty_input', '', 'parse');
addInvalid('whitespace_only', ' \n\t ', 'parse');
addInvalid('bad_escape_x', rawField(baseJson, 'content', '"invalid \\x41 base"'), 'parse');
addInvalid('bad_escape_single_quote', rawField(baseJson, 'content', '"invalid \\\' base"'), 'parse');
addInvalid('bad_unicode_escape', rawField(baseJson, 'content', '"invalid \\u12G4 base"'), 'parse');
addInvalid('short_unicode_escape', rawField(baseJson, 'content', '"invalid \\u12"'), 'parse');
addInvalid('raw_newline_in_string', rawField(baseJson, 'content', '"invalid\nbase"'), 'parse');
addInvalid('raw_tab_in_string', rawField(baseJson, 'content', '"invalid\tbase"'), 'parse');
addInvalid('raw_nul_in_string', rawField(baseJson, 'content', '"invalid\u0000base"'), 'parse');
// A lone surrogate escape decodes to no Unicode scalar value, so there is no
// UTF-8 for it and no canonical form: a strict parser rejects it.
addInvalid('lone_high_surrogate_escape', rawField(baseJson, 'content', '"invalid \\ud83d base"'), 'parse');
addInvalid('lone_low_surrogate_escape', rawField(baseJson, 'content', '"invalid \\udc00 base"'), 'parse');
addInvalid('reversed_surrogate_pair', rawField(baseJson, 'content', '"invalid \\udc99\\ud83d base"'), 'parse');
addInvalid('high_surrogate_then_bmp', rawField(baseJson, 'content', '"invalid \\ud83d\\u0041 base"'), 'parse');
addInvalid('bad_json_in_unknown_field', baseJson.replace(/}$/, ',"seen_on":[01]}'), 'parse');
addInvalid('bad_literal_in_unknown_field', baseJson.replace(/}$/, ',"seen_on":tru}'), 'parse');
addInvalid('unknown_field_unterminated', baseJson.replace(/}$/, ',"seen_on":[1,2}'), 'parse');

// Every "parse" input must indeed be rejected by JSON.parse or by a type/range
// check; every "id"/"sig" input must be well-formed but fail nostr-tools' verify.
for (const v of invalid) {
	if (v.expect === 'parse') continue;
	const ev = JSON.parse(v.input);
	if (verifyEvent(ev)) throw new Error(`invalid vector ${v.name} verifies`);
	const idOk = getEventHash(ev) === ev.id;
	if ((v.expect === 'id') === idOk) throw new Error(`invalid vector ${v.name}: id check disagrees`);
}
{
	const names = new Set();
	for (const v of valid) {
		if (names.has(v.name)) throw new Error('duplicate name ' + v.name);
		names.add(v.name);
		if (!verifyEvent(JSON.parse(v.json))) throw new Error(`valid vector ${v.name} does not verify`);
	}
}

writeFileSync(join(HERE, 'vectors.json'), JSON.stringify({ valid, invalid }, null, 1) + '\n');

// ---- events-sample.jsonl ----------------------------------------------------------
// ~300 events from 10 keys exercising the store rules, in a shuffled import
// order, plus facts computed here about what a correct store keeps.

// Reference time for "already expired": fixed so the output does not depend on the clock;
// the expiration values below are far from it on both sides.
const NOW = 1760000000;
const EXPIRED_AT = 1000000000;   // 2001: already expired when imported
const FUTURE_AT = 4102444800;    // 2100: not expired when the tests run
const SK = Array.from({ length: 10 }, (_, i) => secretKey(`tern-sample/key/${i}`));
const PK = SK.map((k) => getPublicKey(k));
const rnd = prng(2024);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const TOPICS = ['nostr', 'tern', 'relay', 'lmdb', 'bitcoin'];
const S0 = 1710000000;
const sample = [];
const add = (tpl, a) => { const e = sign(tpl, SK[a]); sample.push(e); return e; };

// Profiles (kind 0): three versions per author; author 0 has two newest versions with equal created_at.
for (let a = 0; a < 10; a++)
	for (let v = 0; v < 3; v++)
		add({ created_at: S0 + a * 10 + v * 1000, kind: 0, tags: [], content: JSON.stringify({ name: `user${a}`, v }) }, a);
add({ created_at: S0 + 2000, kind: 0, tags: [], content: JSON.stringify({ name: 'user0', v: '2b' }) }, 0);
// Follow lists (kind 3): two versions per author.
for (let a = 0; a < 10; a++)
	for (let v = 0; v < 2; v++)
		add({ created_at: S0 + 100 + a + v * 1000, kind: 3,
			tags: PK.filter((_, j) => j !== a && (j + v) % 3 !== 0).map((p) => ['p', p]), content: '' }, a);
// Relay lists (kind 10002): one or two versions for four authors.
for (let a = 0; a < 4; a++)
	for (let v = 0; v <= (a & 1); v++)
		add({ created_at: S0 + 200 + a + v * 500, kind: 10002, tags: [['r', `wss://relay${a}${v}.example.com`]], content: '' }, a);
// Notes (kind 1).
const notes = [];
for (let i = 0; i < 180; i++) {
	const a = i % 10;
	const tags = [];
	if (notes.length && rnd() < 0.4) {
		const t = pick(notes);
		tags.push(['e', t.id, '', 'reply'], ['p', t.pubkey]);
	}
	if (rnd() < 0.3) tags.push(['p', pick(PK)]);
	if (rnd() < 0.5) tags.push(['t', pick(TOPICS)]);
	// Several notes share a created_at (every 7th pairs with the previous one).
	const ts = S0 + 5000 + (i % 7 === 6 ? i - 1 : i) * 60;
	notes.push(add({ created_at: ts, kind: 1, tags, content: `note ${i} from user${a}` }, a));
}
// The three newest notes share one created_at, so limit cuts through a tie.
for (let i = 0; i < 3; i++)
	notes.push(add({ created_at: S0 + 20000, kind: 1, tags: [['t', 'nostr']], content: `tie ${i}` }, i + 3));
// Reactions (kind 7).
const reactions = [];
for (let i = 0; i < 40; i++) {
	const t = notes[(i * 17) % 180];
	reactions.push(add({ created_at: S0 + 16000 + i * 30, kind: 7, tags: [['e', t.id], ['p', t.pubkey], ['k', '1']],
		content: i % 3 ? '+' : '🤙' }, (i * 3) % 10));
}
// Addressable long-form (30023): authors 0-2, d-tags alpha/beta/gamma, several versions.
const arts = {};
for (let a = 0; a < 3; a++)
	for (const d of ['alpha', 'beta', 'gamma'])
		for (let v = 0; v < 3; v++)
			(arts[`${a}:${d}`] ||= []).push(add({ created_at: S0 + 3000 + a * 10 + v * 100, kind: 30023,
				tags: [['d', d], ['title', `${d} v${v}`], ['t', 'nostr']], content: `article ${d} v${v} by user${a}` }, a));
// A tie between two newest versions of 2:gamma.
arts['2:gamma'].push(add({ created_at: S0 + 3000 + 20 + 200, kind: 30023, tags: [['d', 'gamma'], ['title', 'gamma v2b']],
	content: 'article gamma v2b by user2' }, 2));
// An addressable event without a d tag (address d = "").
add({ created_at: S0 + 3500, kind: 30023, tags: [['title', 'no d tag']], content: 'no d' }, 4);
add({ created_at: S0 + 3600, kind: 30023, tags: [['title', 'no d tag, newer']], content: 'no d, newer' }, 4);
// One ephemeral event: never stored.
add({ created_at: S0 + 21000, kind: 20001, tags: [['t', 'nostr']], content: 'ephemeral' }, 5);
// Expiration (NIP-40).
add({ created_at: S0 + 21001, kind: 1, tags: [['expiration', `${EXPIRED_AT}`], ['t', 'nostr']], content: 'already expired' }, 6);
add({ created_at: S0 + 21002, kind: 1, tags: [['expiration', `${EXPIRED_AT + 5}`]], content: 'already expired too' }, 7);
add({ created_at: S0 + 21003, kind: 1, tags: [['expiration', `${FUTURE_AT}`], ['t', 'nostr']], content: 'expires in 2100' }, 6);
// Protected event (NIP-70 "-" tag).
const prot = add({ created_at: S0 + 21004, kind: 1, tags: [['-']], content: 'protected' }, 8);
// Deletions (kind 5).
const delOwn = add({ created_at: S0 + 22000, kind: 5, tags: [['e', notes[0].id], ['e', notes[10].id], ['e', notes[20].id], ['k', '1']],
	content: 'own notes' }, 0);
const delForeign = add({ created_at: S0 + 22001, kind: 5, tags: [['e', notes[1].id], ['e', notes[2].id]], content: 'not mine' }, 0);
const delReaction = add({ created_at: S0 + 22002, kind: 5, tags: [['e', reactions[1].id]], content: 'unlike' }, PK.indexOf(reactions[1].pubkey));
const delAddr = add({ created_at: S0 + 3000 + 1 * 10 + 150, kind: 5, tags: [['a', `30023:${PK[1]}:alpha`]], content: 'alpha up to v1' }, 1);
const delAddrAll = add({ created_at: S0 + 22003, kind: 5, tags: [['a', `30023:${PK[1]}:beta`]], content: 'all of beta' }, 1);
const delAddrForeign = add({ created_at: S0 + 22004, kind: 5, tags: [['a', `30023:${PK[0]}:alpha`]], content: 'not mine' }, 1);
const delDel = add({ created_at: S0 + 22005, kind: 5, tags: [['e', delOwn.id]], content: 'a deletion of a deletion' }, 0);
const delNoD = add({ created_at: S0 + 3550, kind: 5, tags: [['a', `30023:${PK[4]}:`]], content: 'no-d address' }, 4);
// A deletion that arrives before its target (the target must not be stored afterwards).
const lateTarget = sign({ created_at: S0 + 22100, kind: 1, tags: [], content: 'deleted before it arrived' }, SK[9]);
const delEarly = add({ created_at: S0 + 22101, kind: 5, tags: [['e', lateTarget.id]], content: 'tombstone' }, 9);
sample.push(lateTarget);
void delForeign; void delAddr; void delAddrAll; void delAddrForeign; void delDel; void delNoD; void delReaction;

// Shuffle into an import order, then pin the order-sensitive cases.
for (let i = sample.length - 1; i > 0; i--) {
	const j = Math.floor(rnd() * (i + 1));
	[sample[i], sample[j]] = [sample[j], sample[i]];
}
function moveBefore(first, second) {
	const a = sample.indexOf(first), b = sample.indexOf(second);
	if (a > b) { sample.splice(a, 1); sample.splice(b, 0, first); }
}
moveBefore(delEarly, lateTarget);
// The newest profile of user 1 arrives before its older versions.
{
	const p1 = sample.filter((e) => e.kind === 0 && e.pubkey === PK[1]).sort(newestFirst);
	moveBefore(p1[0], p1[1]);
	moveBefore(p1[0], p1[2]);
}
// Two exact duplicate lines.
const lines = sample.map(canonicalJson);
lines.splice(50, 0, lines[10]);
lines.push(lines[100]);
writeFileSync(join(HERE, 'events-sample.jsonl'), lines.join('\n') + '\n');

// ---- expected store state (NIP-01, NIP-09, NIP-40), order-independent ----------
const byId = new Map();
for (const l of lines) { const e = JSON.parse(l); byId.set(e.id, e); }
const distinct = [...byId.values()];
const expTag = (e) => { const t = e.tags.find((x) => x[0] === 'expiration' && x.length > 1); return t ? Number(t[1]) : null; };
const delE = new Set();            // `${pubkey}:${id}` deleted by their own author
const delA = new Map();            // address -> newest deletion created_at by the address owner
for (const e of distinct) {
	if (e.kind !== 5) continue;
	for (const t of e.tags) {
		if (t[0] === 'e' && t.length > 1) delE.add(`${e.pubkey}:${t[1]}`);
		if (t[0] === 'a' && t.length > 1) {
			const parts = t[1].split(':');
			if (parts.length < 3 || parts[1] !== e.pubkey) continue;
			const addr = `${parts[0]}:${parts[1]}:${parts.slice(2).join(':')}`;
			delA.set(addr, Math.max(delA.get(addr) ?? -1, e.created_at));
		}
	}
}
const reasons = { ephemeral: 0, expired: 0, deleted: 0, replaced: 0 };
let kept = [];
for (const e of distinct) {
	if (isEphemeral(e.kind)) { reasons.ephemeral++; continue; }
	const x = expTag(e);
	if (x !== null && x <= NOW) { reasons.expired++; continue; }
	if (e.kind !== 5) {
		const addr = addressOf(e);
		if (delE.has(`${e.pubkey}:${e.id}`) || (addr && delA.has(addr) && e.created_at <= delA.get(addr))) {
			reasons.deleted++;
			continue;
		}
	}
	kept.push(e);
}
// Order independence needs: no e-deletion aims at a replaceable/addressable event.
for (const e of distinct)
	if (addressOf(e) && delE.has(`${e.pubkey}:${e.id}`)) throw new Error('sample deletes a replaceable by id');
const best = new Map();
for (const e of kept) {
	const addr = addressOf(e);
	if (!addr) continue;
	const cur = best.get(addr);
	if (!cur || newestFirst(e, cur) < 0) best.set(addr, e);
}
kept = kept.filter((e) => {
	const addr = addressOf(e);
	if (addr && best.get(addr) !== e) { reasons.replaced++; return false; }
	return true;
});
kept.sort(newestFirst);

const keptIds = new Set(kept.map((e) => e.id));
const mustDiffer = [[notes[0], false], [notes[1], true], [notes[2], true], [delOwn, true], [lateTarget, false],
	[reactions[1], false], [prot, true]];
for (const [e, want] of mustDiffer)
	if (keptIds.has(e.id) !== want) throw new Error(`sample expectation broken for ${e.content}`);

const count = (f) => kept.filter((e) => matches(f, e)).length;
const FILTERS = [
	{}, { kinds: [1] }, { kinds: [0] }, { kinds: [3] }, { kinds: [10002] }, { kinds: [7] }, { kinds: [5] },
	{ kinds: [30023] }, { kinds: [20001] }, { kinds: [0, 3] }, { authors: [PK[0]] }, { authors: [PK[3], PK[4]] },
	{ kinds: [1], authors: [PK[2]] }, { '#t': ['nostr'] }, { '#t': ['nostr', 'tern'] }, { kinds: [1], '#t': ['relay'] },
	{ '#p': [PK[1]] }, { '#e': [notes[5].id] }, { '#d': ['alpha'] }, { kinds: [30023], '#d': ['gamma'] },
	{ since: S0 + 5000, until: S0 + 8000 }, { kinds: [1], since: S0 + 10000 },
	{ ids: [notes[3].id, notes[0].id, lateTarget.id] }, { authors: [PK[9]], kinds: [5] },
];
const SCANS = [{ kinds: [1], limit: 5 }, { '#t': ['nostr'], limit: 4 }, { kinds: [30023], authors: [PK[2]] },
	{ kinds: [0] }, { authors: [PK[0]], limit: 10 }];
const scan = (f) => kept.filter((e) => matches(f, e)).slice(0, f.limit ?? Infinity).map((e) => e.id);

const expect = {
	lines: lines.length,
	distinct: distinct.length,
	stored: kept.length,
	not_stored: reasons,
	pubkeys: PK,
	protected_event: prot.id,
	notes: [
		'stored = events left after importing every line, in any order, under NIP-01 (replaceable and',
		'addressable keep the newest; equal created_at: lowest id), NIP-09 (a deletion removes only its',
		'author\'s events: e by id, a up to the deletion\'s created_at; deletions are never deleted; a',
		'deleted id cannot come back), NIP-40 (already expired events are not stored), ephemeral kinds',
		'never stored. The NIP-70 protected event is counted as stored: an offline import does not apply',
		'relay authentication policy. stored_ids are in NIP-01 order (newest first, ties lowest id).',
		'filters give counts (no limit); scans give the ids a query returns, in order, limit applied.',
	],
	stored_ids: kept.map((e) => e.id),
	filters: FILTERS.map((f) => ({ filter: f, count: count(f) })),
	scans: SCANS.map((f) => ({ filter: f, ids: scan(f) })),
};
writeFileSync(join(HERE, 'events-sample.expect.json'), JSON.stringify(expect, null, 1) + '\n');
console.log(`vectors.json: ${valid.length} valid, ${invalid.length} invalid; events-sample.jsonl: ${lines.length} lines, ${kept.length} stored`);
