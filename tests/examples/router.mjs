// examples/router.c: kind-1 notes go to one store, other events to
// another. Over the wire: a {"kinds":[1]} filter is answered by the notes
// store, other filters by the other store, and live subscriptions see
// everything. After the relay stopped, `tern scan` of each store's
// directory shows that each event landed in its route's store only.
//
//     node tests/examples/router.mjs URL STATEFILE            while it runs
//     node tests/examples/router.mjs --after DBDIR STATEFILE  after it stopped

import fs from 'node:fs';

import { assert, Client, assertOk, keys, mkEvent, run, scanStore } from './common.mjs';

if (process.argv[2] === '--after') {
	const [dir, state] = process.argv.slice(3);
	const { note, reaction } = JSON.parse(fs.readFileSync(state, 'utf8'));
	await run('router', [
		['DBDIR/notes holds the note only', async () => {
			assert.deepEqual(scanStore(`${dir}/notes`), [note]);
		}],
		['DBDIR/other holds the reaction only', async () => {
			assert.deepEqual(scanStore(`${dir}/other`), [reaction]);
		}],
	]);
}

const [url, state] = process.argv.slice(2);
const k = keys();
let c, live, note, reaction;

await run('router', [
	['connects; a live subscription for kinds 1 and 7 opens', async () => {
		c = await Client.open(url);
		live = await Client.open(url);
		live.send(['REQ', 'live', { kinds: [1, 7], authors: [k.pk] }]);
		assert.equal((await live.collect('live')).end[0], 'EOSE');
	}],
	['a note (kind 1) and a reaction (kind 7) are accepted', async () => {
		note = mkEvent(k.sk, { kind: 1, content: 'routed to the notes store' });
		reaction = mkEvent(k.sk, { kind: 7, content: '+', tags: [['e', note.id], ['p', k.pk]] });
		assertOk(await c.publish(note), 'note');
		assertOk(await c.publish(reaction), 'reaction');
		fs.writeFileSync(state, JSON.stringify({ note, reaction }));
	}],
	['the live subscription saw both, whatever their route', async () => {
		const ids = [];
		for (let i = 0; i < 2; i++)
			ids.push((await live.waitFor((m) => m[0] === 'EVENT' && m[1] === 'live', 5000, 'live events'))[2].id);
		assert.deepEqual(ids.sort(), [note.id, reaction.id].sort());
	}],
	['{"kinds":[1]} is answered by the notes store', async () => {
		assert.deepEqual(await c.req('n', { kinds: [1], authors: [k.pk] }), [note]);
	}],
	['{"kinds":[7]} is answered by the other store', async () => {
		assert.deepEqual(await c.req('r', { kinds: [7], authors: [k.pk] }), [reaction]);
	}],
	['a filter without kinds goes to the other store: the note is not there', async () => {
		assert.deepEqual(await c.req('i', { ids: [note.id, reaction.id] }), [reaction]);
	}],
	['disconnects', async () => {
		c.close();
		live.close();
	}],
]);
