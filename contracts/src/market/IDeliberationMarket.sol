// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Halting} from "../voting/Halting.sol";

/**
 * @dev NSED jobs settled on chain (docs/contracts.md): jobs requested with an ERC-20 bounty held in
 * the {TripartiteEscrow}, claimed by a keeper, which draws the job's seats at random from the
 * {IAgentRegistry}'s bonded agents, and settled with a signed transcript the market re-verifies
 * round by round, halting rule included.
 *
 * Transcript encoding: `agents` are exactly the job's seats as drawn at the claim ({SeatsDrawn}),
 * strictly ascending by address (so the lowest-seat tie-break means "lowest address"). Each round
 * has, per seat, a proposal content and signature and a ballot (votes) and signature; an empty
 * signature means the seat is missing (its content must then be empty and its votes empty).
 * Signatures are EIP-712 in the domain ("NSED DeliberationMarket", "1", chainid, market):
 *
 * - `Proposal(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,bytes32 contentHash)`
 *   with `contentHash = keccak256(bytes(content))`;
 * - `Ballot(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,bytes32 proposalsDigest,int256[] votes)`
 *   with `proposalsDigest = keccak256(abi.encode(agents, contentHashes))`, `bytes32(0)` for missing seats.
 *
 * In both, `inputHash` is the `keccak256(input)` the market stored when the job was requested, so
 * an answer is bound to the question asked on chain. `previousRoundDigest` commits to everything
 * the agent was shown of earlier rounds: `bytes32(0)` in round 1, and in round `r > 1` the digest
 * of round `r - 1`, where a round's digest is
 * `keccak256(abi.encode(previousRoundDigest, proposalsDigest, votesHashes))` over that round's own
 * fields, with `votesHashes[seat] = keccak256(abi.encodePacked(votes))` for a seat with a ballot
 * and `bytes32(0)` for one without. The market recomputes this chain from the transcript itself,
 * so the transcript carries no hashes, and a proposal or ballot made for another input or another
 * history does not verify.
 *
 * Rounds are numbered from 1. Every round needs at least two proposals; the answer is the last
 * round's supported winner: the highest score among seats that received at least one non-zero
 * vote, ties to the lowest seat. The transcript must stop at the first round the job's halting
 * rule ({Halting}) stops at, or earlier only when the job's deadline is within its round
 * allowance ({JobTermsFixed}).
 *
 * An agent signs at most one proposal and one ballot per job and round; two different ones are
 * equivocation, which anyone can prove ({reportEquivocatingProposals},
 * {reportEquivocatingBallots}) to have the agent's bond slashed.
 */
interface IDeliberationMarket {
    /// @dev Lifecycle of a job.
    enum JobStatus {
        None,
        Requested,
        Claimed,
        Settled,
        Refunded
    }

    /**
     * @dev What a requester asks for.
     * @param kind Task kind, e.g. `tensor-f32`.
     * @param input Task input bytes (for `tensor-f32`: JSON `{"shape":[..],"values":[..]}`).
     * @param agentsWanted Number of agents (seats), at least 2.
     * @param maxRounds Most rounds a transcript may have, at least 1.
     * @param credits Vote credits per ballot.
     * @param deadline Unix time after which the job can no longer be settled and can be refunded.
     */
    struct JobSpec {
        string kind;
        bytes input;
        uint8 agentsWanted;
        uint8 maxRounds;
        uint64 credits;
        uint64 deadline;
    }

    /// @dev One round of a transcript; every array has one entry per seat.
    struct Round {
        string[] contents;
        bytes[] proposalSignatures;
        int256[][] votes;
        bytes[] ballotSignatures;
    }

    /// @dev A settlement transcript.
    struct Transcript {
        address[] agents;
        Round[] rounds;
    }

    /**
     * @dev What a {Proposal} signature commits to besides its job and round.
     * @param inputHash The job's input hash.
     * @param previousRoundDigest The digest of the rounds the agent was shown.
     * @param contentHash `keccak256(bytes(content))`.
     */
    struct ProposalClaim {
        bytes32 inputHash;
        bytes32 previousRoundDigest;
        bytes32 contentHash;
    }

    /**
     * @dev What a {Ballot} signature commits to besides its job and round.
     * @param inputHash The job's input hash.
     * @param previousRoundDigest The digest of the rounds the agent was shown.
     * @param proposalsDigest The proposal set the ballot judges.
     * @param votes The votes, one per seat.
     */
    struct BallotClaim {
        bytes32 inputHash;
        bytes32 previousRoundDigest;
        bytes32 proposalsDigest;
        int256[] votes;
    }

    /// @dev Emitted when a job is requested; carries everything a keeper needs.
    event JobRequested(
        uint256 indexed jobId,
        address indexed requester,
        string kind,
        bytes input,
        uint8 agentsWanted,
        uint8 maxRounds,
        uint64 credits,
        uint64 deadline,
        address token,
        uint256 bounty,
        uint256 escrowId
    );
    /**
     * @dev Emitted with {JobRequested}: the terms fixed for `jobId` at its request, which later
     * parameter changes do not touch.
     * @param jobId The job.
     * @param keeperFeeBps Keeper fee in basis points of the bounty.
     * @param guildFeeBps Guild fee in basis points of the bounty.
     * @param minRounds Rounds that always run (the market's, capped at the job's `maxRounds`).
     * @param effortPermille Conviction threshold of the halting rule, in thousandths.
     * @param roundAllowance Seconds before the deadline from which a transcript may stop early.
     */
    event JobTermsFixed(
        uint256 indexed jobId,
        uint16 keeperFeeBps,
        uint16 guildFeeBps,
        uint8 minRounds,
        uint16 effortPermille,
        uint32 roundAllowance
    );
    /// @dev Emitted when `keeper` claims `jobId`, and again when a keeper re-claims it.
    event JobClaimed(uint256 indexed jobId, address indexed keeper);
    /**
     * @dev Emitted with {JobClaimed}: the job's seats, drawn from the registry's eligible agents,
     * in ascending address order. A settlement transcript's `agents` must be exactly these.
     * @param jobId The job.
     * @param seats The seated agents.
     */
    event SeatsDrawn(uint256 indexed jobId, address[] seats);
    /// @dev Emitted per round of a settled transcript.
    event RoundTallied(uint256 indexed jobId, uint32 round, int256[] scores, uint256 winnerSeat, bool hasWinner);
    /**
     * @dev Emitted before {JobSettled}: the transcript of `jobId` stopped after `rounds` rounds for
     * `reason` ({Halting-Reason}; `Deadline` when it stopped early inside the round allowance).
     * @param jobId The job.
     * @param rounds Its number of rounds.
     * @param reason Why it stopped.
     */
    event JobHalted(uint256 indexed jobId, uint32 rounds, Halting.Reason reason);
    /// @dev Emitted when `jobId` is settled with `winner`'s `content` after `rounds` rounds.
    event JobSettled(uint256 indexed jobId, address indexed winner, string content, int256 score, uint32 rounds);
    /// @dev Emitted when an unsettled job's bounty returns to its requester.
    event JobRefunded(uint256 indexed jobId);
    /// @dev Emitted when an agent's market rank rises after winning a job.
    event AgentPromoted(address indexed agent, uint256 newRank);
    /**
     * @dev Emitted when `reporter` proved that `agent` signed two different proposals
     * (`ballots == false`) or ballots (`ballots == true`) for round `round` of job `jobId`; the
     * registry slashes the agent's bond.
     * @param jobId The job the signatures name.
     * @param round The round they name.
     * @param agent The equivocating agent.
     * @param reporter Who proved it (paid the registry's reporter share).
     * @param ballots Whether the signatures were ballots rather than proposals.
     */
    event EquivocationReported(
        uint256 indexed jobId, uint32 round, address indexed agent, address indexed reporter, bool ballots
    );

    /**
     * @dev Requests a job, pulling `bounty` of the market's ERC-20 from the caller into escrow.
     * Returns the new job id (starting at 1).
     */
    function requestJob(JobSpec calldata spec, uint256 bounty) external returns (uint256 jobId);

    /**
     * @dev Claims `jobId` for the calling keeper (KEEPER_ROLE), only before its deadline, and draws
     * its seats from the registry's eligible agents ({SeatsDrawn}). A claim that has timed out may
     * be re-claimed by another keeper, keeping the seats.
     */
    function claimJob(uint256 jobId) external;

    /// @dev Settles `jobId` with a verified transcript; only its claiming keeper, before the deadline.
    function settleJob(uint256 jobId, Transcript calldata transcript) external;

    /// @dev Returns an unsettled job's bounty to the requester after its deadline; anyone may call.
    function refund(uint256 jobId) external;

    /**
     * @dev Proves that `agent` signed two different proposals, `a` and `b`, for round `round` of
     * job `jobId`, and has its bond slashed, the reporter's share to the caller. Anyone may call.
     */
    function reportEquivocatingProposals(
        uint256 jobId,
        uint32 round,
        address agent,
        ProposalClaim calldata a,
        bytes calldata signatureA,
        ProposalClaim calldata b,
        bytes calldata signatureB
    ) external;

    /**
     * @dev Proves that `agent` signed two different ballots, `a` and `b`, for round `round` of job
     * `jobId`, and has its bond slashed, the reporter's share to the caller. Anyone may call.
     */
    function reportEquivocatingBallots(
        uint256 jobId,
        uint32 round,
        address agent,
        BallotClaim calldata a,
        bytes calldata signatureA,
        BallotClaim calldata b,
        bytes calldata signatureB
    ) external;

    /// @dev Status of `jobId`.
    function jobStatus(uint256 jobId) external view returns (JobStatus);
}
