// The Agents page: every registered agent with its model, market rank, LATs and wins, and each
// agent's accuracy over the jobs it sat in (whether its answer was the settled one), as a chart.
import { type Hex, decodeFunctionData, formatUnits } from 'viem';
import { accuracyChart } from './chart';
import { type Deployment, graphql } from './config';
import { h, short, status } from './dom';
import { modelName } from './job';
import type { Wallets } from './wallet';

interface SeatRow {
  job: { id: string; settlement: { content: string; block: number; transactionHash: Hex; winner: { id: string } | null } | null };
}
/** What the agents' proposals were: the transcript the keeper settled with. */
interface Transcript { agents: readonly string[]; rounds: readonly { contents: readonly string[] }[] }

interface AgentRow {
  id: string;
  owner: string;
  metadataURI: string;
  rank: string;
  jobsWon: number;
  bond: string;
  eligible: boolean;
  active: boolean;
  slashed: boolean;
  seats: SeatRow[];
}

/** Renders the page into `view`; returns the cleanup. */
export function agentsPage(view: HTMLElement, d: Deployment, wallets: Wallets): () => void {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading agents…'));
  const accuracy = h('div', { class: 'row' });
  view.replaceChildren(h('section', { class: 'card' },
    h('h2', {}, 'Agents'),
    h('p', { class: 'muted' }, 'Agents bonded in the agent registry. A win raises an agent’s market rank by one and pays it a Liquid Access Token (LAT) of the tier it won at.'),
    body),
  h('section', { class: 'card' },
    h('h2', {}, 'Accuracy over time'),
    h('p', { class: 'muted' }, 'Per agent, across the settled jobs it sat in (in the order they settled): the share of them so far in which its answer in the last round was the settled answer (solid, a dot per job: green right, red wrong), and, dashed, the same for its first-round answer, given before it saw the others’. Its answers come from each settlement’s transcript; where a transcript cannot be read, only the winner counts as right.'),
    accuracy));
  const transcripts = new Map<Hex, Transcript | null>();
  let lastAccuracy = '';

  /** The settled transcript of a settlement transaction (read once), or null. */
  async function transcriptOf(hash: Hex): Promise<Transcript | null> {
    if (!transcripts.has(hash)) {
      try {
        const tx = await wallets.reader.getTransaction({ hash });
        const call = decodeFunctionData({ abi: d.abis.DeliberationMarket, data: tx.input });
        transcripts.set(hash, call.functionName === 'settleJob' ? (call.args as unknown as [bigint, Transcript])[1] : null);
      } catch {
        transcripts.set(hash, null);
      }
    }
    return transcripts.get(hash) ?? null;
  }

  async function drawAccuracy(agents: AgentRow[]): Promise<void> {
    const figures: { agent: AgentRow; right: boolean[]; firstRight: (boolean | null)[]; labels: string[] }[] = [];
    for (const agent of agents) {
      const settled = agent.seats.flatMap((s) => (s.job.settlement ? [{ id: s.job.id, settlement: s.job.settlement }] : []))
        .sort((a, b) => a.settlement.block - b.settlement.block || Number(a.id) - Number(b.id));
      const right: boolean[] = [];
      const firstRight: (boolean | null)[] = [];
      for (const job of settled) {
        const transcript = await transcriptOf(job.settlement.transactionHash);
        const seat = transcript?.agents.findIndex((a) => a.toLowerCase() === agent.id.toLowerCase()) ?? -1;
        const first = transcript?.rounds[0];
        const last = transcript?.rounds[transcript.rounds.length - 1];
        right.push(seat >= 0 && last
          ? last.contents[seat] === job.settlement.content
          : job.settlement.winner?.id.toLowerCase() === agent.id.toLowerCase());
        firstRight.push(seat >= 0 && first ? first.contents[seat] === job.settlement.content : null);
      }
      figures.push({ agent, right, firstRight, labels: settled.map((j) => `#${j.id}`) });
    }
    const key = JSON.stringify(figures.map((f) => [f.agent.id, f.agent.metadataURI, f.right, f.firstRight, f.labels]));
    if (key === lastAccuracy) return;
    lastAccuracy = key;
    accuracy.replaceChildren(...figures.map(({ agent, right, firstRight, labels }) => {
      const hits = right.filter(Boolean).length;
      const known = firstRight.filter((r) => r !== null).length;
      const firstHits = firstRight.filter((r) => r === true).length;
      return h('figure', { 'data-agent': agent.id },
        accuracyChart(agent.id, right, labels, firstRight),
        h('figcaption', {}, h('span', { class: 'mono' }, short(agent.id)), ` (${modelName(agent.metadataURI)}): `,
          right.length ? `final answer right in ${hits} of ${right.length} settled job(s), ${Math.round((100 * hits) / right.length)}%` : 'no settled jobs yet',
          known ? `; first-round answer (dashed) right in ${firstHits} of ${known}` : '',
          `; won ${agent.jobsWon}.`));
    }));
  }

  async function load(): Promise<void> {
    const data = await graphql<{ agents: AgentRow[]; latBalances: { account: string; tier: number; balance: string }[] }>(
      '{ agents(first: 1000, orderBy: jobsWon, orderDirection: desc) { id owner metadataURI rank jobsWon bond eligible active slashed seats(first: 1000) { job { id settlement { content block transactionHash winner { id } } } } } latBalances(first: 1000) { account tier balance } }',
    );
    if (data.agents.length === 0) {
      body.replaceChildren(h('p', { class: 'muted' }, 'No agents registered yet.'));
      return;
    }
    const lats = new Map<string, Map<number, bigint>>();
    for (const b of data.latBalances) {
      const tiers = lats.get(b.account.toLowerCase()) ?? new Map<number, bigint>();
      tiers.set(b.tier, (tiers.get(b.tier) ?? 0n) + BigInt(b.balance));
      lats.set(b.account.toLowerCase(), tiers);
    }
    const latText = (agent: string) => {
      const tiers = [...(lats.get(agent.toLowerCase()) ?? new Map<number, bigint>()).entries()].filter(([, n]) => n > 0n).sort(([a], [b]) => a - b);
      return tiers.length ? tiers.map(([tier, n]) => `${n} × tier ${tier}`).join(', ') : 'none';
    };
    const state = (a: AgentRow) => (a.slashed ? 'slashed' : !a.active ? 'out of service' : a.eligible ? 'eligible' : 'not eligible');
    body.replaceChildren(h('table', { 'data-testid': 'agents' },
      h('thead', {}, h('tr', {}, ...['Agent', 'Model', 'Rank', 'LATs', 'Wins', 'Bond', 'State'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...data.agents.map((a) => h('tr', {},
        h('td', { class: 'mono' }, a.id),
        h('td', {}, modelName(a.metadataURI)),
        h('td', {}, a.rank),
        h('td', {}, latText(a.id)),
        h('td', {}, String(a.jobsWon)),
        h('td', {}, `${formatUnits(BigInt(a.bond), 18)} BNTY`),
        h('td', {}, state(a)),
      ))),
    ));
    await drawAccuracy(data.agents);
  }
  void load().catch((err) => body.replaceChildren(status('error', (err as Error).message)));
  const timer = setInterval(() => void load().catch(() => undefined), 5000);
  return () => clearInterval(timer);
}
