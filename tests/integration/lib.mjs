// Shared harness for the integration tests: starts the real `tern serve`
// binary on 127.0.0.1 with a fresh database and a generated config file,
// and talks to it with real clients (ws, nostr-tools, node:http, and a raw
// TCP WebSocket client for frames no library will send).
//
// Every wait here is bounded: a test that would hang fails with a message
// saying what it was waiting for instead.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';
import { finalizeEvent, generateSecretKey, getPublicKey } from 'nostr-tools/pure';

export { WebSocket, finalizeEvent, generateSecretKey, getPublicKey };

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const TERN = path.resolve(ROOT, process.env.TERN || 'build/tern');

/** Default per-test options: every test is bounded in time. */
export const T = { timeout: 30000 };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => Math.floor(Date.now() / 1000);
export const randHex = (n = 32) => crypto.randomBytes(n).toString('hex');

/** Rejects with `what` after ms unless p settles first. */
export function withTimeout(p, ms, what) {
	let t;
	const timer = new Promise((_, rej) => {
		t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
	});
	return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

// ---- config ---------------------------------------------------------------

function confValue(v, indent) {
	if (typeof v === 'string')
		return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
	if (typeof v === 'boolean')
		return v ? 'true' : 'false';
	if (typeof v === 'number' || typeof v === 'bigint')
		return String(v);
	if (Array.isArray(v))
		return '[' + v.map((x) => confValue(x, indent)).join(', ') + ']';
	const pad = '\t'.repeat(indent + 1);
	const lines = Object.entries(v)
		.filter(([, x]) => x !== undefined)
		.map(([k, x]) => `${pad}${k} = ${confValue(x, indent + 1)};`);
	return '{\n' + lines.join('\n') + '\n' + '\t'.repeat(indent) + '}';
}

/** Renders a nested plain object as libconfig text (groups, arrays, scalars). */
export function renderConfig(obj) {
	return Object.entries(obj)
		.filter(([, x]) => x !== undefined)
		.map(([k, x]) => `${k} = ${confValue(x, 0)};`)
		.join('\n') + '\n';
}

function merge(a, b) {
	const out = { ...a };
	for (const [k, v] of Object.entries(b || {})) {
		if (v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object')
			out[k] = merge(out[k], v);
		else
			out[k] = v;
	}
	return out;
}

// ---- the relay process ----------------------------------------------------

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort() {
	const srv = net.createServer();
	srv.listen(0, '127.0.0.1');
	await once(srv, 'listening');
	const { port } = srv.address();
	srv.close();
	await once(srv, 'close');
	return port;
}

async function canConnect(port) {
	return new Promise((resolve) => {
		const s = net.connect({ host: '127.0.0.1', port });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
	});
}

let tmpRoot;
function tmpDir(prefix) {
	tmpRoot ??= fs.mkdtempSync(path.join(os.tmpdir(), 'tern-it-'));
	return fs.mkdtempSync(path.join(tmpRoot, prefix));
}
process.on('exit', () => {
	if (tmpRoot && !process.env.TERN_KEEP_TMP)
		fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/**
 * A running `tern serve`. Options:
 *   relay:  merged into the `relay` group of the config (limits, info, ...)
 *   db:     database directory to reuse (default: a fresh one)
 *   port:   port to use (default: a free one)
 *   extra:  more top-level config groups
 */
export class RelayProcess {
	constructor(opts = {}) {
		this.opts = opts;
	}

	static async start(opts = {}) {
		const r = new RelayProcess(opts);
		await r.start();
		return r;
	}

	configObject() {
		const relay = merge({
			bind: '127.0.0.1',
			port: this.port,
			service_url: this.url,
			info: { name: this.name, description: 'tern integration test relay' },
		}, this.opts.relay);
		return { relay, ...(this.opts.extra || {}) };
	}

	/** Rewrites the config file with extra relay settings merged in. */
	writeConfig(relayOverrides) {
		if (relayOverrides)
			this.opts.relay = merge(this.opts.relay || {}, relayOverrides);
		this.configText = renderConfig(this.configObject());
		fs.writeFileSync(this.configPath, this.configText);
	}

	async start() {
		this.port = this.opts.port || await freePort();
		this.url = `ws://127.0.0.1:${this.port}`;
		this.httpUrl = `http://127.0.0.1:${this.port}`;
		this.name = this.opts.name || `tern-it-${randHex(4)}`;
		this.dir ??= tmpDir('relay-');
		this.db = this.opts.db || path.join(this.dir, 'db');
		fs.mkdirSync(this.db, { recursive: true });
		this.configPath = path.join(this.dir, 'tern.conf');
		this.writeConfig();
		this.logPath = path.join(this.dir, `stderr-${this.port}.log`);
		const log = fs.openSync(this.logPath, 'a');
		this.proc = spawn(TERN, ['serve', '--config', this.configPath, '--bind', '127.0.0.1',
			'--port', String(this.port), '--db', this.db], { stdio: ['ignore', log, log] });
		fs.closeSync(log);
		this.exited = new Promise((resolve) => {
			this.proc.once('exit', (code, signal) => {
				this.exitInfo = { code, signal };
				resolve(this.exitInfo);
			});
			this.proc.once('error', (err) => {
				this.exitInfo = { code: null, signal: null, error: err };
				resolve(this.exitInfo);
			});
		});
		const deadline = Date.now() + 15000;
		while (Date.now() < deadline) {
			if (this.exitInfo)
				throw new Error(`tern serve exited during start-up (${JSON.stringify(this.exitInfo)}):\n${this.log()}`);
			if (await canConnect(this.port))
				return;
			await sleep(50);
		}
		await this.stop();
		throw new Error(`tern serve did not accept on port ${this.port} within 15 s:\n${this.log()}`);
	}

	log() {
		try {
			return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-40).join('\n');
		} catch {
			return '';
		}
	}

	signal(sig) {
		if (sig !== 'SIGHUP' && sig !== 'SIGSTOP' && sig !== 'SIGCONT')
			this.stopping = true;
		if (!this.exitInfo)
			this.proc.kill(sig);
	}

	/** Waits up to ms for the process to exit; returns its exit info or null. */
	async waitExit(ms) {
		try {
			return await withTimeout(this.exited, ms, 'relay exit');
		} catch {
			return null;
		}
	}

	/**
	 * SIGTERM, then SIGKILL after graceMs. Returns the exit info. Throws if
	 * the relay had already died on its own (a crash during the tests).
	 */
	async stop(graceMs = 10000) {
		if (!this.proc)
			return null;
		const crashed = this.exitInfo && !this.stopping;
		this.stopping = true;
		if (crashed)
			throw new Error(`tern serve died during the tests (${JSON.stringify(this.exitInfo)}):\n${this.log()}`);
		this.signal('SIGTERM');
		let info = await this.waitExit(graceMs);
		if (!info) {
			this.signal('SIGKILL');
			info = await this.waitExit(5000);
			info = { ...info, killed: true };
		}
		this.checkLog();
		return info;
	}

	/**
	 * Throws if the relay's stderr holds a sanitizer report (when TERN is
	 * an ASan/UBSan build) or the process did not exit 0 after SIGTERM.
	 */
	checkLog() {
		let text = '';
		try {
			text = fs.readFileSync(this.logPath, 'utf8');
		} catch { /* no log */ }
		const m = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.exec(text);
		if (m) {
			const at = text.lastIndexOf('\n', m.index);
			throw new Error(`sanitizer report in the relay's stderr:\n${text.slice(at + 1, at + 4000)}`);
		}
		const info = this.exitInfo;
		if (info && !(info.code === 0 && info.signal === null))
			throw new Error(`tern serve did not exit 0 on SIGTERM (${JSON.stringify(info)}):\n${this.log()}`);
	}
}

// ---- events ---------------------------------------------------------------

/** A key pair: { sk, pk }. */
export function keys() {
	const sk = generateSecretKey();
	return { sk, pk: getPublicKey(sk) };
}

/** A signed event as a plain JSON object (no symbol properties). */
export function mkEvent(sk, { kind = 1, tags = [], content = 'hello ' + randHex(4), created_at = now() } = {}) {
	return JSON.parse(JSON.stringify(finalizeEvent({ kind, tags, content, created_at }, sk)));
}

/** NIP-42 AUTH event for a challenge and relay URL. */
export function mkAuth(sk, challenge, relayUrl, { created_at = now(), kind = 22242 } = {}) {
	return mkEvent(sk, { kind, created_at, content: '', tags: [['relay', relayUrl], ['challenge', challenge]] });
}

/** NIP-01 order: created_at descending, then id ascending. */
export function nip01Order(evs) {
	return [...evs].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// ---- raw ws client ----------------------------------------------------------

/**
 * A WebSocket client that queues every incoming message parsed as JSON.
 * AUTH challenges are taken out of the queue (the relay sends one on
 * connect, and again on auth-required) and kept in `challenges`, unless
 * opts.keepAuth is set.
 */
export class Client {
	constructor(url, opts = {}) {
		this.url = url;
		this.opts = opts;
		this.queue = [];
		this.waiters = [];
		this.challenges = [];
		this.challengeWaiters = [];
		this.closeInfo = null;
		this.ws = new WebSocket(url, { perMessageDeflate: opts.perMessageDeflate ?? false, maxPayload: 64 << 20, ...(opts.ws || {}) });
		this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
		this.ws.on('error', (err) => { this.lastError = err; });
		this.closed = new Promise((resolve) => {
			this.ws.on('close', (code, reason) => {
				this.closeInfo = { code, reason: reason.toString() };
				resolve(this.closeInfo);
				this.wake();
			});
		});
	}

	static async open(url, opts = {}) {
		const c = new Client(url, opts);
		await withTimeout(new Promise((resolve, reject) => {
			c.ws.once('open', resolve);
			c.ws.once('error', reject);
			c.ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade`)));
		}), 5000, `WebSocket open ${url}`);
		return c;
	}

	onMessage(data, isBinary) {
		let msg;
		const text = data.toString('utf8');
		try {
			msg = JSON.parse(text);
		} catch {
			msg = { unparsable: text, isBinary };
		}
		if (Array.isArray(msg) && msg[0] === 'AUTH' && !this.opts.keepAuth) {
			this.challenges.push(msg[1]);
			for (const w of this.challengeWaiters.splice(0))
				w();
			return;
		}
		this.queue.push(msg);
		this.wake();
	}

	wake() {
		for (const w of this.waiters.splice(0))
			w();
	}

	send(x) {
		this.ws.send(typeof x === 'string' || Buffer.isBuffer(x) ? x : JSON.stringify(x));
	}

	/** Removes and returns the first queued message matching pred, waiting up to ms. */
	async waitFor(pred, ms = 5000, what = 'a matching message') {
		const deadline = Date.now() + ms;
		for (;;) {
			const i = this.queue.findIndex(pred);
			if (i >= 0)
				return this.queue.splice(i, 1)[0];
			if (this.closeInfo)
				throw new Error(`connection closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}; queued: ${JSON.stringify(this.queue).slice(0, 500)}`);
			const left = deadline - Date.now();
			if (left <= 0)
				throw new Error(`timed out after ${ms} ms waiting for ${what}; queued: ${JSON.stringify(this.queue).slice(0, 500)}`);
			await new Promise((resolve) => {
				const t = setTimeout(resolve, left);
				this.waiters.push(() => { clearTimeout(t); resolve(); });
			});
		}
	}

	/** The next message, whatever it is. */
	next(ms = 5000) {
		return this.waitFor(() => true, ms, 'the next message');
	}

	/** Asserts that no message arrives within ms (returns the queue, which must be empty). */
	async quiet(ms = 300) {
		await sleep(ms);
		if (this.queue.length)
			throw new Error(`expected no message, got ${JSON.stringify(this.queue).slice(0, 500)}`);
	}

	/** The latest AUTH challenge, waiting for the first one. */
	async challenge(ms = 5000) {
		if (!this.challenges.length)
			await withTimeout(new Promise((r) => this.challengeWaiters.push(r)), ms, 'an AUTH challenge');
		return this.challenges[this.challenges.length - 1];
	}

	/** Sends EVENT and returns the OK message for it. */
	async publish(ev, ms = 5000) {
		this.send(['EVENT', ev]);
		return this.waitFor((m) => Array.isArray(m) && m[0] === 'OK' && m[1] === ev.id, ms, `OK for ${ev.id}`);
	}

	/** Sends AUTH and returns the OK message for it. */
	async auth(ev, ms = 5000) {
		this.send(['AUTH', ev]);
		return this.waitFor((m) => Array.isArray(m) && m[0] === 'OK' && m[1] === ev.id, ms, `OK for AUTH ${ev.id}`);
	}

	/** Authenticates as sk against the latest challenge; returns the OK message. */
	async authAs(sk, relayUrl) {
		const ch = await this.challenge();
		return this.auth(mkAuth(sk, ch, relayUrl));
	}

	/**
	 * Collects the messages of subscription sub until its EOSE or CLOSED.
	 * Returns { events, end } where end is the EOSE/CLOSED message. Any other
	 * message for another purpose stays queued.
	 */
	async collect(sub, ms = 10000) {
		const events = [];
		for (;;) {
			const m = await this.waitFor((x) => Array.isArray(x) && x[1] === sub &&
				(x[0] === 'EVENT' || x[0] === 'EOSE' || x[0] === 'CLOSED'), ms, `EOSE for ${sub}`);
			if (m[0] === 'EVENT')
				events.push(m[2]);
			else
				return { events, end: m };
		}
	}

	/**
	 * REQ then collect, then CLOSE (so no live event of it comes later):
	 * returns the stored events, asserting EOSE ended them.
	 */
	async req(sub, ...filters) {
		this.send(['REQ', sub, ...filters]);
		const r = await this.collect(sub);
		if (r.end[0] !== 'EOSE')
			throw new Error(`REQ ${sub} ended with ${JSON.stringify(r.end)} instead of EOSE`);
		this.send(['CLOSE', sub]);
		return r.events;
	}

	/** Sends COUNT and returns the reply for sub. */
	async count(sub, ...filters) {
		this.send(['COUNT', sub, ...filters]);
		return this.waitFor((x) => Array.isArray(x) && x[1] === sub, 5000, `COUNT reply for ${sub}`);
	}

	/**
	 * Proves the connection still works: a REQ for an id that does not exist
	 * must be answered by exactly ["EOSE", sub] as the next message.
	 */
	async roundTrip() {
		const sub = 'rt' + randHex(3); // 8 characters: fits small max_subid_length
		this.send(['REQ', sub, { ids: [randHex(32)] }]);
		const m = await this.next();
		if (JSON.stringify(m) !== JSON.stringify(['EOSE', sub]))
			throw new Error(`round trip: expected ["EOSE","${sub}"], got ${JSON.stringify(m)}`);
		this.send(['CLOSE', sub]);
	}

	close() {
		if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
			this.ws.terminate();
	}
}

// ---- raw TCP WebSocket ------------------------------------------------------

/**
 * A hand-written WebSocket client over a TCP socket, for frames no library
 * sends (oversized headers, fragments, invalid UTF-8) and for a client that
 * stops reading. Server frames are decoded into { fin, opcode, payload }.
 */
export class RawWs {
	static async open(port, { path: p = '/', headers = {}, extensions } = {}) {
		const r = new RawWs();
		r.sock = net.connect({ host: '127.0.0.1', port });
		await withTimeout(once(r.sock, 'connect'), 5000, 'TCP connect');
		const key = crypto.randomBytes(16).toString('base64');
		const h = {
			Host: `127.0.0.1:${port}`, Upgrade: 'websocket', Connection: 'Upgrade',
			'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', ...headers,
		};
		if (extensions)
			h['Sec-WebSocket-Extensions'] = extensions;
		r.sock.write(`GET ${p} HTTP/1.1\r\n` + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');
		r.buf = Buffer.alloc(0);
		r.frames = [];
		r.waiters = [];
		r.ended = false;
		r.sock.on('data', (d) => { r.buf = Buffer.concat([r.buf, d]); r.parse(); r.wake(); });
		r.sock.on('end', () => { r.ended = true; r.wake(); });
		r.sock.on('close', () => { r.ended = true; r.wake(); });
		r.sock.on('error', (e) => { r.error = e; r.ended = true; r.wake(); });
		await r.until(() => r.head !== undefined, 5000, 'the handshake response');
		const status = Number(r.head.split(' ')[1]);
		r.status = status;
		if (status === 101) {
			const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
			if (!new RegExp(`^sec-websocket-accept: *${accept.replace(/[+/=]/g, '\\$&')}\\s*$`, 'im').test(r.head))
				throw new Error(`bad Sec-WebSocket-Accept in ${r.head}`);
		}
		return r;
	}

	wake() {
		for (const w of this.waiters.splice(0))
			w();
	}

	async until(cond, ms, what) {
		const deadline = Date.now() + ms;
		while (!cond()) {
			if (this.ended && !cond())
				throw new Error(`connection ended while waiting for ${what}`);
			const left = deadline - Date.now();
			if (left <= 0)
				throw new Error(`timed out after ${ms} ms waiting for ${what}`);
			await new Promise((resolve) => {
				const t = setTimeout(resolve, left);
				this.waiters.push(() => { clearTimeout(t); resolve(); });
			});
		}
	}

	parse() {
		if (this.head === undefined) {
			const i = this.buf.indexOf('\r\n\r\n');
			if (i < 0)
				return;
			this.head = this.buf.subarray(0, i).toString('latin1');
			this.buf = this.buf.subarray(i + 4);
		}
		for (;;) {
			if (this.buf.length < 2)
				return;
			const b0 = this.buf[0], b1 = this.buf[1];
			let len = b1 & 0x7f, off = 2;
			if (len === 126) {
				if (this.buf.length < 4)
					return;
				len = this.buf.readUInt16BE(2);
				off = 4;
			} else if (len === 127) {
				if (this.buf.length < 10)
					return;
				len = Number(this.buf.readBigUInt64BE(2));
				off = 10;
			}
			if (b1 & 0x80)
				off += 4; // servers must not mask; tolerate to report it
			if (this.buf.length < off + len)
				return;
			this.frames.push({ fin: !!(b0 & 0x80), rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked: !!(b1 & 0x80), payload: this.buf.subarray(off, off + len) });
			this.buf = this.buf.subarray(off + len);
		}
	}

	/** Next server frame (any opcode). */
	async nextFrame(ms = 5000) {
		await this.until(() => this.frames.length > 0, ms, 'a frame');
		return this.frames.shift();
	}

	/** Next text message parsed as JSON (skipping AUTH challenges and pings). */
	async nextJson(ms = 5000) {
		for (;;) {
			const f = await this.nextFrame(ms);
			if (f.opcode === 9 || f.opcode === 10)
				continue;
			if (f.opcode === 8)
				throw new Error(`close frame ${RawWs.closeOf(f).code} ${RawWs.closeOf(f).reason} while waiting for a message`);
			const m = JSON.parse(f.payload.toString('utf8'));
			if (Array.isArray(m) && m[0] === 'AUTH')
				continue;
			return m;
		}
	}

	/** Waits for the server's close frame; returns { code, reason }. */
	async closeFrame(ms = 5000) {
		for (;;) {
			const f = await this.nextFrame(ms);
			if (f.opcode === 8)
				return RawWs.closeOf(f);
		}
	}

	static closeOf(f) {
		return {
			code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005,
			reason: f.payload.subarray(2).toString('utf8'),
		};
	}

	static frame(opcode, payload, { fin = true, mask = true, rsv1 = false, declaredLength } = {}) {
		payload = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
		const len = declaredLength ?? payload.length;
		let head;
		if (len < 126) {
			head = Buffer.alloc(2);
			head[1] = len;
		} else if (len < 65536) {
			head = Buffer.alloc(4);
			head[1] = 126;
			head.writeUInt16BE(len, 2);
		} else {
			head = Buffer.alloc(10);
			head[1] = 127;
			head.writeBigUInt64BE(BigInt(len), 2);
		}
		head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
		if (!mask)
			return Buffer.concat([head, payload]);
		head[1] |= 0x80;
		const key = crypto.randomBytes(4);
		const body = Buffer.from(payload);
		for (let i = 0; i < body.length; i++)
			body[i] ^= key[i & 3];
		return Buffer.concat([head, key, body]);
	}

	sendFrame(opcode, payload, opts) {
		this.sock.write(RawWs.frame(opcode, payload, opts));
	}

	sendText(x) {
		this.sendFrame(1, typeof x === 'string' || Buffer.isBuffer(x) ? x : JSON.stringify(x));
	}

	destroy() {
		this.sock.destroy();
	}
}

// ---- HTTP -------------------------------------------------------------------

/** One HTTP request; resolves { status, headers, body }. */
export function httpRequest(port, { method = 'GET', path: p = '/', headers = {} } = {}) {
	return withTimeout(new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end();
	}), 5000, `HTTP ${method} ${p}`);
}

/** The NIP-11 document. */
export async function nip11(port) {
	const r = await httpRequest(port, { headers: { Accept: 'application/nostr+json' } });
	if (r.status !== 200)
		throw new Error(`NIP-11: HTTP ${r.status}: ${r.body}`);
	return JSON.parse(r.body);
}
