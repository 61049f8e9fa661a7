// The Guild page: the treasury (the guild timelock's balances), your guild votes and delegate,
// proposals with their votes and state, voting, queueing and executing them, and a new proposal
// that pays bounty tokens from the treasury.
import { type Address, type Hex, encodeFunctionData, formatUnits, isAddress, keccak256, parseUnits, stringToHex } from 'viem';
import { type Deployment, graphql } from './config';
import { h, short, status } from './dom';
import { authoritySection, conversionSection } from './conversion';
import { explain } from './errors';
import { send } from './tx';
import type { Wallets } from './wallet';

/** OpenZeppelin Governor's `ProposalState`, by value. */
const STATES = ['Pending', 'Active', 'Canceled', 'Defeated', 'Succeeded', 'Queued', 'Expired', 'Executed'] as const;
const SUPPORT = [['For', 1], ['Against', 0], ['Abstain', 2]] as const;

interface Proposal {
  id: string;
  proposer: string;
  targets: Address[];
  values: string[];
  calldatas: Hex[];
  description: string;
  voteStart: string;
  voteEnd: string;
  forVotes: string;
  againstVotes: string;
  abstainVotes: string;
  status: string;
}

const QUERY = `{ governanceProposals(first: 50, orderBy: createdAtBlock, orderDirection: desc) {
  id proposer targets values calldatas description voteStart voteEnd forVotes againstVotes abstainVotes status } }`;

/** Renders the page into `view`; returns the cleanup. */
export function guildPage(view: HTMLElement, d: Deployment, wallets: Wallets): () => void {
  const governor = d.address('GuildGovernor');
  const guildToken = d.address('GuildToken');
  const bounty = d.address('BountyToken');
  const timelock = d.address('GuildTimelock');
  const treasury = h('p', { 'data-testid': 'treasury' }, 'Loading…');
  const votes = h('div', { 'data-testid': 'votes' });
  const proposals = h('div', {}, h('p', { class: 'muted' }, 'Loading proposals…'));
  const messages = h('div', { 'aria-live': 'polite' });
  const say = (kind: 'info' | 'ok' | 'error', text: string, id?: string) => messages.replaceChildren(status(kind, text, id));
  const fail = (err: unknown) => {
    const why = explain(err, d.errors);
    const el = status('error', why.message, 'tx-error');
    if (why.errorName) el.dataset.error = why.errorName;
    messages.replaceChildren(el);
  };
  const read = (address: Address, abi: 'GuildToken' | 'GuildGovernor' | 'BountyToken', functionName: string, args: readonly unknown[] = []) =>
    wallets.reader.readContract({ address, abi: d.abis[abi], functionName, args });

  async function act(label: string, run: () => Promise<unknown>): Promise<void> {
    try {
      say('info', `${label} (confirm in your wallet)…`);
      await run();
      say('ok', `${label}: done.`, 'guild-ok');
      await refresh();
    } catch (err) {
      fail(err);
    }
  }

  const delegatee = h('input', { id: 'delegatee', name: 'delegatee', placeholder: '0x… (empty: yourself)', size: 44, autocomplete: 'off' });
  const delegateForm = h('form', {},
    h('label', { for: 'delegatee' }, 'Delegate your guild votes to', delegatee),
    h('button', { type: 'submit', id: 'delegate' }, 'Delegate'));
  delegateForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const to = delegatee.value.trim();
    let session;
    try {
      session = wallets.ready();
    } catch (err) {
      return say('error', (err as Error).message, 'input-error');
    }
    if (to && !isAddress(to)) return say('error', `“${to}” is not an address.`, 'input-error');
    const target = (to || session.address) as Address;
    void act(`Delegate to ${short(target)}`, () => send(d, wallets, session, { address: guildToken, abi: d.abis.GuildToken, functionName: 'delegate', args: [target] }));
  });

  const recipient = h('input', { id: 'recipient', name: 'recipient', placeholder: '0x…', size: 44, autocomplete: 'off' });
  const amount = h('input', { id: 'amount', name: 'amount', inputmode: 'decimal', size: 10, autocomplete: 'off' });
  const description = h('input', { id: 'description', name: 'description', size: 44, autocomplete: 'off' });
  const proposeForm = h('form', {},
    h('label', { for: 'recipient' }, 'Pay to', recipient),
    h('label', { for: 'amount' }, 'Amount (BNTY)', amount),
    h('label', { for: 'description' }, 'Description', description),
    h('button', { type: 'submit', id: 'propose' }, 'Propose'));
  proposeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    let session;
    try {
      session = wallets.ready();
    } catch (err) {
      return say('error', (err as Error).message, 'input-error');
    }
    if (!isAddress(recipient.value.trim())) return say('error', 'The recipient must be an address (0x followed by 40 hex digits).', 'input-error');
    if (!/^\d+(\.\d{1,18})?$/.test(amount.value.trim()) || parseUnits(amount.value.trim(), 18) === 0n) return say('error', `“${amount.value}” is not an amount of BNTY above 0.`, 'input-error');
    if (!description.value.trim()) return say('error', 'Describe the proposal.', 'input-error');
    const data = encodeFunctionData({ abi: d.abis.BountyToken, functionName: 'transfer', args: [recipient.value.trim(), parseUnits(amount.value.trim(), 18)] });
    void act('Propose', () => send(d, wallets, session, { address: governor, abi: d.abis.GuildGovernor, functionName: 'propose', args: [[bounty], [0n], [data], description.value.trim()] }));
  });

  function proposalCall(p: Proposal, functionName: 'queue' | 'execute') {
    const hash = keccak256(stringToHex(p.description));
    return { address: governor, abi: d.abis.GuildGovernor, functionName, args: [p.targets, p.values.map(BigInt), p.calldatas, hash] };
  }

  let lastProposals = '';

  async function refresh(): Promise<void> {
    const [held, eth] = await Promise.all([
      read(bounty, 'BountyToken', 'balanceOf', [timelock]) as Promise<bigint>,
      wallets.reader.getBalance({ address: timelock }),
    ]);
    treasury.textContent = `The guild timelock ${timelock} holds ${formatUnits(held, 18)} BNTY and ${formatUnits(eth, 18)} ETH.`;
    const s = wallets.session;
    if (s) {
      const [balance, power, delegate] = await Promise.all([
        read(guildToken, 'GuildToken', 'balanceOf', [s.address]) as Promise<bigint>,
        read(guildToken, 'GuildToken', 'getVotes', [s.address]) as Promise<bigint>,
        read(guildToken, 'GuildToken', 'delegates', [s.address]) as Promise<Address>,
      ]);
      const to = /^0x0{40}$/i.test(delegate) ? 'nobody (delegate to vote, even to yourself)' : delegate.toLowerCase() === s.address.toLowerCase() ? 'yourself' : delegate;
      votes.replaceChildren(h('p', {}, `You hold ${formatUnits(balance, 18)} GUILD, delegated to ${to}; your voting power: ${formatUnits(power, 18)}.`));
    } else {
      votes.replaceChildren(h('p', { class: 'muted' }, 'Connect a wallet to see your guild votes.'));
    }
    const data = await graphql<{ governanceProposals: Proposal[] }>(QUERY);
    if (data.governanceProposals.length === 0) {
      proposals.replaceChildren(h('p', { class: 'muted' }, 'No proposals yet.'));
      lastProposals = '';
      return;
    }
    const states = await Promise.all(data.governanceProposals.map((p) => read(governor, 'GuildGovernor', 'state', [BigInt(p.id)]) as Promise<number>));
    // Redraw only on a change, so that a button is not replaced under the pointer.
    const key = JSON.stringify([data, states, s?.address]);
    if (key === lastProposals) return;
    lastProposals = key;
    proposals.replaceChildren(...data.governanceProposals.map((p, i) => {
      const state = STATES[states[i] ?? 0] ?? 'Unknown';
      const actions: (Node | string)[] = [];
      if (state === 'Active') {
        for (const [label, support] of SUPPORT) {
          actions.push(h('button', { type: 'button', 'data-vote': label, onclick: () => { try { const s = wallets.ready(); void act(`Vote ${label}`, () => send(d, wallets, s, { address: governor, abi: d.abis.GuildGovernor, functionName: 'castVote', args: [BigInt(p.id), support] })); } catch (err) { say('error', (err as Error).message, 'input-error'); } } }, `Vote ${label}`), ' ');
        }
      }
      for (const [when, fn] of [['Succeeded', 'queue'], ['Queued', 'execute']] as const) {
        if (state !== when) continue;
        actions.push(h('button', { type: 'button', 'data-action': fn, onclick: () => { try { const s = wallets.ready(); void act(fn === 'queue' ? 'Queue' : 'Execute', () => send(d, wallets, s, proposalCall(p, fn))); } catch (err) { say('error', (err as Error).message, 'input-error'); } } }, fn === 'queue' ? 'Queue in the timelock' : 'Execute'));
      }
      return h('article', { class: 'card', 'data-proposal': p.id, 'data-state': state, style: 'border-top:1px solid var(--line);padding:.6rem 0' },
        h('h3', {}, p.description.split('\n')[0] ?? ''),
        h('p', { class: 'muted mono' }, `#${short(p.id)} by ${p.proposer} · ${p.targets.length} call(s)`),
        h('p', {}, 'State: ', h('strong', { 'data-testid': 'proposal-state' }, state),
          ` · for ${formatUnits(BigInt(p.forVotes), 18)} · against ${formatUnits(BigInt(p.againstVotes), 18)} · abstain ${formatUnits(BigInt(p.abstainVotes), 18)}`),
        h('p', { class: 'muted' }, `Voting from ${new Date(Number(p.voteStart) * 1000).toISOString()} to ${new Date(Number(p.voteEnd) * 1000).toISOString()} (chain time)`),
        h('p', {}, ...actions));
    }));
  }

  const conversion = conversionSection(d, wallets);
  const authorities = authoritySection();
  view.replaceChildren(
    h('section', { class: 'card' }, h('h2', {}, 'Guild'),
      h('p', { class: 'muted' }, 'The guild owns the suite: GUILD holders vote on proposals, which the guild timelock (its treasury) executes after its delay.'),
      treasury, votes, delegateForm, messages),
    h('section', { class: 'card' }, h('h2', {}, 'New proposal: pay from the treasury'), proposeForm),
    h('section', { class: 'card' }, h('h2', {}, 'Proposals'), proposals),
    conversion.section,
    authorities.section,
  );
  const update = () => {
    void refresh().catch((err) => proposals.replaceChildren(status('error', explain(err, d.errors).message)));
    void conversion.refresh();
    void authorities.refresh();
  };
  const unsubscribe = wallets.subscribe(update);
  update();
  const timer = setInterval(update, 3000);
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}
