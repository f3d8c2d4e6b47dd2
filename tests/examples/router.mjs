// examples/router.c: chat messages (kinds 9, 42) go to an in-memory
// sub-relay with its own rule, other events to a sub-relay over an LMDB
// store. Over the wire: the chat relay's rule applies to chat messages
// only; a chat filter is answered by the chat relay, other filters by the
// other relay; a live subscription hears only the relay its filter went
// to. After the relay stopped, `tern scan` shows that the LMDB sub-relay
// holds the other events only, and that the router's own store is empty.
//
//     node tests/examples/router.mjs URL STATEFILE            while it runs
//     node tests/examples/router.mjs --after DBDIR STATEFILE  after it stopped

import fs from 'node:fs';

import { assert, Client, assertOk, assertRefused, keys, mkEvent, reqEnd, run, scanStore } from './common.mjs';

if (process.argv[2] === '--after') {
	const [dir, state] = process.argv.slice(3);
	const { empty, note, reaction } = JSON.parse(fs.readFileSync(state, 'utf8'));
	await run('router', [
		['DBDIR/rest holds the notes and the reaction, no chat message', async () => {
			assert.deepEqual(scanStore(`${dir}/rest`).map((e) => e.id).sort(), [empty.id, note.id, reaction.id].sort());
		}],
		['the router\'s own store (DBDIR/router) holds nothing', async () => {
			assert.deepEqual(scanStore(`${dir}/router`), []);
		}],
	]);
}

const [url, state] = process.argv.slice(2);
const k = keys();
let c, live, empty, chat, note, reaction;

await run('router', [
	['connects; live subscriptions to the chat relay and to the other one', async () => {
		c = await Client.open(url);
		live = await Client.open(url);
		assert.equal((await reqEnd(live, 'chat', { kinds: [9], authors: [k.pk] })).end[0], 'EOSE');
		// kinds 1 and 9 together are not chat-only: the other relay's
		assert.equal((await reqEnd(live, 'rest', { kinds: [1, 7, 9], authors: [k.pk] })).end[0], 'EOSE');
	}],
	['the chat relay\'s own rule refuses an empty chat message, not an empty note', async () => {
		assertRefused(await c.publish(mkEvent(k.sk, { kind: 9, content: '' })), 'blocked: chat messages are 1 to 280 bytes');
		empty = mkEvent(k.sk, { kind: 1, content: '' });
		assertOk(await c.publish(empty), 'empty note');
	}],
	['a chat message, a note and a reaction are accepted', async () => {
		chat = mkEvent(k.sk, { kind: 9, content: 'hello, chat' });
		note = mkEvent(k.sk, { kind: 1, content: 'a note for the LMDB relay' });
		reaction = mkEvent(k.sk, { kind: 7, content: '+', tags: [['e', note.id], ['p', k.pk]] });
		assertOk(await c.publish(chat), 'chat message');
		assertOk(await c.publish(note), 'note');
		assertOk(await c.publish(reaction), 'reaction');
		fs.writeFileSync(state, JSON.stringify({ empty, note, reaction }));
	}],
	['each live subscription heard its own relay only', async () => {
		const m = await live.waitFor((x) => x[0] === 'EVENT' && x[1] === 'chat', 5000, 'the chat message');
		assert.equal(m[2].id, chat.id);
		const ids = [];
		for (let i = 0; i < 3; i++)
			ids.push((await live.waitFor((x) => x[0] === 'EVENT' && x[1] === 'rest', 5000, 'events of the other relay'))[2]);
		assert.ok(!ids.some((e) => e.kind === 9), 'a chat message reached the other relay\'s subscription');
		await live.quiet(300);
	}],
	['{"kinds":[9]} is answered by the chat relay', async () => {
		assert.deepEqual(await c.req('n', { kinds: [9], authors: [k.pk] }), [chat]);
	}],
	['other filters are answered by the other relay, which has no chat message', async () => {
		assert.deepEqual(await c.req('r', { kinds: [7], authors: [k.pk] }), [reaction]);
		assert.deepEqual(await c.req('i', { ids: [chat.id, note.id] }), [note]);
		const all = await c.req('a', { authors: [k.pk] });
		assert.ok(all.some((e) => e.id === note.id) && !all.some((e) => e.kind === 9));
	}],
	['COUNT routes the same way', async () => {
		assert.deepEqual((await c.count('c1', { kinds: [9], authors: [k.pk] }))[2], { count: 1 });
		assert.deepEqual((await c.count('c2', { kinds: [9], authors: [k.pk] }, { kinds: [7], authors: [k.pk] }))[2], { count: 2 });
	}],
	['disconnects', async () => {
		c.close();
		live.close();
	}],
]);
