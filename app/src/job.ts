// The job page: a requested job watched live — seats, each round's proposals and ballots, the
// support per answer across rounds, the halting point, the settled answer and the escrow's
// challenge window with a dispute button.
import { type Hex, decodeFunctionData, formatUnits, hexToString } from 'viem';
import { type Deployment, graphql } from './config';
import { h, short, status } from './dom';
import { explain } from './errors';
import { supportChart } from './chart';
import { SIDE, drawCells } from './pad';
import { type ChoiceInput, decodeChoice, describeAnswer, labelsOf } from './question';
import { send } from './tx';
import type { Wallets } from './wallet';

interface JobData {
  id: string;
  status: string;
  requester: string;
  kind: string;
  input: Hex;
  bounty: string;
  agentsWanted: number;
  maxRounds: number;
  seats: string[] | null;
  haltReason: string | null;
  haltedAfter: number | null;
  escrow: { id: string; state: string; buyer: string; amount: string; challengeEndsAt: string | null; challengeWindow: string } | null;
  settlement: { content: string; score: string; rounds: number; winner: { id: string } | null; transactionHash: Hex } | null;
  rounds: { round: number; scores: string[]; winnerSeat: string; hasWinner: boolean }[];
}

const QUERY = `query($id: ID!) { job(id: $id) {
  id status requester kind input bounty agentsWanted maxRounds seats haltReason haltedAfter
  escrow { id state buyer amount challengeEndsAt challengeWindow }
  settlement { content score rounds winner { id } transactionHash }
  rounds { round scores winnerSeat hasWinner }
} agents(first: 1000) { id metadataURI } }`;

interface TranscriptRound { contents: readonly string[]; votes: readonly (readonly bigint[])[] }
interface Transcript { agents: readonly string[]; rounds: readonly TranscriptRound[] }

/** The model name in an agent's metadata URI (`nsed://model/<name>`), else the URI. */
export function modelName(uri: string | undefined): string {
  if (!uri) return 'unknown';
  return uri.startsWith('nsed://model/') ? uri.slice('nsed://model/'.length) : uri;
}

/** Renders job `id` into `view` and keeps it current; returns the cleanup. */
export function jobPage(view: HTMLElement, d: Deployment, wallets: Wallets, id: string): () => void {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading the job…'));
  const disputeMessages = h('div', { 'aria-live': 'polite' });
  view.replaceChildren(h('section', { class: 'card' }, h('h2', {}, `Job #${id}`), body), disputeMessages);
  let last = '';
  let transcript: Transcript | undefined;
  let chainNow = 0n;
  let stopped = false;

  async function refresh(): Promise<void> {
    const data = await graphql<{ job: JobData | null; agents: { id: string; metadataURI: string }[] }>(QUERY, { id });
    const job = data.job;
    if (!job) {
      body.replaceChildren(status('info', `Job ${id} is not indexed yet (or does not exist); waiting…`, 'job-missing'));
      return;
    }
    if (job.settlement && !transcript) {
      try {
        const tx = await wallets.reader.getTransaction({ hash: job.settlement.transactionHash });
        const call = decodeFunctionData({ abi: d.abis.DeliberationMarket, data: tx.input });
        if (call.functionName === 'settleJob') transcript = (call.args as unknown as [bigint, Transcript])[1];
      } catch {
        // The rounds' scores still come from the indexer; only proposals and ballots are missing.
      }
    }
    chainNow = (await wallets.reader.getBlock()).timestamp;
    const key = JSON.stringify(job) + String(Boolean(transcript)) + String(chainNow / 5n) + (wallets.session?.address ?? '');
    if (key === last) return;
    last = key;
    const models = new Map(data.agents.map((a) => [a.id.toLowerCase(), modelName(a.metadataURI)]));
    body.replaceChildren(...render(job, models));
  }

  function render(job: JobData, models: Map<string, string>): Node[] {
    const nodes: Node[] = [];
    const seats = transcript?.agents.map((a) => a.toLowerCase()) ?? job.seats?.map((s) => s.toLowerCase()) ?? [];
    let preview: HTMLElement = h('canvas', { width: SIDE * 8, height: SIDE * 8, role: 'img', 'aria-label': 'The digit that was asked' });
    let choice: ChoiceInput | undefined;
    try {
      const text = hexToString(job.input);
      choice = job.kind === 'text-choice' ? decodeChoice(text) : undefined;
      if (choice) {
        const labels = labelsOf(choice);
        preview = h('div', { 'data-testid': 'question' },
          h('p', {}, h('strong', {}, 'Question: '), choice.question),
          h('ol', { class: 'options', 'data-testid': 'options' }, ...choice.choices.map((c, i) => h('li', { 'data-label': labels[i] ?? '' }, h('strong', {}, `${labels[i] ?? '?'}. `), c))));
      } else if (job.kind === 'text') {
        const q = (JSON.parse(text) as { question?: unknown }).question;
        if (typeof q === 'string') preview = h('p', { 'data-testid': 'question' }, h('strong', {}, 'Question: '), q);
      } else {
        const input = JSON.parse(text) as { values?: number[] };
        if (Array.isArray(input.values) && input.values.length === SIDE * SIDE) drawCells(preview as HTMLCanvasElement, input.values);
      }
    } catch {
      // An input the page cannot read: no preview.
    }
    const say = (answer: string) => describeAnswer(choice, answer);
    nodes.push(h('div', { class: 'row' },
      preview,
      h('div', {},
        h('p', {}, 'Status: ', h('strong', { 'data-testid': 'job-status' }, job.status)),
        h('p', { class: 'muted' }, `${job.kind} · bounty ${formatUnits(BigInt(job.bounty), 18)} BNTY · ${job.agentsWanted} agents · at most ${job.maxRounds} rounds`),
        h('p', { class: 'muted mono', title: job.requester }, `requested by ${job.requester}`),
      ),
    ));
    if (job.settlement) {
      const winner = job.settlement.winner?.id.toLowerCase() ?? '';
      nodes.push(h('h3', {}, 'Settled answer'),
        h('p', {}, h('span', { class: 'answer', 'data-testid': 'answer', 'data-answer': job.settlement.content }, job.settlement.content,
          say(job.settlement.content) === job.settlement.content ? null : h('span', { class: 'option-text' }, say(job.settlement.content).slice(job.settlement.content.length))),
          ` won by ${models.get(winner) ?? 'agent'} (`, h('span', { class: 'mono', title: winner }, short(winner)), `) after ${job.settlement.rounds} round(s)`),
        h('p', { 'data-testid': 'halt' }, `Halted after round ${job.haltedAfter ?? job.settlement.rounds} of at most ${job.maxRounds}: ${job.haltReason ?? 'unknown reason'}.`));
    } else if (job.status === 'Requested') {
      nodes.push(status('info', 'Waiting for a keeper to claim the job and draw its seats…'));
    } else if (job.status === 'Claimed') {
      nodes.push(status('info', 'The seated agents are deliberating off chain; their rounds appear here once the keeper settles the transcript.'));
    } else {
      nodes.push(status('info', `The job is ${job.status}.`));
    }

    if (seats.length) {
      nodes.push(h('h3', {}, 'Seats'), h('table', { 'data-testid': 'seats' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Seat'), h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Model'))),
        h('tbody', {}, ...seats.map((agent, i) => h('tr', {}, h('td', {}, String(i)), h('td', { class: 'mono', title: agent }, agent), h('td', {}, models.get(agent) ?? 'unknown')))),
      ));
    }

    const rounds = [...job.rounds].sort((a, b) => a.round - b.round);
    if (rounds.length) {
      // Support per answer: the quadratic-vote scores of the seats proposing it, round by round.
      const support = new Map<string, number[]>();
      rounds.forEach((round, r) => {
        const contents = transcript?.rounds[r]?.contents;
        round.scores.forEach((score, seat) => {
          const answer = contents?.[seat] !== undefined ? say(contents[seat]) : `seat ${seat}`;
          const line = support.get(answer) ?? new Array<number>(rounds.length).fill(0);
          line[r] = (line[r] ?? 0) + Number(score);
          support.set(answer, line);
        });
      });
      nodes.push(h('h3', {}, 'Support per answer across rounds'), supportChart(support, rounds.length, job.haltedAfter ?? rounds.length));
      nodes.push(h('h3', {}, 'Rounds'));
      for (const [r, round] of rounds.entries()) {
        const detail = transcript?.rounds[r];
        nodes.push(h('table', { 'data-testid': `round-${round.round}` },
          h('caption', { class: 'muted' }, `Round ${round.round}${round.hasWinner ? `: seat ${round.winnerSeat} leads` : ': no supported winner'}`),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Seat'), h('th', { scope: 'col' }, 'Model'), h('th', { scope: 'col' }, 'Proposal'), h('th', { scope: 'col' }, 'Ballot (votes per seat)'), h('th', { scope: 'col' }, 'Score'))),
          h('tbody', {}, ...round.scores.map((score, seat) => h('tr', {},
            h('td', {}, String(seat)),
            h('td', {}, models.get(seats[seat] ?? '') ?? 'unknown'),
            h('td', {}, detail?.contents[seat] !== undefined ? say(detail.contents[seat]) : '—'),
            h('td', { class: 'mono' }, detail?.votes[seat] ? `[${detail.votes[seat].map(String).join(', ')}]` : '—'),
            h('td', {}, score),
          ))),
        ));
      }
    }

    if (job.escrow) nodes.push(...escrow(job));
    return nodes;
  }

  function escrow(job: JobData): Node[] {
    const deal = job.escrow;
    if (!deal) return [];
    const ends = deal.challengeEndsAt ? BigInt(deal.challengeEndsAt) : 0n;
    const open = deal.state === 'Delivered' && chainNow <= ends;
    const left = open ? Number(ends - chainNow) : 0;
    const window = deal.state !== 'Delivered' ? `The escrow is ${deal.state}.`
      : open ? `The challenge window is open for ${Math.floor(left / 3600)} h ${Math.floor((left % 3600) / 60)} min more (chain time); the requester may dispute until then.`
        : 'The challenge window has closed; anyone may release the deal.';
    const nodes: Node[] = [h('h3', {}, 'Escrow'), h('p', { 'data-testid': 'escrow' }, `Deal #${deal.id}, ${formatUnits(BigInt(deal.amount), 18)} BNTY. ${window}`)];
    if (deal.state === 'Delivered') {
      const mine = wallets.session?.address.toLowerCase() === deal.buyer.toLowerCase();
      nodes.push(h('button', { type: 'button', id: 'dispute', onclick: () => void dispute(BigInt(deal.id)) }, 'Dispute the outcome'),
        mine ? h('span') : h('span', { class: 'muted' }, ' (only the requester may dispute)'));
    }
    return nodes;
  }

  async function dispute(dealId: bigint): Promise<void> {
    const escrowAddress = d.address('TripartiteEscrow');
    const call = { address: escrowAddress, abi: d.abis.TripartiteEscrow, functionName: 'dispute', args: [dealId] };
    try {
      const session = wallets.ready();
      disputeMessages.replaceChildren(status('info', 'Dispute (confirm in your wallet)…'));
      try {
        await send(d, wallets, session, call);
      } catch (err) {
        const why = explain(err, d.errors);
        if (why.errorName !== 'TripartiteEscrowDisputeBondNotApproved') throw err;
        // The escrow takes a bond with a dispute: approve it, then dispute again.
        const token = d.address('BountyToken');
        const amount = why.args?.[1];
        if (typeof amount !== 'bigint') throw err;
        disputeMessages.replaceChildren(status('info', `Approve the dispute bond of ${formatUnits(amount, 18)} BNTY (confirm in your wallet)…`));
        await send(d, wallets, session, { address: token, abi: d.abis.BountyToken, functionName: 'approve', args: [escrowAddress, amount] });
        await send(d, wallets, session, call);
      }
      disputeMessages.replaceChildren(status('ok', 'Disputed: the guild rules on it.', 'disputed'));
    } catch (err) {
      const why = explain(err, d.errors);
      const el = status('error', why.message, 'tx-error');
      if (why.errorName) el.dataset.error = why.errorName;
      disputeMessages.replaceChildren(el);
    }
  }

  const tick = async (): Promise<void> => {
    if (stopped) return;
    try {
      await refresh();
    } catch (err) {
      body.replaceChildren(status('error', explain(err, d.errors).message));
    }
    if (!stopped) setTimeout(() => void tick(), 1000);
  };
  void tick();
  const unsubscribe = wallets.subscribe(() => { last = ''; });
  return () => {
    stopped = true;
    unsubscribe();
  };
}
