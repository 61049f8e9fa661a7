// Guild page sections: what converting LATs into guild votes gives now (LatConverter's quote,
// its epoch state and the epoch's price curve), and the authority nodes with the DIDs they issued.
import { formatUnits } from 'viem';
import { priceCurve } from './chart';
import { type Deployment, graphql } from './config';
import { h, short, status } from './dom';
import { explain } from './errors';
import type { Wallets } from './wallet';

const WAD = 10n ** 18n;
/** Points of the plotted price curve, from nothing converted to the epoch's cap. */
const CURVE_POINTS = 41;

interface Params { basePrice: bigint; slope: bigint; capBps: number; epochLength: bigint; vestingPeriod: bigint }

/** Value units of `amount` LATs of `tier`: `amount · 2^(min(tier, 64) − 1)`. */
export function latValue(amount: bigint, tier: number): bigint {
  return amount << BigInt(Math.min(tier, 64) - 1);
}

/** The marginal price `p0 · (1 + k·c/(S·WAD))` in value units per whole token, as a float. */
function marginalPrice(p: Params, base: bigint, converted: bigint): number {
  if (base === 0n) return Number(p.basePrice);
  // Scaled by 1e9 to keep a float's precision for small shares.
  const share = Number((p.slope * converted * 1_000_000_000n) / (base * WAD)) / 1e9;
  return Number(p.basePrice) * (1 + share);
}

/** The conversion quote section; returns it and its refresh. */
export function conversionSection(d: Deployment, wallets: Wallets): { section: HTMLElement; refresh: () => Promise<void> } {
  const converter = d.address('LatConverter');
  const abi = d.abis.LatConverter;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    wallets.reader.readContract({ address: converter, abi, functionName, args }) as Promise<T>;
  const amount = h('input', { id: 'lat-amount', name: 'lat-amount', value: '1', inputmode: 'numeric', size: 8, autocomplete: 'off' });
  const tier = h('input', { id: 'lat-tier', name: 'lat-tier', value: '1', inputmode: 'numeric', size: 4, autocomplete: 'off' });
  const result = h('div', { 'aria-live': 'polite' });
  const state = h('div', { 'data-testid': 'epoch-state' }, h('p', { class: 'muted' }, 'Loading the converter…'));
  const curve = h('div', {});
  const form = h('form', {},
    h('label', { for: 'lat-amount' }, 'LATs to convert', amount),
    h('label', { for: 'lat-tier' }, 'of tier', tier),
    h('button', { type: 'submit', id: 'quote' }, 'Quote'));

  async function quote(): Promise<void> {
    const n = amount.value.trim();
    const t = tier.value.trim();
    if (!/^\d+$/.test(n) || BigInt(n) === 0n) {
      result.replaceChildren(status('error', `“${amount.value}” is not a number of LATs: type a whole number above 0.`, 'input-error'));
      return;
    }
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 255) {
      result.replaceChildren(status('error', `“${tier.value}” is not a tier: type a whole number from 1 to 255.`, 'input-error'));
      return;
    }
    const value = latValue(BigInt(n), Number(t));
    try {
      const [units, epoch] = await Promise.all([read<bigint>('quote', [value]), read<readonly [bigint, bigint, bigint, bigint]>('epochState')]);
      const remaining = epoch[3];
      const capped = units > remaining;
      const p = h('p', { 'data-testid': 'conversion-quote', 'data-units': units.toString(), 'data-value': value.toString() },
        `${n} tier-${t} LAT(s), worth ${value} value unit(s), would mint `, h('strong', {}, `${formatUnits(units, 18)} GUILD`),
        ' now (votes once the position vests, is claimed and delegated)',
        capped ? `; the epoch's cap leaves only ${formatUnits(remaining, 18)} GUILD, so a conversion would be filled up to it.` : '.');
      result.replaceChildren(p);
    } catch (err) {
      result.replaceChildren(status('error', explain(err, d.errors).message, 'tx-error'));
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void quote();
  });

  let last = '';
  async function refresh(): Promise<void> {
    const [p, epoch] = await Promise.all([read<Params>('params'), read<readonly [bigint, bigint, bigint, bigint]>('epochState')]);
    const [number, base, converted, remaining] = epoch;
    const key = JSON.stringify([p, epoch], (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    if (key === last) return;
    last = key;
    const cap = (base * BigInt(p.capBps)) / 10_000n;
    const ends = (number + 1n) * p.epochLength;
    state.replaceChildren(
      h('p', {}, `Epoch ${number} (every ${p.epochLength} s; ends ${new Date(Number(ends) * 1000).toISOString()}, chain time): base supply ${formatUnits(base, 18)} GUILD, converted ${formatUnits(converted, 18)}, `,
        `${formatUnits(remaining, 18)} GUILD left under the cap of ${p.capBps / 100}% (${formatUnits(cap, 18)}).`),
      h('p', { class: 'muted' }, `Base price ${p.basePrice} value unit(s) per GUILD, slope ${formatUnits(p.slope, 18)} (the price rises by that multiple of the base price once the whole base supply is converted in one epoch); positions vest for ${p.vestingPeriod} s.`));
    const toTokens = (units: bigint) => Number(units / 10n ** 12n) / 1e6;
    const points: [number, number][] = [];
    for (let i = 0; i < CURVE_POINTS; i++) {
      const c = (cap * BigInt(i)) / BigInt(CURVE_POINTS - 1);
      points.push([toTokens(c), marginalPrice(p, base, c)]);
    }
    curve.replaceChildren(priceCurve(points, toTokens(converted), 'GUILD converted this epoch', 'value units per GUILD'));
    await quote();
  }

  const section = h('section', { class: 'card' },
    h('h2', {}, 'Convert LATs to guild votes'),
    h('p', { class: 'muted' }, 'The LAT converter burns Liquid Access Tokens of approved assets for guild tokens that vest. A tier-t LAT is worth 2^(t−1) value units; the price per GUILD rises with what the epoch has converted, up to a cap per epoch.'),
    form, result, state, curve);
  // A failed read is shown in place of the epoch's state (and the next refresh draws again).
  const shown = () => refresh().catch((err) => {
    last = '';
    state.replaceChildren(status('error', `The converter could not be read: ${explain(err, d.errors).message}`));
  });
  return { section, refresh: shown };
}

interface AuthorityNode {
  id: string;
  jurisdiction: string;
  geoCell: string;
  metadataURI: string;
  origin: string;
  active: boolean;
  revokedReason: string;
  dids: { id: string; role: string; owner: string; issuedAtBlock: number }[];
}

/** The authority nodes and the DIDs each issued, from the indexer; returns it and its refresh. */
export function authoritySection(): { section: HTMLElement; refresh: () => Promise<void> } {
  const body = h('div', { 'data-testid': 'authorities' }, h('p', { class: 'muted' }, 'Loading authority nodes…'));
  let last = '';
  async function refresh(): Promise<void> {
    const data = await graphql<{ authorityNodes: AuthorityNode[] }>(
      '{ authorityNodes(first: 100) { id jurisdiction geoCell metadataURI origin active revokedReason dids(first: 100) { id role owner issuedAtBlock } } }');
    const key = JSON.stringify(data);
    if (key === last) return;
    last = key;
    if (data.authorityNodes.length === 0) {
      body.replaceChildren(h('p', { class: 'muted', 'data-testid': 'no-authorities' }, 'No authority nodes yet: a node is admitted by burning ETH in the authority registry or by the guild’s grant.'));
      return;
    }
    body.replaceChildren(h('table', {},
      h('thead', {}, h('tr', {}, ...['Node', 'Admitted by', 'State', 'Jurisdiction', 'Geo cell', 'Metadata', 'DIDs issued'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...data.authorityNodes.map((n) => h('tr', { 'data-node': n.id },
        h('td', { class: 'mono' }, n.id),
        h('td', {}, n.origin),
        h('td', {}, n.active ? 'active' : `revoked${n.revokedReason ? `: ${n.revokedReason}` : ''}`),
        h('td', { class: 'mono' }, short(n.jurisdiction)),
        h('td', {}, n.geoCell),
        h('td', {}, n.metadataURI),
        h('td', {}, n.dids.length === 0 ? 'none' : h('ul', {}, ...n.dids.map((did) => h('li', { class: 'mono' },
          `did:ethr:${did.id} (role ${short(did.role)}, owner ${short(did.owner)}, block ${did.issuedAtBlock})`)))))))));
  }
  const section = h('section', { class: 'card' },
    h('h2', {}, 'Authority nodes and DIDs'),
    h('p', { class: 'muted' }, 'Authority nodes of the authority registry, and the DIDs (ERC-1056 identities of agents and experts) each has issued.'),
    body);
  const shown = () => refresh().catch((err) => {
    last = '';
    body.replaceChildren(status('error', `The indexer could not be read: ${(err as Error).message}`));
  });
  return { section, refresh: shown };
}
