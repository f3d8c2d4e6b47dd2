// Slow consumers: a client that never reads while many events are
// published is disconnected once its output queue passes its cap; other
// clients keep getting every event and the relay's memory stays bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { Client, RawWs, RelayProcess, keys, mkEvent, randHex } from './lib.mjs';

const QUEUE = 262144;
const N = 400;
const SIZE = 60000;

function rssKiB(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) : 0;
}

describe('slow consumer', () => {
	let relay;
	const clients = [];

	before(async () => {
		relay = await RelayProcess.start({ relay: { limits: { max_output_queue: QUEUE } } });
	});
	after(async () => {
		clients.forEach((c) => c.close());
		await relay?.stop();
	});

	test('a client that never reads is disconnected; another keeps getting events', { timeout: 90000 }, async () => {
		const { sk, pk } = keys();
		const evs = [];
		for (let i = 0; i < N; i++)
			evs.push(mkEvent(sk, { content: randHex(SIZE / 2) }));

		const slow = await RawWs.open(relay.port);
		assert.equal(slow.status, 101);
		slow.sendText(['REQ', 'slow', { authors: [pk] }]);
		// wait for its EOSE, then stop reading for good
		for (;;) {
			const m = await slow.nextJson(5000);
			if (m[0] === 'EOSE')
				break;
		}
		slow.sock.pause();

		const fast = await Client.open(relay.url);
		clients.push(fast);
		fast.send(['REQ', 'fast', { authors: [pk] }]);
		assert.deepEqual(await fast.next(), ['EOSE', 'fast']);

		const pub = await Client.open(relay.url);
		clients.push(pub);
		const rss0 = rssKiB(relay.proc.pid);
		const got = [];
		const seen = (async () => {
			while (got.length < N)
				got.push(await fast.waitFor((m) => m[0] === 'EVENT' && m[1] === 'fast', 30000, `live event #${got.length + 1}`));
		})();
		for (let i = 0; i < N; i += 20) {
			const batch = evs.slice(i, i + 20);
			for (const ev of batch)
				pub.send(['EVENT', ev]);
			for (const ev of batch) {
				const m = await pub.waitFor((x) => x[0] === 'OK' && x[1] === ev.id, 15000, `OK ${i}`);
				assert.equal(m[2], true, JSON.stringify(m));
			}
		}
		await seen;
		assert.deepEqual(got.map((m) => m[2].id), evs.map((e) => e.id), 'the fast client got every event, in order');
		const rss1 = rssKiB(relay.proc.pid);

		// Now read what the slow client was sent: it must end with the relay
		// closing the connection, long before all N events.
		slow.sock.resume();
		await slow.until(() => slow.ended, 20000, 'the relay closing the slow consumer');
		const events = slow.frames.filter((f) => f.opcode === 1 && f.payload.toString().startsWith('["EVENT"')).length;
		const close = slow.frames.find((f) => f.opcode === 8);
		console.log(`# slow consumer: got ${events}/${N} events, close ${close ? JSON.stringify(RawWs.closeOf(close)) : 'none (TCP closed)'}; relay RSS ${rss0} -> ${rss1} KiB`);
		assert.ok(events < N, `slow consumer got ${events} of ${N} events before being dropped`);
		assert.ok(rss1 - rss0 < 200 * 1024, `relay RSS grew by ${rss1 - rss0} KiB`);

		// the relay still serves
		await fast.roundTrip();
		await pub.roundTrip();
	});
});
