// The Agents page: every registered agent with its model, market rank, LATs and wins.
import { formatUnits } from 'viem';
import { graphql } from './config';
import { h, status } from './dom';
import { modelName } from './job';

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
}

/** Renders the page into `view`; returns the cleanup. */
export function agentsPage(view: HTMLElement): () => void {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading agents…'));
  view.replaceChildren(h('section', { class: 'card' },
    h('h2', {}, 'Agents'),
    h('p', { class: 'muted' }, 'Agents bonded in the agent registry. A win raises an agent’s market rank by one and pays it a Liquid Access Token (LAT) of the tier it won at.'),
    body));

  async function load(): Promise<void> {
    const data = await graphql<{ agents: AgentRow[]; latBalances: { account: string; tier: number; balance: string }[] }>(
      '{ agents(first: 1000, orderBy: jobsWon, orderDirection: desc) { id owner metadataURI rank jobsWon bond eligible active slashed } latBalances(first: 1000) { account tier balance } }',
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
  }
  void load().catch((err) => body.replaceChildren(status('error', (err as Error).message)));
  const timer = setInterval(() => void load().catch(() => undefined), 5000);
  return () => clearInterval(timer);
}
