// Browser test of the web app against the real stack: starts `target/debug/nsed up` (anvil,
// nats-server, three digit agents, keeper, indexer, web app), drives Debian's Chromium with
// puppeteer-core and a test EIP-1193 wallet (announced by EIP-6963, signing with an anvil key in
// Node), and checks: an uploaded PNG lands on the drawing pad, a non-numeric bounty is refused
// with a message, a rejected signature says
// so, a revert names its custom error, a drawn digit requested with a bounty settles and shows
// its answer and its support chart, a dispute after the challenge window names the escrow's
// error, the Agents page lists the agents and draws each one's accuracy chart with a point per
// settled job it sat in, with the dev wallet a guild proposal paying from the treasury is
// delegated for, proposed, voted, queued and executed, the LAT → vote quote equals
// LatConverter.quote read from the chain and its price curve is drawn, the authority nodes are
// listed, and three dev wallets, each in its own browser context, play an arena game to its end
// (one moving its salts to a fresh context to reveal from there); a question is refused while no
// agent answers questions. Then, unless NSED_APP_TEST_LLM=0, a second stack with the
// language-model agents (`nsed up --agents llm --jobs 0`): a four-option question typed in the
// page settles on one of its labels, shown with the option's text. Saves screenshots under
// target/app-screenshots/ and prints the first contentful paint and the language-model flow's time.
//
// Usage: node app/tests/browser.mjs   (after `cargo build -p nsed-cli --bin nsed`;
// NSED_BIN overrides the binary, CHROMIUM the browser).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';
import { createPublicClient, createWalletClient, http, toHex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { anvil } from 'viem/chains';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NSED = process.env.NSED_BIN ?? join(ROOT, 'target', 'debug', 'nsed');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'target', 'app-screenshots');
/** Generous: the machine may be busy with other builds. */
const STACK_TIMEOUT_MS = 240_000;
const STEP_TIMEOUT_MS = 60_000;
const SETTLE_TIMEOUT_MS = 150_000;

const started = Date.now();
const log = (msg) => process.stderr.write(`[browser ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);

const work = mkdtempSync(join(tmpdir(), 'nsed-app-test-'));
const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch (err) {
      log(`cleanup: ${err}`);
    }
  }
}

/** Starts `nsed up` and resolves with its RPC and app URLs once its report is printed. */
function startStack(extra = ['--jobs', '1'], deployments = join(work, 'deployments')) {
  const env = { ...process.env };
  for (const key of ['NATS_URL', 'NSED_NATS_CREDS', 'NSED_PRIVATE_KEY', 'NSED_RPC_URL']) delete env[key];
  const child = spawn(
    NSED,
    ['up', ...extra, '--indexer.listen', '127.0.0.1:0', '--app.listen', '127.0.0.1:0',
      '--app.dir', join(ROOT, 'app', 'dist'), '--models-dir', join(ROOT, 'models'),
      '--deployments-dir', deployments],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  };
  cleanups.push(stop);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nsed up printed no app URL in ${STACK_TIMEOUT_MS} ms\n${stdout}\n${stderr.slice(-4000)}`)), STACK_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const app = /^app\s+(http:\/\/\S+)/m.exec(stdout);
      const rpc = /^chain\s+(http:\/\/\S+) \(chain id (\d+)\)/m.exec(stdout);
      const graphql = /^graphql\s+(http:\/\/\S+)/m.exec(stdout);
      if (app && rpc && graphql) {
        clearTimeout(timer);
        resolve({ appUrl: app[1], rpcUrl: rpc[1], chainId: Number(rpc[2]), graphqlUrl: graphql[1], stop });
      }
    });
    child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-20_000); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`nsed up exited (${code ?? signal}) before serving\n${stdout}\n${stderr.slice(-4000)}`));
    });
  });
}

/** JSON-RPC straight to anvil. */
async function rpc(url, method, params = []) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = await response.json();
  if (body.error) throw Object.assign(new Error(body.error.message), body.error);
  return body.result;
}

/** The wallet the page sees as `Test Wallet`: anvil account 4, signing here in Node. */
function testWallet(rpcUrl, chainId) {
  const account = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 4 });
  const client = createWalletClient({ account, chain: { ...anvil, id: chainId }, transport: http(rpcUrl) });
  // It starts on chain 1 and does not know the app's chain until the app adds it.
  const wallet = { account, rejectNext: false, requests: [], chainId: 1, known: new Set([1]), added: [] };
  wallet.handle = async (json) => {
    const { method, params } = JSON.parse(json);
    wallet.requests.push(method);
    try {
      switch (method) {
        case 'eth_requestAccounts':
        case 'eth_accounts':
          return JSON.stringify({ result: [account.address] });
        case 'eth_chainId':
          return JSON.stringify({ result: toHex(wallet.chainId) });
        case 'wallet_switchEthereumChain':
          if (!wallet.known.has(Number(params[0].chainId))) return JSON.stringify({ error: { code: 4902, message: 'Unrecognized chain' } });
          wallet.chainId = Number(params[0].chainId);
          return JSON.stringify({ result: null });
        case 'wallet_addEthereumChain':
          wallet.added.push(params[0]);
          wallet.known.add(Number(params[0].chainId));
          return JSON.stringify({ result: null });
        case 'eth_sendTransaction': {
          if (wallet.rejectNext) {
            wallet.rejectNext = false;
            return JSON.stringify({ error: { code: 4001, message: 'User rejected the request.' } });
          }
          const tx = params[0];
          const hash = await client.sendTransaction({
            to: tx.to,
            data: tx.data,
            value: tx.value ? BigInt(tx.value) : undefined,
            gas: tx.gas ? BigInt(tx.gas) : undefined,
          });
          return JSON.stringify({ result: hash });
        }
        default:
          return JSON.stringify({ result: await rpc(rpcUrl, method, params) });
      }
    } catch (err) {
      return JSON.stringify({ error: { code: err.code ?? -32603, message: err.shortMessage ?? err.message, data: err.data } });
    }
  };
  return wallet;
}

/** Runs in the page before its scripts: an EIP-1193 provider announced by EIP-6963. */
function injectProvider() {
  const listeners = {};
  const provider = {
    async request({ method, params }) {
      const { result, error } = JSON.parse(await window.__testWallet(JSON.stringify({ method, params: params ?? [] })));
      if (error) throw Object.assign(new Error(error.message), error);
      return result;
    },
    on(event, fn) { (listeners[event] ??= []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn); },
  };
  const info = Object.freeze({ uuid: '9d3c1f2e-5b7a-4c1e-8f00-0000000000a1', name: 'Test Wallet', icon: 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E', rdns: 'test.nsed.wallet' });
  const announce = () => window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  log(`screenshot target/app-screenshots/${name}.png`);
}

/** Clicks `selector` once it is visible; finds it again if the page redrew it meanwhile (a
 * refresh replaces elements with identical ones, and a click on a replaced one never happened). */
async function click(page, selector) {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.waitForSelector(selector, { timeout: STEP_TIMEOUT_MS });
      await page.click(selector);
      return;
    } catch (err) {
      if (attempt < 5 && /Node is detached|not clickable|not an HTMLElement|not visible/.test(String(err))) continue;
      throw err;
    }
  }
}

async function textOf(page, selector, timeout = STEP_TIMEOUT_MS) {
  const el = await page.waitForSelector(selector, { timeout });
  return el.evaluate((node) => node.textContent ?? '');
}

/** A greyscale PNG (8-bit, colour type 0) of `width`×`height` with `pixel(x, y)` in 0–255. */
function png(width, height, pixel) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = pixel(x, y);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A black "7" on white, 40×40: a bar along the top and a stroke down to the lower left. */
function sevenPng() {
  return png(40, 40, (x, y) => {
    const bar = y >= 6 && y <= 10 && x >= 8 && x <= 32;
    // The stroke from (32, 8) to (16, 34): distance to the line under 2.5 pixels.
    const t = Math.max(0, Math.min(1, ((x - 32) * -16 + (y - 8) * 26) / (16 * 16 + 26 * 26)));
    const stroke = Math.hypot(x - (32 - 16 * t), y - (8 + 26 * t)) < 2.5;
    return bar || stroke ? 0 : 255;
  });
}

/** Draws a "1": a vertical stroke down the middle of the pad. */
async function drawOne(page) {
  const canvas = await page.waitForSelector('#digit');
  const box = await canvas.boundingBox();
  const x = box.x + box.width * 0.55;
  await page.mouse.move(x, box.y + box.height * 0.1);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(x, box.y + box.height * (0.1 + 0.8 * (i / 12)));
  await page.mouse.up();
}

async function setBounty(page, value) {
  await page.$eval('#bounty', (input, v) => { input.value = v; }, value);
}

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  log('starting nsed up (anvil, nats-server, 3 agents, keeper, indexer, web app)');
  const { appUrl, rpcUrl, chainId, graphqlUrl, stop: stopStack } = await startStack();
  log(`stack up: app ${appUrl}, chain ${rpcUrl} (${chainId})`);
  const wallet = testWallet(rpcUrl, chainId);

  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: mkdtempSync(join(work, 'chromium-')),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(async () => {
    // A wedged browser must not hold the test up: close it, or kill it after a while.
    const killer = setTimeout(() => browser.process()?.kill('SIGKILL'), 15_000);
    await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
    clearTimeout(killer);
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const pageErrors = [];
  // Nothing may come from outside the app's own origin.
  const origin = new URL(appUrl).origin;
  const foreign = [];
  const watch = (p) => {
    p.on('pageerror', (err) => pageErrors.push(String(err)));
    p.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(origin) && !url.startsWith('data:')) foreign.push(url);
    });
  };
  watch(page);
  await page.exposeFunction('__testWallet', (json) => wallet.handle(json));
  await page.evaluateOnNewDocument(injectProvider);

  await page.goto(`${appUrl}#/deliberate`, { waitUntil: 'load' });
  await page.waitForSelector('#wallet-choice', { timeout: STEP_TIMEOUT_MS });
  const fcp = await page.evaluate(() => performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime);
  assert.ok(typeof fcp === 'number' && fcp > 0, `first contentful paint measured: ${fcp}`);
  log(`first contentful paint: ${fcp.toFixed(0)} ms`);
  process.stdout.write(`first-contentful-paint-ms ${fcp.toFixed(0)}\n`);

  // The test wallet is discovered by EIP-6963; the dev wallet is offered on chain 31337.
  const options = await page.$$eval('#wallet-choice option', (os) => os.map((o) => ({ value: o.value, text: o.textContent })));
  assert.ok(options.some((o) => o.text === 'Test Wallet'), JSON.stringify(options));
  assert.ok(options.some((o) => o.text.startsWith('Dev wallet')), JSON.stringify(options));
  await shot(page, 'deliberate');
  await page.select('#wallet-choice', '9d3c1f2e-5b7a-4c1e-8f00-0000000000a1');
  await click(page, '#connect');
  const shown = await textOf(page, '[data-testid=account]');
  assert.equal(shown.slice(0, 8).toLowerCase(), wallet.account.address.slice(0, 8).toLowerCase());
  assert.ok(wallet.requests.includes('eth_requestAccounts'), 'the app asked the wallet for accounts');

  // Every control has an accessible name.
  const unnamed = await page.$$eval('button, input, select, canvas, a', (els) => els
    .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.textContent?.trim()))
    .map((e) => e.outerHTML));
  assert.deepEqual(unnamed, [], 'unlabelled controls');
  // The pad takes the keyboard: Space paints under the cursor.
  await page.focus('#digit');
  await page.keyboard.press('Space');
  await page.keyboard.down('Shift');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.up('Shift');
  assert.equal(await page.$eval('#request', (b) => b.disabled), false, 'the keyboard drew on the pad');
  await click(page, '#digit + div button');

  // An image instead of a drawing: a PNG of a "7" written here, uploaded, lands on the pad; a
  // file that is not an image is refused with a message.
  const padPixels = () => page.$eval('#digit', (c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)));
  const blank = await padPixels();
  const sevenFile = join(work, 'seven.png');
  writeFileSync(sevenFile, sevenPng());
  const upload = await page.waitForSelector('#digit-image', { timeout: STEP_TIMEOUT_MS });
  await upload.uploadFile(sevenFile);
  assert.match(await textOf(page, '[data-testid=upload-ok]'), /Loaded “seven\.png” \(40×40\)/);
  const loaded = await padPixels();
  const changed = loaded.filter((v, i) => v !== blank[i]).length;
  assert.ok(changed > loaded.length / 10, `the image changed the pad: ${changed} of ${loaded.length} pixels`);
  // The bar of the 7 is bright on the pad's top rows, its lower right corner dark.
  const cell = (x, y) => page.$eval('#digit', (c, [cx, cy]) => c.getContext('2d').getImageData(((cx + 0.5) * c.width) / 8, ((cy + 0.5) * c.height) / 8, 1, 1).data[0], [x, y]);
  assert.ok(await cell(4, 1) > 128 && await cell(7, 7) < 64, 'the 7 is where the image has it');
  assert.equal(await page.$eval('#request', (b) => b.disabled), false, 'an uploaded digit can be requested');
  await shot(page, 'uploaded-image');
  const notImage = join(work, 'not-an-image.png');
  writeFileSync(notImage, 'plain text, not a PNG');
  await upload.uploadFile(notImage);
  assert.match(await textOf(page, '[data-testid=upload-error]'), /“not-an-image\.png” was not loaded: the browser cannot decode it/);
  await click(page, '#digit + div button');

  // The wallet is on chain 1: the page says so, refuses to send, and switches it (adding the
  // chain first, as the wallet does not know it).
  await textOf(page, '[data-testid=wrong-chain]');
  await drawOne(page);
  await setBounty(page, '1');
  await click(page, '#request');
  assert.match(await textOf(page, '[data-testid=input-error]'), /on chain 1;.*chain 31337/);
  await shot(page, 'wrong-chain');
  await click(page, '#switch-chain');
  await page.waitForFunction(() => document.getElementById('wallet')?.textContent?.includes('chain 31337'), { timeout: STEP_TIMEOUT_MS });
  assert.equal(wallet.added.length, 1, 'the app added the chain');
  assert.equal(Number(wallet.added[0].chainId), chainId);
  assert.deepEqual(wallet.added[0].rpcUrls, [rpcUrl]);
  assert.equal(wallet.chainId, chainId);

  // A bounty that is not a number is refused before anything is signed.
  await setBounty(page, 'ten');
  await click(page, '#request');
  const badInput = await textOf(page, '[data-testid=input-error]');
  assert.match(badInput, /not an amount/);
  log(`bad bounty: ${badInput}`);

  // Test tokens from the dev chain's faucet.
  await page.waitForSelector('#faucet:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await click(page, '#faucet');
  await page.waitForSelector('[data-testid=faucet-ok]', { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(() => document.querySelector('[data-testid=balance]')?.textContent?.includes('10 BNTY'), { timeout: STEP_TIMEOUT_MS });

  // A multiple-choice question: checked in the page, and refused before the wallet is asked
  // because the digit agents answer only tensor-f32 jobs.
  await page.waitForFunction(() => document.querySelector('[data-testid=agent-kinds]')?.dataset.kinds === 'tensor-f32', { timeout: STEP_TIMEOUT_MS });
  assert.match(await textOf(page, '[data-testid=agent-kinds]'), /answer tensor-f32 \(3: /);
  await click(page, '#mode-question');
  await page.waitForSelector('#question-panel:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  assert.equal(await page.$eval('#digit-panel', (el) => el.hidden), true, 'the pad is hidden in question mode');
  const sends = () => wallet.requests.filter((m) => m === 'eth_sendTransaction').length;
  const sentBefore = sends();
  await setBounty(page, '1');
  const refusal = async (pattern) => {
    await page.$$eval('[data-testid=input-error]', (els) => els.forEach((el) => el.remove()));
    await click(page, '#request');
    const text = await textOf(page, '[data-testid=input-error]');
    assert.match(text, pattern);
    return text;
  };
  await refusal(/Type a question first/);
  await page.type('#question', 'Which is a planet?');
  await refusal(/Option A is empty/);
  for (const [i, o] of ['Mars', 'Moon', 'mars', 'Sun'].entries()) await page.type(`#option-${i}`, o);
  await refusal(/Options A and C are the same/);
  await click(page, '#remove-option');
  await click(page, '#remove-option');
  assert.equal(await page.$$eval('[id^=option-]', (els) => els.length), 2);
  assert.equal(await page.$eval('#remove-option', (b) => b.disabled), true, 'no fewer than two options');
  log(`no text agents: ${await refusal(/No registered agent answers text-choice jobs/)}`);
  assert.equal(sends(), sentBefore, 'nothing was sent for the refused question');
  await click(page, '#mode-digit');
  await page.waitForSelector('#digit-panel:not([hidden])', { timeout: STEP_TIMEOUT_MS });

  // The wallet's user rejects the approval: the page says so.
  wallet.rejectNext = true;
  await setBounty(page, '1');
  await click(page, '#request');
  const rejected = await textOf(page, '[data-testid=tx-error]');
  assert.match(rejected, /rejected/);
  assert.match(rejected, /4001/);
  assert.equal(wallet.rejectNext, false, 'the rejection was the wallet’s answer to a signature request');
  log(`rejected: ${rejected}`);
  await shot(page, 'rejected-signature');

  // More bounty than the account holds: the approval goes through, the request reverts with the
  // token's custom error, decoded by name.
  await page.$eval('[data-testid=tx-error]', (el) => el.remove());
  await setBounty(page, '1000');
  await click(page, '#request');
  const reverted = await page.waitForSelector('[data-testid=tx-error][data-error]', { timeout: STEP_TIMEOUT_MS });
  const revertName = await reverted.evaluate((el) => el.dataset.error);
  const revertText = await reverted.evaluate((el) => el.textContent);
  assert.equal(revertName, 'ERC20InsufficientBalance', revertText);
  log(`reverted: ${revertText}`);
  await shot(page, 'revert');

  // The real thing: one BNTY for a drawn digit, watched until it settles.
  await setBounty(page, '1');
  await click(page, '#request');
  await page.waitForFunction(() => /^#\/job\/\d+$/.test(location.hash), { timeout: STEP_TIMEOUT_MS });
  const jobId = await page.evaluate(() => location.hash.split('/')[2]);
  log(`job ${jobId} requested; waiting for the settlement`);
  const answer = await textOf(page, '[data-testid=answer]', SETTLE_TIMEOUT_MS);
  assert.match(answer, /^\d$/, `a digit as the answer: ${answer}`);
  await page.waitForSelector('[data-testid=support-chart] polyline', { timeout: STEP_TIMEOUT_MS });
  const lines = await page.$$eval('[data-testid=support-chart] polyline', (ps) => ps.map((p) => p.dataset.answer));
  assert.ok(lines.includes(answer), `the settled answer ${answer} has a line in the chart: ${lines}`);
  const seats = await page.$$eval('[data-testid=seats] tbody tr', (rows) => rows.length);
  assert.equal(seats, 3, 'three seats');
  const proposals = await page.$$eval('[data-testid=round-1] tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
  assert.equal(proposals.length, 3);
  assert.ok(proposals.every((p) => /^\d$/.test(p)), `round 1's proposals decoded from the transcript: ${proposals}`);
  assert.match(await textOf(page, '[data-testid=halt]'), /Halted after round \d/);
  assert.match(await textOf(page, '[data-testid=escrow]'), /challenge window is open/);
  log(`job ${jobId} settled: ${answer}; chart lines ${lines.join(', ')}`);
  await shot(page, 'job');

  // After the challenge window (anvil's clock moved on) a dispute reverts with the escrow's error.
  await rpc(rpcUrl, 'evm_increaseTime', [toHex(400 * 24 * 3600)]);
  await rpc(rpcUrl, 'evm_mine');
  await click(page, '#dispute');
  const late = await page.waitForSelector('[data-testid=tx-error][data-error]', { timeout: STEP_TIMEOUT_MS });
  assert.equal(await late.evaluate((el) => el.dataset.error), 'TripartiteEscrowChallengeWindowClosed');
  await shot(page, 'dispute-too-late');

  // The agents, with their models and wins (the demo job and ours were won by someone).
  await page.goto(`${appUrl}#/agents`, { waitUntil: 'load' });
  await page.waitForSelector('[data-testid=agents] tbody tr', { timeout: STEP_TIMEOUT_MS });
  const agents = await page.$$eval('[data-testid=agents] tbody tr', (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)));
  assert.equal(agents.length, 3, JSON.stringify(agents));
  const wins = agents.reduce((sum, row) => sum + Number(row[4]), 0);
  assert.ok(wins >= 2, `the demo job and ours were won: ${JSON.stringify(agents)}`);
  assert.ok(agents.every((row) => row[1] && row[1] !== 'unknown'), `every agent shows its model: ${JSON.stringify(agents)}`);
  // Each agent's accuracy chart has a point per settled job it sat in, as the indexer counts them.
  const seated = (await (await fetch(`${appUrl}graphql`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ agents(first: 1000) { id seats(first: 1000) { job { settlement { id } } } } }' }) })).json()).data.agents;
  const settledSeats = Object.fromEntries(seated.map((a) => [a.id.toLowerCase(), a.seats.filter((s) => s.job.settlement).length]));
  assert.ok(Object.values(settledSeats).some((n) => n >= 2), `an agent sat in both settled jobs: ${JSON.stringify(settledSeats)}`);
  await page.waitForFunction((want) => {
    const charts = [...document.querySelectorAll('[data-testid=accuracy-chart]')];
    return charts.length === Object.keys(want).length && charts.every((c) =>
      Number(c.dataset.points) === want[c.dataset.agent.toLowerCase()] && c.querySelectorAll('circle').length === want[c.dataset.agent.toLowerCase()]);
  }, { timeout: STEP_TIMEOUT_MS }, settledSeats);
  const rights = await page.$$eval('[data-testid=accuracy-chart] circle[data-right=true]', (cs) => cs.length);
  assert.ok(rights >= 2, `the winners' answers were right in both jobs: ${rights}`);
  log(`accuracy: ${(await page.$$eval('[data-testid=accuracy-chart] + figcaption', (fs) => fs.map((f) => f.textContent))).join('; ')}`);
  await shot(page, 'agents');

  // The guild with the dev wallet (anvil account 0 holds the dev chain's genesis GUILD): delegate,
  // propose a payment from the treasury, vote, queue and execute it as anvil's clock moves on.
  await page.goto(`${appUrl}#/guild`, { waitUntil: 'load' });
  await click(page, '#disconnect');
  await page.select('#wallet-choice', 'dev:0');
  await click(page, '#connect');
  assert.match(await textOf(page, '.badge.dev'), /DEV WALLET/);
  await page.waitForFunction(() => /holds \d/.test(document.querySelector('[data-testid=treasury]')?.textContent ?? ''), { timeout: STEP_TIMEOUT_MS });
  const guildStep = async (selector, done) => {
    await page.$$eval('[data-testid=guild-ok], [data-testid=tx-error]', (els) => els.forEach((el) => el.remove()));
    await click(page, selector);
    const result = await page.waitForSelector('[data-testid=guild-ok], [data-testid=tx-error]', { timeout: STEP_TIMEOUT_MS });
    const text = await result.evaluate((el) => el.textContent);
    assert.match(text, done, text);
  };
  const warp = async (seconds) => {
    await rpc(rpcUrl, 'evm_increaseTime', [toHex(seconds)]);
    await rpc(rpcUrl, 'evm_mine');
  };
  const proposalState = (state) => page.waitForFunction(
    (want) => document.querySelector('[data-proposal] [data-testid=proposal-state]')?.textContent === want,
    { timeout: STEP_TIMEOUT_MS }, state);
  await guildStep('#delegate', /Delegate to .*: done/);
  await page.waitForFunction(() => document.querySelector('[data-testid=votes]')?.textContent?.includes('delegated to yourself'), { timeout: STEP_TIMEOUT_MS });
  // The governor counts votes from the second before the proposal: let a second pass.
  await warp(2);
  const payee = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 5 }).address;
  await page.$eval('#recipient', (el, v) => { el.value = v; }, payee);
  await page.$eval('#amount', (el) => { el.value = '0.01'; });
  await page.$eval('#description', (el) => { el.value = 'Pay 0.01 BNTY from the treasury to anvil account 5'; });
  await guildStep('#propose', /Propose: done/);
  await proposalState('Pending');
  await warp(3_601);
  await proposalState('Active');
  await guildStep('[data-vote=For]', /Vote For: done/);
  await warp(259_201);
  await proposalState('Succeeded');
  await guildStep('[data-action=queue]', /Queue: done/);
  await proposalState('Queued');
  await warp(86_401);
  await guildStep('[data-action=execute]', /Execute: done/);
  await proposalState('Executed');
  const paid = await rpc(rpcUrl, 'eth_call', [{ to: (await (await fetch(`${appUrl}config.json`)).json()).contracts.BountyToken, data: `0x70a08231${payee.slice(2).toLowerCase().padStart(64, '0')}` }, 'latest']);
  assert.equal(BigInt(paid), 10n ** 16n, 'the treasury paid 0.01 BNTY');

  // The LAT → vote quote matches the converter's own `quote`, read here straight from the chain
  // with the ABI the server serves; the epoch's price curve is plotted.
  await page.$eval('#lat-amount', (el) => { el.value = '3'; });
  await page.$eval('#lat-tier', (el) => { el.value = '2'; });
  await click(page, '#quote');
  const quoted = await page.waitForSelector('[data-testid=conversion-quote][data-value="6"]', { timeout: STEP_TIMEOUT_MS });
  const quotedUnits = BigInt(await quoted.evaluate((el) => el.dataset.units));
  const appConfig = await (await fetch(`${appUrl}config.json`)).json();
  const converterAbi = await (await fetch(`${appUrl}abi/LatConverter.json`)).json();
  const chainReader = createPublicClient({ chain: { ...anvil, id: chainId }, transport: http(rpcUrl) });
  const direct = await chainReader.readContract({ address: appConfig.contracts.LatConverter, abi: converterAbi, functionName: 'quote', args: [6n] });
  assert.equal(quotedUnits, direct, 'the page quotes what LatConverter.quote(6) returns');
  assert.ok(direct > 0n, `three tier-2 LATs buy something: ${direct}`);
  log(`quote: ${await quoted.evaluate((el) => el.textContent)}`);
  const curvePoints = await page.$eval('[data-testid=price-curve] polyline', (p) => p.getAttribute('points').trim().split(/\s+/).length);
  assert.ok(curvePoints >= 2, `the price curve has points: ${curvePoints}`);
  await page.$eval('#lat-amount', (el) => { el.value = 'many'; });
  await click(page, '#quote');
  assert.match(await textOf(page, '[data-testid=input-error]'), /not a number of LATs/);
  // The authority nodes: as many rows as the indexer has nodes.
  const nodes = (await (await fetch(`${appUrl}graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ authorityNodes(first: 100) { id } }' }) })).json()).data.authorityNodes;
  await page.waitForSelector(nodes.length ? '[data-testid=authorities] tbody tr' : '[data-testid=no-authorities]', { timeout: STEP_TIMEOUT_MS });
  assert.equal(await page.$$eval('[data-testid=authorities] tbody tr', (rows) => rows.length), nodes.length);
  await shot(page, 'guild');

  // An arena game between dev wallets 5, 6 and 7, each in its own browser context (its own
  // localStorage, as on separate devices): create, join, start, commit and reveal proposals and
  // votes, close, withdraw. Player 5's salts are exported from its context and imported into a
  // fresh one, which reveals and plays on.
  const dev = (i) => mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: i }).address;
  const contexts = [];
  const player = async (i, hash) => {
    const context = await browser.createBrowserContext();
    contexts.push(context);
    const p = await context.newPage();
    await p.setViewport({ width: 1280, height: 900 });
    watch(p);
    await p.goto(`${appUrl}${hash}`, { waitUntil: 'load' });
    await p.waitForSelector('#wallet-choice option[value="dev:0"]', { timeout: STEP_TIMEOUT_MS });
    await p.select('#wallet-choice', `dev:${i}`);
    await click(p, '#connect');
    await p.waitForSelector('[data-testid=account]', { timeout: STEP_TIMEOUT_MS });
    return p;
  };
  cleanups.push(async () => { for (const context of contexts) await context.close().catch(() => undefined); });
  const seatedAs = (p, i) => p.waitForFunction(
    (me) => document.querySelector('[data-testid=players]')?.textContent?.includes(`${me} (you)`), { timeout: STEP_TIMEOUT_MS }, dev(i));
  const arenaStep = async (p, selector, done) => {
    await p.$$eval('[data-testid=arena-ok], [data-testid=tx-error], [data-testid=faucet-ok]', (els) => els.forEach((el) => el.remove()));
    await p.waitForSelector(selector, { timeout: STEP_TIMEOUT_MS });
    await click(p, selector);
    const result = await p.waitForSelector('[data-testid=arena-ok], [data-testid=tx-error], [data-testid=faucet-ok]', { timeout: STEP_TIMEOUT_MS });
    const text = await result.evaluate((el) => el.textContent);
    assert.match(text, done, `${selector}: ${text}`);
  };
  const gamePhase = (p, phase) => p.waitForFunction(
    (want) => document.querySelector('[data-testid=game-phase]')?.textContent === want, { timeout: STEP_TIMEOUT_MS }, phase);
  const players = { 5: await player(5, '#/arena') };
  await arenaStep(players[5], '.faucet:not([hidden])', /Minted/);
  await players[5].waitForFunction(() => document.querySelector('#join-fee')?.value, { timeout: STEP_TIMEOUT_MS });
  await arenaStep(players[5], '#create-game', /Create the game: done/);
  await players[5].waitForFunction(() => /^#\/arena\/\d+$/.test(location.hash), { timeout: STEP_TIMEOUT_MS });
  const gameHash = await players[5].evaluate(() => location.hash);
  await arenaStep(players[5], '#join', /Join: done/);
  for (const i of [6, 7]) {
    players[i] = await player(i, gameHash);
    await arenaStep(players[i], '.faucet:not([hidden])', /Minted/);
    await arenaStep(players[i], '#join', /Join: done/);
  }
  await arenaStep(players[5], '#start', /Start the game: done/);
  await gamePhase(players[5], 'Proposing');
  const seatOf = Object.fromEntries(await players[5].$$eval('[data-testid=players] tbody tr', (rows) =>
    rows.map((r) => [r.children[1].textContent.split(' ')[0].toLowerCase(), Number(r.children[0].textContent)])));
  const seat = (i) => seatOf[dev(i).toLowerCase()];
  for (const i of [5, 6, 7]) {
    await gamePhase(players[i], 'Proposing');
    await seatedAs(players[i], i);
    await players[i].type('#proposal', `the idea of anvil account ${i}`);
    await arenaStep(players[i], '#commit-proposal', /Commit proposal: done/);
  }
  // Each context keeps only its own player's salt.
  for (const i of [5, 6, 7]) {
    const kept = await players[i].evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('nsed-arena:')));
    assert.equal(kept.length, 1, `context of account ${i}: ${kept}`);
    assert.ok(kept[0].includes(dev(i).toLowerCase()), kept[0]);
  }
  // Player 5 moves to another device: export there, import into a fresh context, reveal from it.
  await click(players[5], '#export-salts');
  const exported = await players[5].$eval('#salts', (el) => el.value);
  assert.equal(Object.keys(JSON.parse(exported)).length, 1, exported);
  await players[5].close();
  players[5] = await player(5, gameHash);
  await seatedAs(players[5], 5);
  assert.equal(await players[5].evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('nsed-arena:')).length), 0, 'the fresh context holds no salts');
  await players[5].type('#salts', exported.replace(/\n/g, ''));
  await click(players[5], '#import-salts');
  await players[5].waitForFunction(() => document.querySelector('#salts')?.parentElement?.textContent?.includes('Imported 1 salt(s)'), { timeout: STEP_TIMEOUT_MS });
  await arenaStep(players[6], '#advance', /done/);
  for (const i of [5, 6, 7]) {
    await gamePhase(players[i], 'ProposalReveal');
    await arenaStep(players[i], '#reveal-proposal', /Reveal proposal: done/);
  }
  await arenaStep(players[7], '#advance', /done/);
  // Everyone backs account 6; account 6 gives 2 votes to account 5.
  for (const i of [5, 6, 7]) {
    await gamePhase(players[i], 'Voting');
    const [to, votes] = i === 6 ? [seat(5), '2'] : [seat(6), '3'];
    await players[i].waitForSelector(`#vote-${to}`, { timeout: STEP_TIMEOUT_MS });
    await players[i].$eval(`#vote-${to}`, (el, v) => {
      el.value = v;
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, votes);
    await arenaStep(players[i], '#commit-vote', /Commit vote: done/);
  }
  await warp(601);
  await arenaStep(players[5], '#advance', /done/);
  for (const i of [5, 6, 7]) {
    await gamePhase(players[i], 'VoteReveal');
    await arenaStep(players[i], '#reveal-vote', /Reveal vote: done/);
  }
  await arenaStep(players[5], '#advance', /done/);
  await gamePhase(players[6], 'Ended');
  assert.match(await textOf(players[6], '[data-testid=game-winner]'), new RegExp(`seat ${seat(6)} \\(${dev(6)}\\)`));
  await arenaStep(players[6], '#withdraw', /Withdraw .* BNTY: done/);
  await shot(players[6], 'arena');

  // `nsed app` serves the same deployment on its own.
  const record = JSON.parse(readFileSync(join(work, 'deployments', 'local.json'), 'utf8'));
  const alone = spawn(NSED, ['app', '--deployment', join(work, 'deployments', 'local.json'), '--graphql-url', graphqlUrl,
    '--rpc-url', rpcUrl, '--app.listen', '127.0.0.1:0', '--app.dir', join(ROOT, 'app', 'dist')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const aloneExit = new Promise((resolve) => alone.on('exit', (code) => resolve(code)));
  cleanups.push(async () => { if (alone.exitCode === null) { alone.kill('SIGKILL'); await aloneExit; } });
  const aloneUrl = await new Promise((resolve, reject) => {
    let out = '';
    alone.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /^(http:\/\/\S+)$/m.exec(out);
      if (url) resolve(url[1]);
    });
    aloneExit.then((code) => reject(new Error(`nsed app exited (${code}) before serving: ${out}`)));
  });
  const config = await (await fetch(`${aloneUrl}config.json`)).json();
  assert.equal(config.chainId, chainId);
  assert.equal(config.graphqlUrl, graphqlUrl);
  assert.equal(config.contracts.DeliberationMarket.toLowerCase(), record.contracts.DeliberationMarket.address.toLowerCase());
  const abi = await (await fetch(`${aloneUrl}abi/DeliberationMarket.json`)).json();
  assert.ok(abi.some((item) => item.name === 'requestJob'), 'the market ABI has requestJob');
  const jobs = await (await fetch(`${aloneUrl}graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ jobs { id } }' }) })).json();
  assert.ok(jobs.data.jobs.length >= 2, JSON.stringify(jobs));
  alone.kill('SIGTERM');
  assert.equal(await aloneExit, 0, 'nsed app stops cleanly on SIGTERM');

  assert.deepEqual(foreign, [], 'the app loads nothing from outside its origin');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');

  // A second stack with the language-model agents: a multiple-choice question asked and settled.
  if (process.env.NSED_APP_TEST_LLM !== '0') {
    await stopStack();
    await llmFlow(browser);
  } else {
    log('NSED_APP_TEST_LLM=0: the language-model stack is skipped');
  }
  log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** `nsed up --agents llm --jobs 0`: the test wallet asks one ARC-Easy question with four options
 * and waits for the settled label, which the job page shows with its option's text. */
async function llmFlow(browser) {
  const began = Date.now();
  const line = readFileSync(join(ROOT, '.cache', 'llm', 'eval', 'arc_easy-test.jsonl'), 'utf8').split('\n')
    .filter((l) => l.trim()).map((l) => JSON.parse(l)).find((q) => q.choices.length === 4);
  assert.ok(line, 'an ARC-Easy question with four options');
  log('starting nsed up --agents llm (three language-model agents)');
  const stack = await startStack(['--agents', 'llm', '--jobs', '0'], join(work, 'deployments-llm'));
  log(`language-model stack up in ${((Date.now() - began) / 1000).toFixed(1)} s: app ${stack.appUrl}`);
  const wallet = testWallet(stack.rpcUrl, stack.chainId);
  wallet.chainId = stack.chainId;
  wallet.known.add(stack.chainId);
  const context = await browser.createBrowserContext();
  cleanups.push(() => context.close());
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const errors = [];
  const foreign = [];
  const origin = new URL(stack.appUrl).origin;
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('request', (request) => {
    if (!request.url().startsWith(origin) && !request.url().startsWith('data:')) foreign.push(request.url());
  });
  await page.exposeFunction('__testWallet', (json) => wallet.handle(json));
  await page.evaluateOnNewDocument(injectProvider);
  await page.goto(`${stack.appUrl}#/deliberate`, { waitUntil: 'load' });
  await page.waitForSelector('#wallet-choice', { timeout: STEP_TIMEOUT_MS });
  await page.select('#wallet-choice', '9d3c1f2e-5b7a-4c1e-8f00-0000000000a1');
  await click(page, '#connect');
  await textOf(page, '[data-testid=account]');
  await page.waitForFunction(() => document.querySelector('[data-testid=agent-kinds]')?.dataset.kinds === 'text-choice text', { timeout: STEP_TIMEOUT_MS });
  log(`agents: ${await textOf(page, '[data-testid=agent-kinds]')}`);
  // Digits go to nobody here: refused before the wallet is asked.
  await drawOne(page);
  await click(page, '#request');
  assert.match(await textOf(page, '[data-testid=input-error]'), /No registered agent answers tensor-f32 jobs/);
  assert.ok(!wallet.requests.includes('eth_sendTransaction'), 'nothing was sent for the refused digit');
  await page.waitForSelector('#faucet:not([hidden])', { timeout: STEP_TIMEOUT_MS });
  await click(page, '#faucet');
  await page.waitForSelector('[data-testid=faucet-ok]', { timeout: STEP_TIMEOUT_MS });
  await click(page, '#mode-question');
  await page.type('#question', line.question);
  for (const [i, choice] of line.choices.entries()) await page.type(`#option-${i}`, choice);
  await shot(page, 'deliberate-question');
  await setBounty(page, '1');
  await click(page, '#request');
  await page.waitForFunction(() => /^#\/job\/\d+$/.test(location.hash), { timeout: STEP_TIMEOUT_MS });
  const jobId = await page.evaluate(() => location.hash.split('/')[2]);
  log(`question job ${jobId} requested: ${line.question}`);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=options] li').length === 4, { timeout: STEP_TIMEOUT_MS });
  const options = await page.$$eval('[data-testid=options] li', (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(options, line.choices.map((c, i) => `${'ABCD'[i]}. ${c}`), 'the job page shows the question’s options');
  assert.ok((await textOf(page, '[data-testid=question]')).includes(line.question), 'the job page shows the question');
  const answerEl = await page.waitForSelector('[data-testid=answer]', { timeout: 5 * 60_000 });
  const [label, shown] = await answerEl.evaluate((el) => [el.dataset.answer, el.textContent]);
  assert.ok(['A', 'B', 'C', 'D'].includes(label), `an option label as the answer: ${label}`);
  const index = 'ABCD'.indexOf(label);
  assert.equal(shown, `${label} — ${line.choices[index]}`, 'the answer with its option text');
  const proposals = await page.$$eval('[data-testid=round-1] tbody tr td:nth-child(3)', (tds) => tds.map((td) => td.textContent));
  assert.equal(proposals.length, 3);
  assert.ok(proposals.every((p) => /^[A-D] — /.test(p)), `round 1's proposals with their options: ${proposals}`);
  await shot(page, 'job-question');
  assert.deepEqual(foreign, [], 'the app loads nothing from outside its origin');
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
  const seconds = ((Date.now() - began) / 1000).toFixed(1);
  log(`question job ${jobId} settled: ${shown} (truth ${'ABCD'[line.answer]}); language-model flow ${seconds} s`);
  process.stdout.write(`llm-flow-s ${seconds}\n`);
  await stack.stop();
}

// A last resort against a hang anywhere: fail, and still stop what the test started.
// The language-model stack adds its start and one deliberation on two busy cores.
const WATCHDOG_MS = (process.env.NSED_APP_TEST_LLM === '0' ? 8 : 16) * 60_000;
const watchdog = setTimeout(() => {
  process.stderr.write(`browser test failed: still running after ${WATCHDOG_MS / 1000} s\n`);
  void cleanup().finally(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  process.stderr.write(`browser test failed: ${err.stack ?? err}\n`);
} finally {
  await cleanup();
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
