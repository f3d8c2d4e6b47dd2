// examples/private.c: NIP-42 AUTH required, then only the listed pubkeys
// may write and read.
//
//     node tests/examples/private.mjs URL MEMBER_SECRET_HEX
//
// (the relay was started with the member's pubkey on its command line)

import { assert, Client, assertOk, assertRefused, keys, mkEvent, reqEnd, run, sleep } from './common.mjs';

const url = process.argv[2];
const member = { sk: Uint8Array.from(Buffer.from(process.argv[3], 'hex')) };
const outsider = keys();
let anon, mem, out, note;

await run('private', [
	['connects', async () => {
		anon = await Client.open(url);
		mem = await Client.open(url);
		out = await Client.open(url);
	}],
	['not authed: EVENT refused with auth-required and a new AUTH challenge', async () => {
		await anon.challenge();
		const before = anon.challenges.length;
		assertRefused(await anon.publish(mkEvent(outsider.sk)), 'auth-required:');
		for (let i = 0; i < 40 && anon.challenges.length === before; i++)
			await sleep(50);
		assert.ok(anon.challenges.length > before, 'no AUTH challenge after auth-required');
	}],
	['not authed: REQ closed with auth-required', async () => {
		const r = await reqEnd(anon, 'a', { kinds: [1] });
		assert.equal(r.end[0], 'CLOSED');
		assert.ok(r.end[2].startsWith('auth-required:'), JSON.stringify(r.end));
	}],
	['member authenticates', async () => {
		assertOk(await mem.authAs(member.sk, url), 'AUTH');
	}],
	['member: EVENT accepted', async () => {
		note = mkEvent(member.sk, { content: 'members only' });
		assertOk(await mem.publish(note));
	}],
	['member: REQ returns the event', async () => {
		assert.deepEqual(await mem.req('m', { ids: [note.id] }), [note]);
	}],
	['member: COUNT answered', async () => {
		const r = await mem.count('c', { ids: [note.id] });
		assert.equal(r[0], 'COUNT', JSON.stringify(r));
		assert.equal(r[2].count, 1);
	}],
	['outsider authenticates (AUTH itself succeeds)', async () => {
		assertOk(await out.authAs(outsider.sk, url), 'AUTH');
	}],
	['outsider: EVENT refused with restricted', async () => {
		assertRefused(await out.publish(mkEvent(outsider.sk)), 'restricted:');
	}],
	['outsider: REQ closed with restricted, nothing leaked', async () => {
		const r = await reqEnd(out, 'o', { ids: [note.id] });
		assert.equal(r.events.length, 0);
		assert.equal(r.end[0], 'CLOSED');
		assert.ok(r.end[2].startsWith('restricted:'), JSON.stringify(r.end));
	}],
	['outsider: COUNT closed with restricted', async () => {
		const r = await out.count('oc', { ids: [note.id] });
		assert.equal(r[0], 'CLOSED', JSON.stringify(r));
		assert.ok(r[2].startsWith('restricted:'), JSON.stringify(r));
	}],
	['disconnects', async () => {
		anon.close();
		mem.close();
		out.close();
	}],
]);
