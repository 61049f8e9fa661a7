// The Arena pages: RankifyArena games. `#/arena` lists games and creates one; `#/arena/<id>`
// plays one: join, start, commit and reveal proposals and quadratic votes, advance the phases to
// the close, withdraw. Commitments hide a move behind a random salt until its reveal; the salts
// live in this browser's localStorage (export and import them to move to another browser).
import { type Address, type Hex, encodeAbiParameters, formatUnits, keccak256, parseEventLogs, parseUnits, toHex } from 'viem';
import { type Deployment, graphql } from './config';
import { h, short, status } from './dom';
import { explain } from './errors';
import { faucetButton } from './deliberate';
import { send } from './tx';
import type { Wallets } from './wallet';

/** RankifyArena's `Phase`, by value. */
const PHASES = ['None', 'Joining', 'Proposing', 'ProposalReveal', 'Voting', 'VoteReveal', 'Ended', 'Cancelled'] as const;
const STORE = 'nsed-arena';

interface GameParams { rank: bigint; minPlayers: number; maxPlayers: number; turns: number; voteCredits: bigint; joinFee: bigint; stake: bigint; metadataURI: string }
interface Game { params: GameParams; creator: Address; phase: number; turn: number; playerCount: number; winner: number; joinDeadline: bigint; phaseDeadline: bigint }
/** A hidden move kept until its reveal. */
interface Secret { value: string; salt: Hex }

function secretKey(d: Deployment, gameId: bigint, turn: number, player: Address, kind: 'proposal' | 'vote'): string {
  return `${STORE}:${d.config.chainId}:${d.address('RankifyArena').toLowerCase()}:${gameId}:${turn}:${player.toLowerCase()}:${kind}`;
}

function randomSalt(): Hex {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** Every kept salt of this browser, as JSON. */
export function exportSecrets(): string {
  const all: Record<string, unknown> = {};
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i);
    if (key?.startsWith(`${STORE}:`)) all[key] = JSON.parse(localStorage.getItem(key) ?? 'null');
  }
  return JSON.stringify(all, null, 1);
}

/** Stores exported salts; returns how many, or throws on text that is not an export. */
export function importSecrets(text: string): number {
  const parsed = JSON.parse(text) as Record<string, Secret>;
  let n = 0;
  for (const [key, secret] of Object.entries(parsed)) {
    if (!key.startsWith(`${STORE}:`) || typeof secret?.salt !== 'string' || typeof secret.value !== 'string') throw new Error(`“${key}” is not an arena salt`);
    localStorage.setItem(key, JSON.stringify(secret));
    n++;
  }
  return n;
}

function whole(label: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${label} must be a whole number from ${min} to ${max}.`);
  return n;
}

function tokens(label: string, text: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(text.trim())) throw new Error(`${label}: “${text}” is not an amount of BNTY.`);
  return parseUnits(text.trim(), 18);
}

/** Shared page furniture: messages, and running a step with its errors explained. */
function runner(d: Deployment) {
  const messages = h('div', { 'aria-live': 'polite' });
  const act = async (label: string, step: () => Promise<unknown>, after: () => Promise<void>) => {
    try {
      messages.replaceChildren(status('info', `${label}…`));
      await step();
      messages.replaceChildren(status('ok', `${label}: done.`, 'arena-ok'));
      await after();
    } catch (err) {
      const why = explain(err, d.errors);
      const el = status('error', why.message, 'tx-error');
      if (why.errorName) el.dataset.error = why.errorName;
      messages.replaceChildren(el);
    }
  };
  return { messages, act };
}

function saltsSection(): HTMLElement {
  const box = h('textarea', { id: 'salts', rows: 4, cols: 60, 'aria-label': 'Arena salts (JSON)' });
  const note = h('span', { role: 'status' });
  return h('section', { class: 'card' },
    h('h2', {}, 'Your salts'),
    h('p', { class: 'muted' }, 'Your commitments can only be revealed with the salts this browser keeps. Export them to keep a copy or to play from another browser; import them there.'),
    box,
    h('p', {},
      h('button', { type: 'button', id: 'export-salts', onclick: () => { box.value = exportSecrets(); note.textContent = 'Exported.'; } }, 'Export'), ' ',
      h('button', { type: 'button', id: 'import-salts', onclick: () => { try { note.textContent = `Imported ${importSecrets(box.value)} salt(s).`; } catch (err) { note.textContent = `Not imported: ${(err as Error).message}`; } } }, 'Import'), ' ',
      note));
}

/** `#/arena`: the games and a form to create one. */
export function arenaPage(view: HTMLElement, d: Deployment, wallets: Wallets): () => void {
  const arena = d.address('RankifyArena');
  const { messages, act } = runner(d);
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading games…'));
  const field = (id: string, label: string, value: string) => {
    const input = h('input', { id, name: id, value, size: 8, autocomplete: 'off' });
    return [input, h('label', { for: id }, label, input)] as const;
  };
  const [players, playersField] = field('players', 'Players', '3');
  const [turns, turnsField] = field('turns', 'Turns', '1');
  const [credits, creditsField] = field('credits', 'Vote credits', '100');
  const [phaseSecs, phaseField] = field('phase-secs', 'Seconds per phase', '600');
  const [fee, feeField] = field('join-fee', 'Join fee (BNTY)', '');
  const [stake, stakeField] = field('stake', 'Stake (BNTY)', '0.1');
  const [about, aboutField] = field('about', 'Description', 'A game from the web app');
  const form = h('form', {}, playersField, turnsField, creditsField, phaseField, feeField, stakeField, aboutField,
    h('p', {}, h('button', { type: 'submit', id: 'create-game', class: 'primary' }, 'Create game')));
  void (wallets.reader.readContract({ address: arena, abi: d.abis.RankifyArena, functionName: 'minJoinFee', args: [1n] }) as Promise<bigint>)
    .then((min) => { if (!fee.value) fee.value = formatUnits(min, 18); }).catch(() => undefined);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    let params;
    let session;
    try {
      session = wallets.ready();
      const n = whole('Players', players.value, 2, 16);
      const secs = BigInt(whole('Seconds per phase', phaseSecs.value, 1, 30 * 86400));
      params = {
        rank: 1n, minPlayers: n, maxPlayers: n, turns: whole('Turns', turns.value, 1, 100), maxOvertimeTurns: 0,
        voteCredits: BigInt(whole('Vote credits', credits.value, 1, 1_000_000)), joinDuration: 86400n,
        proposingDuration: secs, votingDuration: secs, revealDuration: secs,
        joinFee: tokens('Join fee', fee.value), stake: tokens('Stake', stake.value), metadataURI: about.value.trim(),
      };
    } catch (err) {
      messages.replaceChildren(status('error', (err as Error).message, 'input-error'));
      return;
    }
    const s = session;
    void act('Create the game', async () => {
      const receipt = await send(d, wallets, s, { address: arena, abi: d.abis.RankifyArena, functionName: 'createGame', args: [params] });
      const [created] = parseEventLogs({ abi: d.abis.RankifyArena, logs: receipt.logs, eventName: 'GameCreated' });
      const gameId = (created?.args as { gameId?: bigint } | undefined)?.gameId;
      if (gameId !== undefined) location.hash = `#/arena/${gameId}`;
    }, async () => undefined);
  });

  async function load(): Promise<void> {
    const data = await graphql<{ games: { id: string; creator: string; playerCount: number; maxPlayers: number; currentTurn: number; metadataURI: string; winner: string | null }[] }>(
      '{ games(first: 50, orderBy: id, orderDirection: desc) { id creator playerCount maxPlayers currentTurn metadataURI winner } }');
    list.replaceChildren(data.games.length === 0 ? h('p', { class: 'muted' }, 'No games yet.') : h('table', {},
      h('thead', {}, h('tr', {}, ...['Game', 'Description', 'Players', 'Turn', 'Winner'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...data.games.map((g) => h('tr', {},
        h('td', {}, h('a', { href: `#/arena/${g.id}` }, `#${g.id}`)), h('td', {}, g.metadataURI),
        h('td', {}, `${g.playerCount}/${g.maxPlayers}`), h('td', {}, String(g.currentTurn)), h('td', { class: 'mono' }, g.winner ? short(g.winner) : '—'))))));
  }
  view.replaceChildren(
    h('section', { class: 'card' }, h('h2', {}, 'Arena: create a game'),
      h('p', { class: 'muted' }, 'Players propose, then vote on each other’s proposals with quadratic votes, hidden by commit and reveal. The winner earns a rank and a Liquid Access Token.'),
      form, h('p', {}, faucetButton(d, wallets, messages)), messages),
    h('section', { class: 'card' }, h('h2', {}, 'Games'), list),
    saltsSection());
  void load().catch((err) => list.replaceChildren(status('error', (err as Error).message)));
  const timer = setInterval(() => void load().catch(() => undefined), 3000);
  return () => clearInterval(timer);
}

/** `#/arena/<id>`: one game, played by the connected wallet. */
export function gamePage(view: HTMLElement, d: Deployment, wallets: Wallets, id: string): () => void {
  const arena = d.address('RankifyArena');
  const abi = d.abis.RankifyArena;
  const gameId = BigInt(id);
  const { messages, act } = runner(d);
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading the game…'));
  const read = <T>(functionName: string, args: readonly unknown[]) => wallets.reader.readContract({ address: arena, abi, functionName, args }) as Promise<T>;
  let last = '';
  // What the player is typing survives the page's refreshes (they redraw the inputs).
  const drafts = { proposal: '', votes: new Map<number, string>() };

  async function refresh(force = false): Promise<void> {
    const [game, players, scores] = await Promise.all([read<Game>('game', [gameId]), read<Address[]>('players', [gameId]), read<bigint[]>('scores', [gameId])]);
    const data = await graphql<{ game: { proposals: { turn: number; content: string | null; revealed: boolean; player: { seat: number } }[] } | null }>(
      'query($id: ID!) { game(id: $id) { proposals(first: 1000) { turn content revealed player { seat } } } }', { id });
    const me = wallets.session?.address;
    const withdrawable = me ? await read<bigint>('withdrawable', [me]) : 0n;
    const key = JSON.stringify({ game, players, scores, data, me, withdrawable }, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    if (key === last && !force) return;
    last = key;
    body.replaceChildren(...render(game, players, scores, data.game?.proposals ?? [], withdrawable));
  }
  const after = () => refresh(true);

  function render(game: Game, players: Address[], scores: bigint[], proposals: { turn: number; content: string | null; revealed: boolean; player: { seat: number } }[], withdrawable: bigint): Node[] {
    const phase = PHASES[game.phase] ?? 'Unknown';
    const me = wallets.session?.address.toLowerCase();
    const seat = players.findIndex((p) => p.toLowerCase() === me);
    const nodes: Node[] = [
      h('p', {}, 'Phase: ', h('strong', { 'data-testid': 'game-phase' }, phase), game.turn ? ` · turn ${game.turn} of ${game.params.turns}` : '',
        ` · ${game.playerCount}/${game.params.maxPlayers} players · join fee ${formatUnits(game.params.joinFee, 18)} BNTY, stake ${formatUnits(game.params.stake, 18)} BNTY · ${game.params.voteCredits} vote credits`),
      h('p', { class: 'muted' }, game.params.metadataURI, ` · created by ${game.creator}`, game.phaseDeadline ? ` · phase ends ${new Date(Number(game.phaseDeadline) * 1000).toISOString()} (chain time)` : ''),
    ];
    const turnProposals = proposals.filter((p) => p.turn === game.turn);
    nodes.push(h('table', { 'data-testid': 'players' },
      h('thead', {}, h('tr', {}, ...['Seat', 'Player', 'Score', `Proposal (turn ${game.turn})`].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...players.map((p, i) => h('tr', {},
        h('td', {}, String(i)), h('td', { class: 'mono' }, p.toLowerCase() === me ? `${p} (you)` : p),
        h('td', {}, String(scores[i] ?? 0n)),
        h('td', {}, turnProposals.find((x) => x.player.seat === i)?.content ?? (turnProposals.some((x) => x.player.seat === i) ? 'committed' : '—')))))));
    if (phase === 'Ended') {
      nodes.push(h('p', { 'data-testid': 'game-winner' }, `Winner: seat ${game.winner} (${players[game.winner] ?? '?'})`));
    }
    const s = wallets.session;
    const actions: (Node | string)[] = [];
    const button = (idText: string, label: string, run: () => Promise<unknown>) =>
      h('button', { type: 'button', id: idText, onclick: () => void act(label, run, after) }, label);
    const ready = () => wallets.ready();
    if (phase === 'Joining') {
      if (seat < 0) {
        actions.push(button('join', 'Join', async () => {
          const session = ready();
          const need = game.params.joinFee + game.params.stake;
          const [, feeToken] = await read<[Address, Address, Address]>('config', []);
          const allowance = (await wallets.reader.readContract({ address: feeToken, abi: d.abis.BountyToken, functionName: 'allowance', args: [session.address, arena] })) as bigint;
          if (allowance < need) await send(d, wallets, session, { address: feeToken, abi: d.abis.BountyToken, functionName: 'approve', args: [arena, need] });
          await send(d, wallets, session, { address: arena, abi, functionName: 'join', args: [gameId] });
        }), ' ');
      }
      actions.push(button('start', 'Start the game', async () => send(d, wallets, ready(), { address: arena, abi, functionName: 'start', args: [gameId] })), ' ');
    }
    if (seat >= 0 && s && phase === 'Proposing') {
      const text = h('input', { id: 'proposal', name: 'proposal', size: 40, autocomplete: 'off', value: drafts.proposal });
      text.addEventListener('input', () => { drafts.proposal = text.value; });
      actions.push(h('label', { for: 'proposal' }, 'Your proposal', text), button('commit-proposal', 'Commit proposal', async () => {
        const session = ready();
        if (!drafts.proposal.trim()) throw new Error('Write a proposal first.');
        const secret: Secret = { value: drafts.proposal.trim(), salt: randomSalt() };
        const commitment = keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint16' }, { type: 'address' }, { type: 'string' }, { type: 'bytes32' }], [gameId, game.turn, session.address, secret.value, secret.salt]));
        localStorage.setItem(secretKey(d, gameId, game.turn, session.address, 'proposal'), JSON.stringify(secret));
        await send(d, wallets, session, { address: arena, abi, functionName: 'commitProposal', args: [gameId, game.turn, commitment] });
      }), ' ');
    }
    const reveal = (kind: 'proposal' | 'vote') => async () => {
      const session = ready();
      const stored = localStorage.getItem(secretKey(d, gameId, game.turn, session.address, kind));
      if (!stored) throw new Error(`This browser keeps no salt for your ${kind} in turn ${game.turn}: import your salts first.`);
      const secret = JSON.parse(stored) as Secret;
      const value = kind === 'proposal' ? secret.value : (JSON.parse(secret.value) as string[]).map(BigInt);
      await send(d, wallets, session, { address: arena, abi, functionName: kind === 'proposal' ? 'revealProposal' : 'revealVote', args: [gameId, game.turn, value, secret.salt] });
    };
    if (seat >= 0 && phase === 'ProposalReveal') actions.push(button('reveal-proposal', 'Reveal proposal', reveal('proposal')), ' ');
    if (seat >= 0 && s && phase === 'Voting') {
      const inputs = players.map((_, i) => {
        const input = h('input', { id: `vote-${i}`, name: `vote-${i}`, type: 'number', value: drafts.votes.get(i) ?? '0', size: 4, disabled: i === seat });
        input.addEventListener('input', () => drafts.votes.set(i, input.value));
        return input;
      });
      actions.push(h('fieldset', {}, h('legend', {}, `Votes per seat (the squares may add up to ${game.params.voteCredits} credits; not for yourself)`),
        ...inputs.map((input, i) => h('label', { for: `vote-${i}` }, `Seat ${i}`, input))),
      button('commit-vote', 'Commit vote', async () => {
        const session = ready();
        const votes = players.map((_, i) => (i === seat ? 0n : BigInt(whole(`Votes for seat ${i}`, drafts.votes.get(i) || '0', -1000, 1000))));
        const used = votes.reduce((sum, v) => sum + v * v, 0n);
        if (used > game.params.voteCredits) throw new Error(`These votes cost ${used} credits; you have ${game.params.voteCredits}.`);
        const secret: Secret = { value: JSON.stringify(votes.map(String)), salt: randomSalt() };
        const commitment = keccak256(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint16' }, { type: 'address' }, { type: 'int256[]' }, { type: 'bytes32' }], [gameId, game.turn, session.address, votes, secret.salt]));
        localStorage.setItem(secretKey(d, gameId, game.turn, session.address, 'vote'), JSON.stringify(secret));
        await send(d, wallets, session, { address: arena, abi, functionName: 'commitVote', args: [gameId, game.turn, commitment] });
      }), ' ');
    }
    if (seat >= 0 && phase === 'VoteReveal') actions.push(button('reveal-vote', 'Reveal vote', reveal('vote')), ' ');
    if (['Proposing', 'ProposalReveal', 'Voting', 'VoteReveal'].includes(phase)) {
      actions.push(button('advance', 'Close this phase', async () => send(d, wallets, ready(), { address: arena, abi, functionName: 'advance', args: [gameId] })), ' ');
    }
    if (withdrawable > 0n) {
      actions.push(button('withdraw', `Withdraw ${formatUnits(withdrawable, 18)} BNTY`, async () => send(d, wallets, ready(), { address: arena, abi, functionName: 'withdraw', args: [] })));
    }
    if (!s) actions.push(h('span', { class: 'muted' }, 'Connect a wallet to play.'));
    nodes.push(h('div', { class: 'row' }, ...actions));
    return nodes;
  }

  view.replaceChildren(
    h('section', { class: 'card' }, h('h2', {}, `Arena game #${id}`), body, h('p', {}, faucetButton(d, wallets, messages)), messages),
    saltsSection());
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      await refresh();
    } catch (err) {
      body.replaceChildren(status('error', explain(err, d.errors).message));
    }
    if (!stopped) setTimeout(() => void tick(), 1500);
  };
  void tick();
  const unsubscribe = wallets.subscribe(() => {
    last = '';
    drafts.proposal = '';
    drafts.votes.clear();
  });
  return () => {
    stopped = true;
    unsubscribe();
  };
}
