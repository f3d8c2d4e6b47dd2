// Malformed messages: each gets exactly one NOTICE (or CLOSED / OK false
// when an id is known) and the connection keeps working.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Client, RelayProcess, T, keys, mkEvent } from './lib.mjs';

describe('NOTICE for malformed messages', () => {
	let relay;
	let c;

	before(async () => {
		relay = await RelayProcess.start();
		c = await Client.open(relay.url);
	});
	after(async () => {
		c?.close();
		await relay?.stop();
	});

	const exact = [
		['not JSON', 'hello', 'invalid: message is not a JSON array'],
		['a JSON object', '{"EVENT":1}', 'invalid: message is not a JSON array'],
		['a JSON string', '"REQ"', 'invalid: message is not a JSON array'],
		['a JSON number', '42', 'invalid: message is not a JSON array'],
		['an empty array', '[]', 'invalid: message is an empty array'],
		['a non-string verb', '[1,2]', 'invalid: message type must be a string'],
		['an unknown verb', '["FOO",1]', 'invalid: unknown message type "FOO"'],
		['a lowercase verb', '["req","s",{}]', 'invalid: unknown message type "req"'],
		['CLOSE without id', '["CLOSE"]', 'invalid: CLOSE takes exactly one subscription id'],
		['CLOSE with two ids', '["CLOSE","a","b"]', 'invalid: CLOSE takes exactly one subscription id'],
		['EVENT without event', '["EVENT"]', 'invalid: EVENT takes exactly one event'],
		['AUTH without event', '["AUTH"]', 'invalid: AUTH takes exactly one event'],
		['REQ without anything', '["REQ"]', 'invalid: REQ needs a subscription id and at least one filter'],
		['COUNT without anything', '["COUNT"]', 'invalid: COUNT needs a subscription id and at least one filter'],
		['REQ with a numeric sub id', '["REQ",5,{}]', 'invalid: subscription id must be a string'],
		['EVENT with a non-object', '["EVENT",5]', 'invalid: event must be a JSON object'],
	];
	for (const [what, text, reason] of exact) {
		test(`NOTICE: ${what}`, T, async () => {
			c.send(text);
			assert.deepEqual(await c.next(), ['NOTICE', reason]);
			await c.roundTrip();
		});
	}

	// Broken JSON: the exact wording comes from the JSON scanner; the reply
	// must be one NOTICE with an "invalid: " reason.
	const broken = [
		['truncated array', '["CLOSE","s"'],
		['truncated REQ before its sub id', '["REQ",'],
		['trailing garbage', '["CLOSE","s"] x'],
		['a lone bracket', '['],
		['a bad escape', '["FOO\\q"]'],
		['an event that is not an object and has no id', '["EVENT",{"kind":1,'],
		['an empty message', ''],
	];
	for (const [what, text] of broken) {
		test(`NOTICE: ${what}`, T, async () => {
			c.send(text);
			const m = await c.next();
			assert.equal(m.length, 2, JSON.stringify(m));
			assert.equal(m[0], 'NOTICE', JSON.stringify(m));
			assert.match(m[1], /^invalid: ./);
			await c.roundTrip();
		});
	}

	for (const [what, text] of [
		['trailing garbage', '["REQ","tg",{"kinds":[1]}] junk'],
		['a truncated REQ', '["REQ","tg",{"kinds":[1]}'],
		['a truncated COUNT', '["COUNT","tg",{"kinds":[1'],
	]) {
		test(`CLOSED (not NOTICE) once the sub id was read: ${what}`, T, async () => {
			c.send(text);
			const m = await c.next();
			assert.equal(m.length, 3, JSON.stringify(m));
			assert.deepEqual(m.slice(0, 2), ['CLOSED', 'tg'], JSON.stringify(m));
			assert.match(m[2], /^invalid: ./);
			await c.roundTrip();
		});
	}

	test('many malformed messages in a row keep the connection open', T, async () => {
		for (let i = 0; i < 50; i++)
			c.send(`not json ${i}`);
		for (let i = 0; i < 50; i++)
			assert.deepEqual(await c.next(), ['NOTICE', 'invalid: message is not a JSON array']);
		await c.roundTrip();
		const { sk } = keys();
		const ev = mkEvent(sk);
		assert.deepEqual(await c.publish(ev), ['OK', ev.id, true, '']);
	});

	test('a binary frame is refused with NOTICE or close 1003, and the relay lives on', T, async () => {
		const d = await Client.open(relay.url);
		d.ws.send(Buffer.from('["REQ","bin",{"kinds":[1],"limit":1}]'), { binary: true });
		await new Promise((r) => setTimeout(r, 500));
		const noticed = d.queue.length === 1 && d.queue[0][0] === 'NOTICE';
		const closed = d.closeInfo?.code === 1003;
		assert.ok(noticed || closed, `queue ${JSON.stringify(d.queue)}, close ${JSON.stringify(d.closeInfo)}`);
		d.close();
		await c.roundTrip();
	});
});
