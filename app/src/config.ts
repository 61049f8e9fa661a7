// The deployment the server describes: chain, endpoints, addresses (`/config.json`) and the
// compiled ABIs (`/abi/<Contract>.json`). Nothing here is hand-copied from the contracts.
import type { Abi, Address } from 'viem';

/** A custom error of an ABI. */
export type AbiError = Extract<Abi[number], { type: 'error' }>;

/** What `/config.json` holds. */
export interface AppConfig {
  network: string;
  chainId: number;
  rpcUrl: string;
  graphqlUrl: string;
  deployer: Address;
  contracts: Record<string, Address>;
  devChain: boolean;
}

/** The contracts whose ABIs the app loads. */
export const CONTRACTS = [
  'DeliberationMarket',
  'BountyToken',
  'TripartiteEscrow',
  'AgentRegistry',
  'LiquidAccessToken',
  'RankToken',
  'GuildToken',
  'GuildGovernor',
  'GuildTimelock',
  'RankifyArena',
  'LatConverter',
] as const;
export type ContractName = (typeof CONTRACTS)[number];

/** The configuration and every ABI, and the custom errors of all of them together. */
export interface Deployment {
  config: AppConfig;
  abis: Record<ContractName, Abi>;
  /** Every custom error of every loaded contract, deduplicated by signature. */
  errors: AbiError[];
  address(name: ContractName): Address;
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** Loads the configuration and the ABIs from the server. */
export async function loadDeployment(): Promise<Deployment> {
  const config = await getJson<AppConfig>('/config.json');
  const loaded = await Promise.all(CONTRACTS.map((name) => getJson<Abi>(`/abi/${name}.json`)));
  const abis = Object.fromEntries(CONTRACTS.map((name, i) => [name, loaded[i]])) as Record<ContractName, Abi>;
  const seen = new Set<string>();
  const errors: AbiError[] = [];
  for (const abi of loaded) {
    for (const item of abi) {
      if (item.type !== 'error') continue;
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(',')})`;
      if (!seen.has(key)) {
        seen.add(key);
        errors.push(item);
      }
    }
  }
  return {
    config,
    abis,
    errors,
    address(name) {
      const address = config.contracts[name];
      if (!address) throw new Error(`the deployment has no ${name}`);
      return address;
    },
  };
}

/** Queries the indexer's GraphQL API (through the server's `/graphql`). */
export async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok) throw new Error(`the indexer answered HTTP ${response.status}`);
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`the indexer: ${body.errors.map((e) => e.message).join('; ')}`);
  if (!body.data) throw new Error('the indexer returned no data');
  return body.data;
}
