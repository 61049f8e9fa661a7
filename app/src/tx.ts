// Sending a contract call: simulate first (a revert shows its custom error before anything is
// signed), then sign with the wallet and wait for the receipt.
import { type Abi, type Address, type TransactionReceipt, createWalletClient, http } from 'viem';
import type { Account } from 'viem';
import type { Deployment } from './config';
import type { Session, Wallets } from './wallet';

/** One contract call. */
export interface Call {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

/** Simulates `call` as `session`'s account, has the wallet sign it, and waits until it is mined. */
export async function send(d: Deployment, wallets: Wallets, session: Session, call: Call): Promise<TransactionReceipt> {
  const abi = [...call.abi, ...d.errors] as Abi;
  const { request } = await wallets.reader.simulateContract({
    address: call.address,
    abi,
    functionName: call.functionName,
    args: call.args,
    account: session.account,
  });
  const hash = await session.wallet.writeContract(request);
  const receipt = await wallets.reader.waitForTransactionReceipt({ hash, pollingInterval: 300 });
  if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`);
  return receipt;
}

/** Sends `call` signed by a local account (the dev chain's faucet), not the connected wallet. */
export async function sendAs(d: Deployment, wallets: Wallets, account: Account, call: Call): Promise<TransactionReceipt> {
  const wallet = createWalletClient({ account, chain: wallets.chain, transport: http(`${location.origin}/rpc`) });
  const session: Session = { name: 'faucet', dev: true, address: account.address, account, wallet, chainId: wallets.config.chainId };
  return send(d, wallets, session, call);
}
