// The Deliberate page: draw a digit, set the bounty, approve and request a job; recent jobs.
import { formatUnits, parseEventLogs, parseUnits, stringToHex } from 'viem';
import { type Deployment, graphql } from './config';
import { h, status } from './dom';
import { explain } from './errors';
import { DigitPad, SIDE } from './pad';
import { send, sendAs } from './tx';
import type { Wallets } from './wallet';

/** The task kind of the digit agents: a JSON tensor of f32 values. */
const TASK_KIND = 'tensor-f32';
/** Voice credits per ballot and seconds to the deadline, as `nsed up` requests its demo jobs. */
const CREDITS = 100n;
const DEADLINE_SECS = 3600n;
const BOUNTY_PATTERN = /^\d+(\.\d{1,18})?$/;

/** The bounty typed in, in token units, or a message that says what is wrong with it. */
export function parseBounty(text: string): bigint | string {
  const trimmed = text.trim();
  if (!BOUNTY_PATTERN.test(trimmed)) return `“${text}” is not an amount: type a number of BNTY such as 1 or 0.5.`;
  const amount = parseUnits(trimmed, 18);
  if (amount === 0n) return 'The bounty must be more than 0 BNTY.';
  return amount;
}

function whole(label: string, text: string, min: number, max: number): number | string {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) return `${label} must be a whole number from ${min} to ${max}.`;
  return n;
}

/** On the dev chain, a button that mints 10 test BNTY to the connected account with the
 * deployer's key (anvil account 0, the bounty token's owner there); hidden elsewhere. */
export function faucetButton(d: Deployment, wallets: Wallets, messages: HTMLElement, after?: () => void): HTMLButtonElement {
  const token = d.address('BountyToken');
  const button = h('button', { type: 'button', class: 'faucet' }, 'Get 10 test BNTY (dev chain)');
  const show = () => { button.hidden = !(wallets.session && wallets.devMinter()); };
  show();
  // Pages come and go: the listener drops itself once its button has left the page.
  let shown = false;
  const unsubscribe = wallets.subscribe(() => {
    if (button.isConnected) shown = true;
    else if (shown) return unsubscribe();
    show();
  });
  button.addEventListener('click', async () => {
    const s = wallets.session;
    const minter = wallets.devMinter();
    if (!s || !minter) return;
    button.disabled = true;
    try {
      messages.replaceChildren(status('info', 'Minting 10 test BNTY with the dev chain’s deployer key…'));
      await sendAs(d, wallets, minter, { address: token, abi: d.abis.BountyToken, functionName: 'mint', args: [s.address, parseUnits('10', 18)] });
      messages.replaceChildren(status('ok', 'Minted 10 test BNTY.', 'faucet-ok'));
      after?.();
    } catch (err) {
      messages.replaceChildren(status('error', explain(err, d.errors).message, 'tx-error'));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** Renders the page into `view`. */
export function deliberatePage(view: HTMLElement, d: Deployment, wallets: Wallets): () => void {
  const market = d.address('DeliberationMarket');
  const token = d.address('BountyToken');
  const messages = h('div', { 'aria-live': 'polite' });
  const say = (kind: 'info' | 'ok' | 'error', text: string, id?: string) => messages.replaceChildren(status(kind, text, id));
  const canvas = h('canvas', {
    id: 'digit',
    tabindex: 0,
    role: 'img',
    'aria-label': `Digit drawing pad, ${SIDE} by ${SIDE} cells. Draw with the pointer, or move with the arrow keys and paint with Space (Shift+arrow paints while moving, Delete erases).`,
  });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'request' }, 'Approve and request');
  const pad = new DigitPad(canvas, () => { submit.disabled = pad.isEmpty(); });
  submit.disabled = true;
  // An image instead of a drawing: scaled onto the pad, then sent like a drawn digit.
  const upload = h('input', { type: 'file', id: 'digit-image', name: 'digit-image', accept: 'image/*' });
  const uploadNote = h('div', { 'aria-live': 'polite' });
  upload.addEventListener('change', () => {
    const file = upload.files?.[0];
    if (!file) return;
    void (async () => {
      try {
        if (file.type && !file.type.startsWith('image/')) throw new Error(`it is ${file.type}, not an image`);
        const image = await createImageBitmap(file).catch(() => { throw new Error('the browser cannot decode it as an image'); });
        const size = `${image.width}×${image.height}`;
        try {
          pad.loadImage(image);
        } finally {
          image.close();
        }
        uploadNote.replaceChildren(status('ok', `Loaded “${file.name}” (${size}) onto the pad; correct it by drawing, or clear it.`, 'upload-ok'));
      } catch (err) {
        uploadNote.replaceChildren(status('error', `“${file.name}” was not loaded: ${(err as Error).message}.`, 'upload-error'));
      } finally {
        upload.value = '';
      }
    })();
  });
  const bounty = h('input', { id: 'bounty', name: 'bounty', value: '1', inputmode: 'decimal', autocomplete: 'off', size: 10 });
  const agents = h('input', { id: 'agents', name: 'agents', type: 'number', value: '3', min: 2, max: 16, size: 4 });
  const rounds = h('input', { id: 'rounds', name: 'rounds', type: 'number', value: '3', min: 1, max: 10, size: 4 });
  const balance = h('p', { class: 'muted', 'data-testid': 'balance' }, '');
  const recent = h('div', {}, h('p', { class: 'muted' }, 'Loading jobs…'));
  const faucet = faucetButton(d, wallets, messages, () => void refreshBalance().catch(() => undefined));
  faucet.id = 'faucet';

  async function refreshBalance(): Promise<void> {
    const s = wallets.session;
    if (!s) {
      balance.textContent = 'Connect a wallet to see your BNTY balance.';
      return;
    }
    const held = (await wallets.reader.readContract({ address: token, abi: d.abis.BountyToken, functionName: 'balanceOf', args: [s.address] })) as bigint;
    balance.textContent = `Your balance: ${formatUnits(held, 18)} BNTY`;
  }

  const form = h('form', { 'aria-labelledby': 'request-title' },
    h('div', { class: 'row' },
      h('div', {},
        canvas,
        h('div', {}, h('button', { type: 'button', onclick: () => pad.clear() }, 'Clear')),
        h('label', { for: 'digit-image' }, 'Or upload an image of a digit', upload),
        uploadNote,
      ),
      h('div', {},
        h('label', { for: 'bounty' }, 'Bounty (BNTY)', bounty),
        h('label', { for: 'agents' }, 'Agents', agents),
        h('label', { for: 'rounds' }, 'Most rounds', rounds),
        balance,
        h('p', {}, faucet),
        h('p', {}, submit),
      ),
    ),
    messages,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const amount = parseBounty(bounty.value);
    if (typeof amount === 'string') return say('error', amount, 'input-error');
    const seats = whole('Agents', agents.value, 2, 16);
    if (typeof seats === 'string') return say('error', seats, 'input-error');
    const most = whole('Most rounds', rounds.value, 1, 10);
    if (typeof most === 'string') return say('error', most, 'input-error');
    if (pad.isEmpty()) return say('error', 'Draw a digit first.', 'input-error');
    let session;
    try {
      session = wallets.ready();
    } catch (err) {
      return say('error', (err as Error).message, 'input-error');
    }
    submit.disabled = true;
    try {
      const allowance = (await wallets.reader.readContract({ address: token, abi: d.abis.BountyToken, functionName: 'allowance', args: [session.address, market] })) as bigint;
      if (allowance < amount) {
        say('info', `Approve the market to take ${formatUnits(amount, 18)} BNTY (confirm in your wallet)…`);
        await send(d, wallets, session, { address: token, abi: d.abis.BountyToken, functionName: 'approve', args: [market, amount] });
      }
      const block = await wallets.reader.getBlock();
      const input = stringToHex(JSON.stringify({ shape: [SIDE * SIDE], values: pad.values() }));
      const spec = { kind: TASK_KIND, input, agentsWanted: seats, maxRounds: most, credits: CREDITS, deadline: block.timestamp + DEADLINE_SECS };
      say('info', 'Request the job (confirm in your wallet)…');
      const receipt = await send(d, wallets, session, { address: market, abi: d.abis.DeliberationMarket, functionName: 'requestJob', args: [spec, amount] });
      const [requested] = parseEventLogs({ abi: d.abis.DeliberationMarket, logs: receipt.logs, eventName: 'JobRequested' });
      const jobId = (requested?.args as { jobId?: bigint } | undefined)?.jobId;
      if (jobId === undefined) throw new Error(`the request ${receipt.transactionHash} announced no job`);
      say('ok', `Job ${jobId} requested.`, 'requested');
      location.hash = `#/job/${jobId}`;
    } catch (err) {
      const why = explain(err, d.errors);
      const el = status('error', why.message, 'tx-error');
      if (why.errorName) el.dataset.error = why.errorName;
      messages.replaceChildren(el);
    } finally {
      submit.disabled = pad.isEmpty();
      void refreshBalance().catch(() => undefined);
    }
  });

  async function refreshJobs(): Promise<void> {
    const data = await graphql<{ jobs: { id: string; status: string; bounty: string; requester: string; settlement: { content: string } | null }[] }>(
      '{ jobs(first: 10, orderBy: id, orderDirection: desc) { id status bounty requester settlement { content } } }',
    );
    if (data.jobs.length === 0) {
      recent.replaceChildren(h('p', { class: 'muted' }, 'No jobs yet.'));
      return;
    }
    recent.replaceChildren(h('table', {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Answer'), h('th', { scope: 'col' }, 'Bounty'))),
      h('tbody', {}, ...data.jobs.map((j) => h('tr', {},
        h('td', {}, h('a', { href: `#/job/${j.id}` }, `#${j.id}`)),
        h('td', {}, j.status),
        h('td', {}, j.settlement?.content ?? '—'),
        h('td', {}, `${formatUnits(BigInt(j.bounty), 18)} BNTY`),
      ))),
    ));
  }

  view.replaceChildren(
    h('section', { class: 'card' },
      h('h2', { id: 'request-title' }, 'Deliberate: ask the agents what digit this is'),
      h('p', { class: 'muted' }, 'Draw a digit on the 8×8 pad (the digit agents read 64 intensities from 0 to 16) or upload an image of one, set the bounty, then approve and request. The keeper seats agents, they deliberate in rounds, and the outcome is settled on chain.'),
      form,
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Recent jobs'), recent),
  );
  const update = () => void refreshBalance().catch((err) => { balance.textContent = explain(err, d.errors).message; });
  const unsubscribe = wallets.subscribe(update);
  update();
  void refreshJobs().catch((err) => recent.replaceChildren(status('error', (err as Error).message)));
  const timer = setInterval(() => void refreshJobs().catch(() => undefined), 3000);
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}
