// The Deliberate page: draw a digit or ask a multiple-choice question, set the bounty, approve
// and request a job; which kinds the registered agents answer; recent jobs.
import { formatUnits, parseEventLogs, parseUnits, stringToHex } from 'viem';
import { type Deployment, graphql } from './config';
import { h, status } from './dom';
import { explain } from './errors';
import { modelName } from './job';
import { DigitPad, SIDE } from './pad';
import { CHOICE_KIND, DIGIT_KIND, MAX_CHOICES, MIN_CHOICES, encodeChoice, kindsOfModel, label, parseChoice } from './question';
import { send, sendAs } from './tx';
import type { Wallets } from './wallet';

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
  let mode: 'digit' | 'question' = 'digit';
  const enable = () => { submit.disabled = mode === 'digit' && pad.isEmpty(); };
  const pad = new DigitPad(canvas, enable);
  submit.disabled = true;
  // What to ask: a digit (the default) or a multiple-choice question.
  const modeDigit = h('input', { type: 'radio', name: 'mode', id: 'mode-digit', value: 'digit', checked: true });
  const modeQuestion = h('input', { type: 'radio', name: 'mode', id: 'mode-question', value: 'question' });
  const question = h('textarea', { id: 'question', name: 'question', rows: 3, cols: 48 });
  const optionList = h('ol', { class: 'options', 'aria-label': 'Options' });
  const options: HTMLInputElement[] = [];
  const addOption = h('button', { type: 'button', id: 'add-option' }, 'Add an option');
  const removeOption = h('button', { type: 'button', id: 'remove-option' }, 'Remove the last option');
  const drawOptions = () => {
    optionList.replaceChildren(...options.map((input, i) => {
      input.id = `option-${i}`;
      input.name = `option-${i}`;
      return h('li', {}, h('label', { for: input.id }, `Option ${label(i)}`, input));
    }));
    addOption.disabled = options.length >= MAX_CHOICES;
    removeOption.disabled = options.length <= MIN_CHOICES;
  };
  const pushOption = () => {
    if (options.length >= MAX_CHOICES) return;
    options.push(h('input', { size: 40, autocomplete: 'off' }));
    drawOptions();
  };
  addOption.addEventListener('click', () => { pushOption(); options[options.length - 1]?.focus(); });
  removeOption.addEventListener('click', () => {
    if (options.length <= MIN_CHOICES) return;
    options.pop();
    drawOptions();
  });
  for (let i = 0; i < 4; i++) pushOption();
  const kindsNote = h('p', { class: 'muted', 'data-testid': 'agent-kinds' }, 'Reading which kinds the registered agents answer…');
  /** Task kind → the models of the active agents that answer it (undefined until read). */
  let answered: Map<string, string[]> | undefined;
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

  const digitPanel = h('div', { id: 'digit-panel' },
    canvas,
    h('div', {}, h('button', { type: 'button', onclick: () => pad.clear() }, 'Clear')),
    h('label', { for: 'digit-image' }, 'Or upload an image of a digit', upload),
    uploadNote,
  );
  const questionPanel = h('div', { id: 'question-panel' },
    h('label', { for: 'question' }, 'Question', question),
    optionList,
    h('p', {}, addOption, ' ', removeOption),
    h('p', { class: 'muted' }, `${MIN_CHOICES} to ${MAX_CHOICES} different options, labelled A, B, C, …; the agents answer with a label.`),
  );
  questionPanel.hidden = true;
  const setMode = () => {
    mode = modeQuestion.checked ? 'question' : 'digit';
    digitPanel.hidden = mode !== 'digit';
    questionPanel.hidden = mode !== 'question';
    enable();
  };
  modeDigit.addEventListener('change', setMode);
  modeQuestion.addEventListener('change', setMode);

  const form = h('form', { 'aria-labelledby': 'request-title' },
    h('fieldset', {},
      h('legend', {}, 'What to ask'),
      h('label', { for: 'mode-digit', class: 'inline' }, modeDigit, ' A digit (drawn or uploaded)'),
      ' ',
      h('label', { for: 'mode-question', class: 'inline' }, modeQuestion, ' A multiple-choice question'),
      kindsNote,
    ),
    h('div', { class: 'row' },
      h('div', {}, digitPanel, questionPanel),
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
    let kind: string;
    let text: string;
    if (mode === 'digit') {
      if (pad.isEmpty()) return say('error', 'Draw a digit first.', 'input-error');
      kind = DIGIT_KIND;
      text = JSON.stringify({ shape: [SIDE * SIDE], values: pad.values() });
    } else {
      const input = parseChoice(question.value, options.map((o) => o.value));
      if (typeof input === 'string') return say('error', input, 'input-error');
      kind = CHOICE_KIND;
      text = encodeChoice(input);
    }
    if (answered && !(answered.get(kind)?.length)) {
      const offered = [...answered.keys()];
      return say('error', `No registered agent answers ${kind} jobs (${mode === 'digit' ? 'digits' : 'multiple-choice questions'}): nobody could deliberate on it, so it was not requested. ${offered.length ? `The agents here answer ${offered.join(', ')}.` : 'No active agent is registered.'}`, 'input-error');
    }
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
      const input = stringToHex(text);
      const spec = { kind, input, agentsWanted: seats, maxRounds: most, credits: CREDITS, deadline: block.timestamp + DEADLINE_SECS };
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
      enable();
      void refreshBalance().catch(() => undefined);
    }
  });

  async function refreshJobs(): Promise<void> {
    const data = await graphql<{ jobs: { id: string; status: string; bounty: string; requester: string; settlement: { content: string } | null }[]; agents: { id: string; metadataURI: string; active: boolean; slashed: boolean }[] }>(
      '{ jobs(first: 10, orderBy: id, orderDirection: desc) { id status bounty requester settlement { content } } agents(first: 1000) { id metadataURI active slashed } }',
    );
    showKinds(data.agents);
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

  /** Which kinds the active agents answer, from their models' names. */
  function showKinds(agents: { metadataURI: string; active: boolean; slashed: boolean }[]): void {
    const map = new Map<string, string[]>();
    const unknown: string[] = [];
    for (const a of agents) {
      if (!a.active || a.slashed) continue;
      const model = modelName(a.metadataURI);
      const kinds = kindsOfModel(model);
      if (!kinds.length) unknown.push(model);
      for (const k of kinds) map.set(k, [...(map.get(k) ?? []), model]);
    }
    // An agent of a model the page does not know might answer anything: refuse nothing then.
    answered = unknown.length ? undefined : map;
    const parts = [...map.entries()].map(([k, models]) => `${k} (${models.length}: ${models.join(', ')})`);
    const text = agents.length === 0 ? 'No agents are registered yet.'
      : `The registered agents answer ${parts.length ? parts.join('; ') : 'no kind this page knows'}${unknown.length ? `; of ${unknown.join(', ')} the page cannot tell` : ''}. ${map.get(CHOICE_KIND)?.length ? 'Questions' : 'Digits'} suit them.`;
    if (kindsNote.textContent !== text) kindsNote.textContent = text;
    kindsNote.dataset.kinds = [...map.keys()].join(' ');
  }

  view.replaceChildren(
    h('section', { class: 'card' },
      h('h2', { id: 'request-title' }, 'Deliberate: ask the agents'),
      h('p', { class: 'muted' }, 'Draw a digit on the 8×8 pad (the digit agents read 64 intensities from 0 to 16) or upload an image of one — or ask a multiple-choice question, which the language-model agents answer with an option’s label. Set the bounty, then approve and request. The keeper seats agents, they deliberate in rounds, and the outcome is settled on chain.'),
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
