// What went wrong, in words: a rejected wallet request (EIP-1193 error 4001), a revert with the
// contract's custom error decoded by name from the deployment's ABIs, or any other failure.
import type { AbiError } from './config';
import { BaseError, type Hex, decodeErrorResult } from 'viem';

/** A failure explained for the page. */
export interface Explained {
  kind: 'rejected' | 'revert' | 'other';
  /** The custom error's name, for reverts that carry one. */
  errorName?: string;
  /** The custom error's arguments. */
  args?: readonly unknown[];
  message: string;
}

/** What a few custom errors mean for the person at the wallet. */
const HINTS: Record<string, string> = {
  ERC20InsufficientBalance: 'the account holds fewer bounty tokens than the bounty',
  ERC20InsufficientAllowance: 'the market may not move that many of your tokens yet',
  DeliberationMarketZeroBounty: 'the bounty must be above zero',
  DeliberationMarketInvalidAgentsWanted: 'a job needs at least two agents',
  DeliberationMarketInvalidMaxRounds: 'a job needs at least one round',
  DeliberationMarketInputTooLarge: 'the task input is too large',
  TripartiteEscrowChallengeWindowClosed: 'the challenge window has closed',
  TripartiteEscrowNotBuyer: 'only the requester who paid may dispute',
  TripartiteEscrowDisputeBondNotApproved: 'the dispute bond is not approved yet',
};

/** Each error in `err`'s chain of causes, outermost first. */
function chain(err: unknown): unknown[] {
  const all: unknown[] = [];
  let current: unknown = err;
  while (current && typeof current === 'object' && all.length < 16 && !all.includes(current)) {
    all.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return all;
}

function field(e: unknown, key: string): unknown {
  return e && typeof e === 'object' ? (e as Record<string, unknown>)[key] : undefined;
}

/** Whether the wallet's user declined the request (EIP-1193 error 4001). */
export function isRejected(err: unknown): boolean {
  return chain(err).some((e) => field(e, 'code') === 4001);
}

const REVERT_DATA = /^0x[0-9a-fA-F]{8}/;

/** The revert data somewhere in `err`'s causes (viem's `raw`, a node's `data`). */
function revertData(err: unknown): Hex | undefined {
  for (const e of chain(err)) {
    for (const candidate of [field(e, 'raw'), field(e, 'data'), field(field(e, 'data'), 'data')]) {
      if (typeof candidate === 'string' && REVERT_DATA.test(candidate)) return candidate as Hex;
    }
  }
  return undefined;
}

function show(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`;
  return String(value);
}

/** Explains `err` with the custom errors of every contract of the deployment. */
export function explain(err: unknown, errors: AbiError[]): Explained {
  if (isRejected(err)) {
    return {
      kind: 'rejected',
      message: 'You rejected the request in your wallet (EIP-1193 error 4001): nothing was signed or sent.',
    };
  }
  const data = revertData(err);
  if (data) {
    try {
      const decoded = decodeErrorResult({ abi: errors, data });
      const args = (decoded.args ?? []).map(show).join(', ');
      const hint = HINTS[decoded.errorName];
      return {
        kind: 'revert',
        errorName: decoded.errorName,
        args: decoded.args ?? [],
        message: `The contract reverted with ${decoded.errorName}(${args})${hint ? `: ${hint}` : ''}.`,
      };
    } catch {
      return { kind: 'revert', message: `The contract reverted with data ${data} that no contract of the deployment declares.` };
    }
  }
  if (err instanceof BaseError) return { kind: 'other', message: err.shortMessage };
  if (err instanceof Error) return { kind: 'other', message: err.message };
  return { kind: 'other', message: String(err) };
}
