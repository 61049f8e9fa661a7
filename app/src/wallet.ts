// Wallets: EIP-1193 providers found by EIP-6963 discovery (or a lone `window.ethereum`), chain
// switching, and on a local dev chain (31337) the dev wallet, which signs in the page with
// anvil's well-known test accounts (derived from its public test mnemonic).
import {
  type Account,
  type Address,
  type Chain,
  type EIP1193Provider,
  type PublicClient,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  http,
  numberToHex,
} from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import type { AppConfig } from './config';

/** The chain id of a local anvil: only there does the dev wallet exist. */
export const DEV_CHAIN_ID = 31337;
/** Anvil's public test mnemonic; its accounts are funded on every fresh anvil. */
const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** An EIP-6963 announcement. */
interface ProviderDetail {
  info: { uuid: string; name: string; icon: string; rdns: string };
  provider: EIP1193Provider;
}

/** A wallet the page can connect. */
export interface WalletChoice {
  id: string;
  name: string;
  dev: boolean;
}

/** A connected wallet. */
export interface Session {
  name: string;
  dev: boolean;
  address: Address;
  /** The account to sign with: a local account for the dev wallet, else the address. */
  account: Account | Address;
  wallet: WalletClient;
  /** The wallet's current chain id (the dev wallet is always on the app's chain). */
  chainId: number;
  provider?: EIP1193Provider;
}

type Listener = () => void;

/** Wallet state shared by every page. */
export class Wallets {
  readonly chain: Chain;
  readonly reader: PublicClient;
  session: Session | undefined;
  private readonly announced = new Map<string, ProviderDetail>();
  private readonly listeners = new Set<Listener>();

  constructor(readonly config: AppConfig) {
    const rpc = `${location.origin}/rpc`;
    this.chain = defineChain({
      id: config.chainId,
      name: config.devChain ? `Local dev chain (${config.network})` : config.network,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [config.rpcUrl] } },
    });
    this.reader = createPublicClient({ chain: this.chain, transport: http(rpc), pollingInterval: 500 });
    window.addEventListener('eip6963:announceProvider', (event) => {
      const detail = (event as CustomEvent<ProviderDetail>).detail;
      if (!detail?.info?.uuid || !detail.provider) return;
      this.announced.set(detail.info.uuid, detail);
      this.changed();
    });
    window.dispatchEvent(new Event('eip6963:requestProvider'));
  }

  /** Calls `fn` whenever wallets, the account or the chain change; returns the unsubscribe. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** The wallets to offer: announced ones, a lone injected one, and the dev wallet on 31337. */
  choices(): WalletChoice[] {
    const list: WalletChoice[] = [...this.announced.values()].map((d) => ({ id: d.info.uuid, name: d.info.name, dev: false }));
    const injected = (window as { ethereum?: EIP1193Provider }).ethereum;
    if (list.length === 0 && injected) list.push({ id: 'window.ethereum', name: 'Browser wallet', dev: false });
    if (this.config.chainId === DEV_CHAIN_ID) {
      for (let i = 0; i < 10; i++) list.push({ id: `dev:${i}`, name: `Dev wallet — anvil account ${i}`, dev: true });
    }
    return list;
  }

  /** Connects the wallet `id` names (asks an injected wallet for its accounts). */
  async connect(id: string): Promise<void> {
    if (id.startsWith('dev:')) {
      if (this.config.chainId !== DEV_CHAIN_ID) throw new Error('the dev wallet exists only on a local dev chain (chain id 31337)');
      const account = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: Number(id.slice(4)) });
      const wallet = createWalletClient({ account, chain: this.chain, transport: http(`${location.origin}/rpc`) });
      this.session = { name: `Dev wallet (anvil account ${id.slice(4)})`, dev: true, address: account.address, account, wallet, chainId: this.config.chainId };
      this.changed();
      return;
    }
    const detail = this.announced.get(id);
    const provider = detail?.provider ?? (window as { ethereum?: EIP1193Provider }).ethereum;
    if (!provider) throw new Error('that wallet is gone; reload the page');
    const accounts = (await provider.request({ method: 'eth_requestAccounts' })) as Address[];
    const address = accounts[0];
    if (!address) throw new Error('the wallet shared no account');
    const chainId = Number(await provider.request({ method: 'eth_chainId' }));
    const wallet = createWalletClient({ account: address, chain: this.chain, transport: custom(provider) });
    this.session = { name: detail?.info.name ?? 'Browser wallet', dev: false, address, account: address, wallet, chainId, provider };
    provider.on?.('accountsChanged', (accs: Address[]) => {
      if (this.session?.provider !== provider) return;
      if (!accs[0]) {
        this.session = undefined;
      } else {
        this.session = { ...this.session, address: accs[0], account: accs[0], wallet: createWalletClient({ account: accs[0], chain: this.chain, transport: custom(provider) }) };
      }
      this.changed();
    });
    provider.on?.('chainChanged', (hex: string) => {
      if (this.session?.provider !== provider) return;
      this.session = { ...this.session, chainId: Number(hex) };
      this.changed();
    });
    this.changed();
  }

  /** Forgets the connected wallet. */
  disconnect(): void {
    this.session = undefined;
    this.changed();
  }

  /** Asks the wallet to switch to the app's chain, adding it first if the wallet lacks it. */
  async switchChain(): Promise<void> {
    const provider = this.session?.provider;
    if (!provider) return;
    const chainId = numberToHex(this.config.chainId);
    try {
      await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
    } catch (err) {
      // 4902: the wallet does not know the chain yet.
      if ((err as { code?: number }).code !== 4902) throw err;
      await provider.request({
        method: 'wallet_addEthereumChain',
        params: [{ chainId, chainName: this.chain.name, rpcUrls: [this.config.rpcUrl], nativeCurrency: this.chain.nativeCurrency }],
      });
      // Some wallets switch when they add a chain, others only add it.
      if (Number(await provider.request({ method: 'eth_chainId' })) !== this.config.chainId) {
        await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
      }
    }
    const now = Number(await provider.request({ method: 'eth_chainId' }));
    if (this.session) this.session = { ...this.session, chainId: now };
    this.changed();
  }

  /** The connected session, ready to sign on the app's chain, or an error that says why not. */
  ready(): Session {
    const s = this.session;
    if (!s) throw new Error('Connect a wallet first (top right).');
    if (s.chainId !== this.config.chainId) {
      throw new Error(`Your wallet is on chain ${s.chainId}; this deployment lives on chain ${this.config.chainId}. Use “Switch network”.`);
    }
    return s;
  }

  /** The dev chain's deployer account (anvil account 0), which may mint test bounty tokens. */
  devMinter(): Account | undefined {
    if (this.config.chainId !== DEV_CHAIN_ID) return undefined;
    const account = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: 0 });
    return account.address.toLowerCase() === this.config.deployer.toLowerCase() ? account : undefined;
  }
}
