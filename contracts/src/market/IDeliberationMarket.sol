// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev NSED jobs settled on chain (docs/contracts.md): agents registered with their model hash, jobs
 * requested with an ERC-20 bounty held in the {TripartiteEscrow}, claimed by a keeper, and settled
 * with a signed transcript the market re-verifies round by round.
 *
 * Transcript encoding: `agents` are the job's seats, strictly ascending by address (so the
 * lowest-seat tie-break means "lowest address"). Each round has, per seat, a proposal content and
 * signature and a ballot (votes) and signature; an empty signature means the seat is missing
 * (its content must then be empty and its votes empty). Signatures are EIP-712 in the domain
 * ("NSED DeliberationMarket", "1", chainid, market):
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
 * vote, ties to the lowest seat.
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

    /// @dev Emitted when `owner` registers `agent` running the model with hash `modelId`.
    event AgentRegistered(address indexed agent, address indexed owner, bytes32 modelId, string metadataURI);
    /// @dev Emitted when `agent` is deactivated by its owner.
    event AgentDeactivated(address indexed agent);
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
    /// @dev Emitted when `keeper` claims `jobId`.
    event JobClaimed(uint256 indexed jobId, address indexed keeper);
    /// @dev Emitted per round of a settled transcript.
    event RoundTallied(uint256 indexed jobId, uint32 round, int256[] scores, uint256 winnerSeat, bool hasWinner);
    /// @dev Emitted when `jobId` is settled with `winner`'s `content` after `rounds` rounds.
    event JobSettled(uint256 indexed jobId, address indexed winner, string content, int256 score, uint32 rounds);
    /// @dev Emitted when an unsettled job's bounty returns to its requester.
    event JobRefunded(uint256 indexed jobId);
    /// @dev Emitted when a registered agent's rank changes after winning a job.
    event AgentPromoted(address indexed agent, uint256 newRank);

    /**
     * @dev Registers `agent` (a worker's key) with its model hash; the caller becomes its owner.
     */
    function registerAgent(address agent, bytes32 modelId, string calldata metadataURI) external;

    /// @dev Deactivates `agent`; only its owner may.
    function deactivateAgent(address agent) external;

    /**
     * @dev Requests a job, pulling `bounty` of the market's ERC-20 from the caller into escrow.
     * Returns the new job id (starting at 1).
     */
    function requestJob(JobSpec calldata spec, uint256 bounty) external returns (uint256 jobId);

    /// @dev Claims `jobId` for the calling keeper (KEEPER_ROLE); only before its deadline.
    function claimJob(uint256 jobId) external;

    /// @dev Settles `jobId` with a verified transcript; only its claiming keeper, before the deadline.
    function settleJob(uint256 jobId, Transcript calldata transcript) external;

    /// @dev Returns an unsettled job's bounty to the requester after its deadline; anyone may call.
    function refund(uint256 jobId) external;

    /// @dev Status of `jobId`.
    function jobStatus(uint256 jobId) external view returns (JobStatus);
}
