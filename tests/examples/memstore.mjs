// examples/memstore.c: events live in the in-memory backend. Publish +
// REQ work, the NIP-01 replaceable rule holds (it comes with the backend),
// the overwrite-deletion-outcome hook reaches the backend (a kind-5 removes
// a note but not the profile the example keeps), and, checked after the
// relay stopped, no LMDB store was ever opened: the
// relay ran in DIR with the default store.dir (./tern-db), and neither
// that directory nor any LMDB file exists there.
//
//     node tests/examples/memstore.mjs URL          while the relay runs
//     node tests/examples/memstore.mjs --after DIR  after it stopped

import fs from 'node:fs';
import path from 'node:path';
import { assert, Client, assertOk, keys, mkEvent, now, run } from './common.mjs';

if (process.argv[2] === '--after') {
	const dir = process.argv[3];
	await run('memstore', [
		['no LMDB store was opened (no ./tern-db, no data.mdb)', async () => {
			assert.ok(fs.existsSync(dir), `${dir} exists`);
			assert.equal(fs.existsSync(path.join(dir, 'tern-db')), false);
			const mdb = fs.readdirSync(dir, { recursive: true })
				.filter((f) => String(f).endsWith('.mdb'));
			assert.deepEqual(mdb, []);
		}],
	]);
	process.exit(0);
}

const url = process.argv[2];
const k = keys();
let c, note, profile;

await run('memstore', [
	['connects', async () => {
		c = await Client.open(url);
	}],
	['publish: OK true', async () => {
		note = mkEvent(k.sk, { content: 'kept in memory' });
		assertOk(await c.publish(note));
	}],
	['REQ returns the event', async () => {
		assert.deepEqual(await c.req('n', { ids: [note.id] }), [note]);
	}],
	['a replaceable event replaces its older version', async () => {
		const t = now();
		const old = mkEvent(k.sk, { kind: 0, content: '{"name":"old"}', created_at: t - 10 });
		const cur = mkEvent(k.sk, { kind: 0, content: '{"name":"new"}', created_at: t });
		assertOk(await c.publish(old), 'older kind 0');
		assertOk(await c.publish(cur), 'newer kind 0');
		assert.deepEqual(await c.req('p', { kinds: [0], authors: [k.pk] }), [cur]);
		profile = cur;
	}],
	['a deletion removes the note, the hook keeps the profile', async () => {
		const del = mkEvent(k.sk, { kind: 5, tags: [['e', note.id], ['e', profile.id]] });
		assertOk(await c.publish(del), 'kind 5');
		assert.deepEqual(await c.req('d', { ids: [note.id, profile.id] }), [profile]);
		assert.deepEqual(await c.req('k', { kinds: [5], authors: [k.pk] }), [del]);
	}],
	['disconnects', async () => {
		c.close();
	}],
]);
