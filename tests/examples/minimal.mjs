// examples/minimal.c: an event published over the WebSocket comes back
// from a REQ and reaches a live subscription; NIP-11 names the relay.
//
//     node tests/examples/minimal.mjs URL

import { assert, Client, assertOk, keys, mkEvent, run } from './common.mjs';

const url = process.argv[2];
const k = keys();
let pub, sub, ev;

await run('minimal', [
	['connects', async () => {
		pub = await Client.open(url);
		sub = await Client.open(url);
	}],
	['live subscription opens with EOSE', async () => {
		sub.send(['REQ', 'live', { authors: [k.pk] }]);
		const r = await sub.collect('live');
		assert.equal(r.end[0], 'EOSE');
		assert.equal(r.events.length, 0);
	}],
	['publish: OK true', async () => {
		ev = mkEvent(k.sk, { content: 'hello from the minimal example' });
		assertOk(await pub.publish(ev));
	}],
	['the live subscriber gets the event', async () => {
		const m = await sub.waitFor((x) => x[0] === 'EVENT' && x[1] === 'live', 5000, 'the live event');
		assert.deepEqual(m[2], ev);
	}],
	['REQ returns the stored event', async () => {
		const got = await pub.req('stored', { ids: [ev.id] });
		assert.deepEqual(got, [ev]);
	}],
	['NIP-11 names the relay "minimal"', async () => {
		const httpUrl = url.replace(/^ws/, 'http');
		const res = await fetch(httpUrl, { headers: { Accept: 'application/nostr+json' } });
		assert.equal(res.status, 200);
		assert.equal((await res.json()).name, 'minimal');
	}],
	['disconnects', async () => {
		pub.close();
		sub.close();
	}],
]);
