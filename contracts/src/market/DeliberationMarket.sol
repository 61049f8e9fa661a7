// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {QuadraticVoting} from "../voting/QuadraticVoting.sol";
import {RankToken} from "../rank/RankToken.sol";
import {ITripartiteEscrow} from "../escrow/ITripartiteEscrow.sol";
import {LiquidAccessToken} from "../lat/LiquidAccessToken.sol";
import {LatId} from "../lat/LatId.sol";
import {IAuthorityRegistry} from "../authority/IAuthorityRegistry.sol";
import {IDeliberationMarket} from "./IDeliberationMarket.sol";

/**
 * @dev NSED jobs settled on chain (docs/contracts.md); see {IDeliberationMarket} for the transcript
 * encoding and the signed EIP-712 types.
 *
 * - **Jobs.** A requester pays a bounty in the market's ERC-20; it goes straight into a
 *   {ITripartiteEscrow} deal whose buyer is the requester and whose operator is this market, with
 *   the job's deadline as delivery deadline. A keeper ({KEEPER_ROLE}, granted by the guild) claims
 *   the job and settles it with a transcript before the deadline; otherwise anyone refunds it after
 *   the deadline. A job is settled or refunded at most once.
 * - **Verification.** {settleJob} re-checks the whole transcript: seats are the wanted number of
 *   registered, active agents in strictly ascending address order; every present proposal and
 *   ballot is signed by its seat's agent (EIP-712, low-s, 65-byte signatures); every ballot follows
 *   {QuadraticVoting-validate}; each round has at least two proposals; the answer is the last
 *   round's {QuadraticVoting-supportedWinner}.
 * - **Context.** Every signature covers the job's stored input hash and the digest of the rounds
 *   before its own (zero in round 1), which the market recomputes round by round from the
 *   transcript. An answer given to another question, or after another history than the one the
 *   transcript shows, fails as an invalid signature: a keeper can neither reuse answers across
 *   jobs' inputs nor splice, reorder or rewrite rounds.
 * - **Payment.** The bounty is delivered to the escrow split into a keeper fee, a guild fee and the
 *   agents' share, pro rata to each agent's positive net score in the last round (integer dust,
 *   or everything if no score is positive, to the winner). Funds move when the escrow's challenge
 *   window ends ({ITripartiteEscrow-release}); the requester may dispute before that, and the
 *   guild rules.
 * - **Ladder.** The winning agent climbs one rank on the {RankToken} (the market needs its
 *   `GAME_ROLE`): its rank-`r` token is burned and a rank-`r+1` token minted. If the agent's
 *   rank-`r` token is not free (another game holds it locked or burned it) the promotion is
 *   skipped, so no player of another game can block a settlement, and no rank is minted twice.
 * - **Access tokens.** The winner also earns one {LiquidAccessToken} of the market's asset
 *   ({latAsset}: this contract's address) at the tier of the rank it won at (at least 1); the
 *   market needs the token's `MINTER_ROLE`.
 *
 * Deadlines are compared with `block.timestamp`; they are minutes to days long, so the few seconds
 * a block producer can skew it do not matter.
 *
 * The contracts it talks to (token, ranks, escrow, access token) and the guild are immutable; there
 * is no upgrade path. The guild (its timelock, in a full deployment) holds `DEFAULT_ADMIN_ROLE`,
 * receives the guild fee, and alone tunes the parameters: the fees ({setFees}), the escrow
 * challenge window of new jobs ({setChallengeWindow}) and whether keepers must be authority nodes
 * ({setKeeperAuthority}). A change applies to jobs requested (window) or settled (fees) after it.
 */
contract DeliberationMarket is IDeliberationMarket, EIP712, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /**
     * @dev A job as stored.
     * @param requester Who paid the bounty (and is refunded).
     * @param status Where the job stands.
     * @param agentsWanted Seats of the deliberation.
     * @param maxRounds Most rounds a transcript may have.
     * @param credits Vote credits per ballot.
     * @param keeper The claiming keeper (zero before the claim).
     * @param deadline Last second the job can be claimed or settled.
     * @param rounds Rounds of the settled transcript (0 before settlement).
     * @param winner The winning agent (zero before settlement).
     * @param bounty The bounty, in {token}.
     * @param escrowId The escrow deal holding the bounty.
     * @param inputHash `keccak256(input)`; the input itself is only in {JobRequested}.
     * @param kind Task kind.
     * @param answer The winning proposal's content (empty before settlement).
     */
    struct Job {
        address requester;
        JobStatus status;
        uint8 agentsWanted;
        uint8 maxRounds;
        uint64 credits;
        address keeper;
        uint64 deadline;
        uint32 rounds;
        address winner;
        uint256 bounty;
        uint256 escrowId;
        bytes32 inputHash;
        string kind;
        string answer;
    }

    /**
     * @dev A registered agent.
     * @param owner Who registered it and may deactivate it (zero if unregistered).
     * @param active Whether it may still be seated.
     * @param rank Its rank on the market's ladder (0 until it first wins).
     * @param modelId Hash of the model it runs.
     */
    struct Agent {
        address owner;
        bool active;
        uint64 rank;
        bytes32 modelId;
    }

    /**
     * @dev Per-round working state of {settleJob}, kept in memory to stay within the stack.
     * @param jobId The j.
     * @param round Round number, from 1.
     * @param credits Vote credits per ballot.
     * @param inputHash The job's stored `keccak256(input)`, signed by every proposal and ballot.
     * @param previousRoundDigest The previous round's {digest} (zero in round 1), signed by every
     * proposal and ballot of this round.
     * @param proposalsDigest The round's proposals digest, signed by every ballot.
     * @param digest The round's own digest, chained over the rounds before it; the next round's
     * `previousRoundDigest`.
     * @param proposed Which seats proposed.
     * @param votesHashes `keccak256(abi.encodePacked(votes))` by seat, zero for a seat without a ballot.
     * @param scores Net score by seat.
     * @param supported Which seats received a non-zero vote.
     */
    struct RoundTally {
        uint256 jobId;
        uint32 round;
        uint64 credits;
        bytes32 inputHash;
        bytes32 previousRoundDigest;
        bytes32 proposalsDigest;
        bytes32 digest;
        bool[] proposed;
        bytes32[] votesHashes;
        int256[] scores;
        bool[] supported;
    }

    /// @dev Role of the keepers that may claim and settle jobs; granted by the guild.
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    /// @dev Most seats a job may want.
    uint8 public constant MAX_AGENTS = 16;
    /// @dev Most rounds a job may allow.
    uint8 public constant MAX_ROUNDS = 5;
    /// @dev Longest job input in bytes (larger inputs go by URI and hash).
    uint256 public constant MAX_INPUT_BYTES = 64 * 1024;
    /// @dev Longest task kind in bytes.
    uint256 public constant MAX_KIND_BYTES = 64;
    /// @dev Longest proposal content in bytes, as `nsed-protocol` enforces off chain.
    uint256 public constant MAX_CONTENT_BYTES = 4096;
    /// @dev EIP-712 type hash of a proposal (see {IDeliberationMarket} for what each field commits to).
    bytes32 public constant PROPOSAL_TYPEHASH = keccak256(
        "Proposal(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,bytes32 contentHash)"
    );
    /// @dev EIP-712 type hash of a ballot (see {IDeliberationMarket} for what each field commits to).
    bytes32 public constant BALLOT_TYPEHASH = keccak256(
        "Ballot(uint256 jobId,uint32 round,bytes32 inputHash,bytes32 previousRoundDigest,bytes32 proposalsDigest,int256[] votes)"
    );

    /// @dev 100% in basis points.
    uint16 private constant _BPS = 10_000;

    IERC20 private immutable _token;
    RankToken private immutable _ranks;
    ITripartiteEscrow private immutable _escrow;
    LiquidAccessToken private immutable _lat;
    address private immutable _guild;
    // The tunable parameters share one storage slot (16 + 16 + 64 + 160 bits).
    uint16 private _keeperFeeBps;
    uint16 private _guildFeeBps;
    uint64 private _challengeWindow;
    IAuthorityRegistry private _keeperAuthority;

    uint256 private _jobCount;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(address agent => Agent) private _agents;

    /**
     * @dev The guild changed the fees; settlements from now on use them.
     * @param keeperFeeBps The keeper fee in basis points.
     * @param guildFeeBps The guild fee in basis points.
     */
    event FeesChanged(uint16 keeperFeeBps, uint16 guildFeeBps);

    /**
     * @dev The guild changed the escrow challenge window of jobs requested from now on.
     * @param challengeWindow Seconds a requester has to dispute a settlement.
     */
    event ChallengeWindowChanged(uint64 challengeWindow);

    /**
     * @dev The guild set the registry keepers must be active authority nodes of (zero: no
     * requirement).
     * @param registry The authority registry, or the zero address.
     */
    event KeeperAuthorityChanged(address registry);

    /**
     * @dev An address that must be set is the zero address (a constructor argument or an agent).
     */
    error DeliberationMarketZeroAddress();

    /**
     * @dev Keepers must be authority nodes and `keeper` is not an active one.
     * @param keeper The caller.
     */
    error DeliberationMarketKeeperNotAuthority(address keeper);

    /**
     * @dev The fees add up to more than the bounty.
     * @param keeperFeeBps The keeper fee in basis points.
     * @param guildFeeBps The guild fee in basis points.
     */
    error DeliberationMarketInvalidFees(uint16 keeperFeeBps, uint16 guildFeeBps);

    /**
     * @dev `agent` is already registered (deactivated agents stay registered).
     * @param agent The agent key.
     */
    error DeliberationMarketAgentAlreadyRegistered(address agent);

    /**
     * @dev `agent` was never registered.
     * @param agent The agent key.
     */
    error DeliberationMarketUnknownAgent(address agent);

    /**
     * @dev Only `agent`'s owner may deactivate it.
     * @param agent The agent key.
     * @param caller The rejected caller.
     */
    error DeliberationMarketNotAgentOwner(address agent, address caller);

    /**
     * @dev `agent` is deactivated.
     * @param agent The agent key.
     */
    error DeliberationMarketInactiveAgent(address agent);

    /**
     * @dev The spec wants fewer than 2 or more than {MAX_AGENTS} agents.
     * @param agentsWanted The rejected number.
     */
    error DeliberationMarketInvalidAgentsWanted(uint8 agentsWanted);

    /**
     * @dev The spec allows 0 or more than {MAX_ROUNDS} rounds.
     * @param maxRounds The rejected number.
     */
    error DeliberationMarketInvalidMaxRounds(uint8 maxRounds);

    /**
     * @dev The spec gives no vote credits.
     * @param credits The rejected credits.
     */
    error DeliberationMarketInvalidCredits(uint64 credits);

    /**
     * @dev The spec's deadline is not in the future.
     * @param deadline The rejected deadline.
     */
    error DeliberationMarketInvalidDeadline(uint64 deadline);

    /// @dev A job needs a positive bounty.
    error DeliberationMarketZeroBounty();

    /**
     * @dev The task kind is empty or longer than {MAX_KIND_BYTES}.
     * @param length Its length in bytes.
     */
    error DeliberationMarketInvalidKindLength(uint256 length);

    /**
     * @dev The input is longer than {MAX_INPUT_BYTES}.
     * @param length Its length in bytes.
     */
    error DeliberationMarketInputTooLarge(uint256 length);

    /**
     * @dev The job is not in a status that allows the call (unknown jobs are `None`).
     * @param jobId The j.
     * @param current Its status.
     */
    error DeliberationMarketUnexpectedJobStatus(uint256 jobId, JobStatus current);

    /**
     * @dev The job's deadline has passed: it can no longer be claimed or settled.
     * @param jobId The j.
     * @param deadline Its deadline.
     */
    error DeliberationMarketJobExpired(uint256 jobId, uint64 deadline);

    /**
     * @dev The job's deadline has not passed yet: it cannot be refunded.
     * @param jobId The j.
     * @param deadline Its deadline.
     */
    error DeliberationMarketJobNotExpired(uint256 jobId, uint64 deadline);

    /**
     * @dev Only the keeper that claimed the job may settle it.
     * @param jobId The j.
     * @param caller The rejected caller.
     */
    error DeliberationMarketNotClaimingKeeper(uint256 jobId, address caller);

    /**
     * @dev The transcript seats a different number of agents than the job wants.
     * @param expected The job's `agentsWanted`.
     * @param actual The transcript's number of agents.
     */
    error DeliberationMarketWrongAgentCount(uint256 expected, uint256 actual);

    /**
     * @dev The agent in `seat` is not above the previous seat's address (unsorted or repeated).
     * @param seat The offending seat.
     */
    error DeliberationMarketAgentsNotSorted(uint256 seat);

    /**
     * @dev The transcript has 0 rounds or more than the job allows.
     * @param rounds The transcript's rounds.
     * @param maxRounds The job's `maxRounds`.
     */
    error DeliberationMarketInvalidRoundCount(uint256 rounds, uint8 maxRounds);

    /**
     * @dev A round's arrays do not have one entry per seat.
     * @param round The round, from 1.
     * @param seats Number of seats.
     */
    error DeliberationMarketRoundLengthMismatch(uint32 round, uint256 seats);

    /**
     * @dev A seat without a proposal signature has content.
     * @param round The round, from 1.
     * @param seat The seat.
     */
    error DeliberationMarketUnsignedContent(uint32 round, uint256 seat);

    /**
     * @dev A signed proposal is empty or longer than {MAX_CONTENT_BYTES}.
     * @param round The round, from 1.
     * @param seat The seat.
     * @param length The content's length in bytes.
     */
    error DeliberationMarketInvalidContentLength(uint32 round, uint256 seat, uint256 length);

    /**
     * @dev A proposal signature is malformed, malleable, or not by the seat's agent.
     * @param round The round, from 1.
     * @param seat The seat.
     */
    error DeliberationMarketInvalidProposalSignature(uint32 round, uint256 seat);

    /**
     * @dev A round has fewer than two proposals.
     * @param round The round, from 1.
     * @param proposals Its number of proposals.
     */
    error DeliberationMarketTooFewProposals(uint32 round, uint256 proposals);

    /**
     * @dev A seat without a ballot signature has votes.
     * @param round The round, from 1.
     * @param seat The seat.
     */
    error DeliberationMarketUnsignedVotes(uint32 round, uint256 seat);

    /**
     * @dev A ballot signature is malformed, malleable, or not by the seat's agent.
     * @param round The round, from 1.
     * @param seat The seat.
     */
    error DeliberationMarketInvalidBallotSignature(uint32 round, uint256 seat);

    /**
     * @dev The last round has no supported winner (no seat received a non-zero vote).
     * @param round The last round.
     */
    error DeliberationMarketNoSupportedWinner(uint32 round);

    /**
     * @dev Sets the immutable parameters and makes `guild` the role administrator.
     * @param token_ ERC-20 bounties are paid in.
     * @param ranks_ The rank ladder; the market needs its `GAME_ROLE` to promote winners.
     * @param escrow_ Escrow holding the bounties (its resolver is set at its own construction).
     * @param lat_ Access token winners earn; the market needs its `MINTER_ROLE`.
     * @param guild_ Receives `DEFAULT_ADMIN_ROLE` and the guild fees.
     * @param keeperFeeBps_ Keeper fee in basis points of the bounty.
     * @param guildFeeBps_ Guild fee in basis points of the bounty.
     * @param challengeWindow_ Seconds the requester has to dispute a settlement in the escrow.
     */
    constructor(
        IERC20 token_,
        RankToken ranks_,
        ITripartiteEscrow escrow_,
        LiquidAccessToken lat_,
        address guild_,
        uint16 keeperFeeBps_,
        uint16 guildFeeBps_,
        uint64 challengeWindow_
    ) EIP712("NSED DeliberationMarket", "1") {
        if (
            address(token_) == address(0) || address(ranks_) == address(0) || address(escrow_) == address(0)
                || address(lat_) == address(0) || guild_ == address(0)
        ) revert DeliberationMarketZeroAddress();
        _token = token_;
        _ranks = ranks_;
        _escrow = escrow_;
        _lat = lat_;
        _guild = guild_;
        _setFees(keeperFeeBps_, guildFeeBps_);
        _setChallengeWindow(challengeWindow_);
        _grantRole(DEFAULT_ADMIN_ROLE, guild_);
    }

    /**
     * @dev Sets the keeper and guild fees of settlements from now on.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild);
     * - `keeperFeeBps + guildFeeBps <= 10000`.
     *
     * Emits a {FeesChanged} event.
     */
    function setFees(uint16 keeperFeeBps_, uint16 guildFeeBps_) public virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _setFees(keeperFeeBps_, guildFeeBps_);
    }

    /**
     * @dev Sets the escrow challenge window of jobs requested from now on (existing deals keep
     * theirs).
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild).
     *
     * Emits a {ChallengeWindowChanged} event.
     */
    function setChallengeWindow(uint64 challengeWindow_) public virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _setChallengeWindow(challengeWindow_);
    }

    /**
     * @dev Requires keepers to be active authority nodes of `registry` when they claim a job, or
     * lifts the requirement when `registry` is the zero address. Claimed jobs are not affected.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild).
     *
     * Emits a {KeeperAuthorityChanged} event.
     */
    function setKeeperAuthority(IAuthorityRegistry registry) public virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _keeperAuthority = registry;
        emit KeeperAuthorityChanged(address(registry));
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev Requirements:
     *
     * - `agent` is not the zero address and not registered yet.
     *
     * Emits an {AgentRegistered} event.
     */
    function registerAgent(address agent_, bytes32 modelId, string calldata metadataURI) public virtual {
        if (agent_ == address(0)) revert DeliberationMarketZeroAddress();
        Agent storage a = _agents[agent_];
        if (a.owner != address(0)) revert DeliberationMarketAgentAlreadyRegistered(agent_);
        a.owner = msg.sender;
        a.active = true;
        a.modelId = modelId;
        emit AgentRegistered(agent_, msg.sender, modelId, metadataURI);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev Requirements:
     *
     * - `agent` is registered, active, and owned by the caller.
     *
     * Emits an {AgentDeactivated} event.
     */
    function deactivateAgent(address agent_) public virtual {
        Agent storage a = _agents[agent_];
        if (a.owner == address(0)) revert DeliberationMarketUnknownAgent(agent_);
        if (a.owner != msg.sender) revert DeliberationMarketNotAgentOwner(agent_, msg.sender);
        if (!a.active) revert DeliberationMarketInactiveAgent(agent_);
        a.active = false;
        emit AgentDeactivated(agent_);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev The bounty moves from the caller to the market (which needs the caller's approval) and
     * on into a new escrow deal with the caller as buyer. Stores `keccak256(input)`; the input is
     * only carried by the event.
     *
     * Requirements:
     *
     * - `2 <= agentsWanted <= MAX_AGENTS`, `1 <= maxRounds <= MAX_ROUNDS`, `credits >= 1`;
     * - `deadline` is in the future, `bounty > 0`;
     * - `1 <= bytes(kind).length <= MAX_KIND_BYTES`, `input.length <= MAX_INPUT_BYTES`.
     *
     * Emits a {JobRequested} event (after the escrow deal exists, since it carries its id).
     */
    function requestJob(JobSpec calldata spec, uint256 bounty) public virtual nonReentrant returns (uint256 jobId) {
        _checkSpec(spec, bounty);
        jobId = ++_jobCount;
        Job storage j = _jobs[jobId];
        j.requester = msg.sender;
        j.status = JobStatus.Requested;
        j.agentsWanted = spec.agentsWanted;
        j.maxRounds = spec.maxRounds;
        j.credits = spec.credits;
        j.deadline = spec.deadline;
        j.bounty = bounty;
        j.inputHash = keccak256(spec.input);
        j.kind = spec.kind;

        _token.safeTransferFrom(msg.sender, address(this), bounty);
        _token.forceApprove(address(_escrow), bounty);
        uint256 escrowId = _escrow.openFor(msg.sender, address(this), _token, bounty, spec.deadline, _challengeWindow);
        j.escrowId = escrowId;
        _emitJobRequested(jobId, spec, bounty, escrowId);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev Requirements:
     *
     * - the caller has {KEEPER_ROLE};
     * - when the guild requires it ({setKeeperAuthority}), the caller is an active authority node;
     * - the job is `Requested` and `block.timestamp <= deadline`.
     *
     * Emits a {JobClaimed} event.
     */
    function claimJob(uint256 jobId) public virtual onlyRole(KEEPER_ROLE) {
        IAuthorityRegistry authority = _keeperAuthority;
        if (address(authority) != address(0) && !authority.isAuthority(msg.sender)) {
            revert DeliberationMarketKeeperNotAuthority(msg.sender);
        }
        Job storage j = _jobs[jobId];
        if (j.status != JobStatus.Requested) revert DeliberationMarketUnexpectedJobStatus(jobId, j.status);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > j.deadline) revert DeliberationMarketJobExpired(jobId, j.deadline);
        j.status = JobStatus.Claimed;
        j.keeper = msg.sender;
        emit JobClaimed(jobId, msg.sender);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev Requirements:
     *
     * - the job is `Claimed`, the caller is its keeper and still has {KEEPER_ROLE} (the guild can
     *   stop a keeper; its jobs then refund after their deadline);
     * - `block.timestamp <= deadline`;
     * - the transcript checks out (see the contract documentation) and its last round has a
     *   supported winner.
     *
     * Emits a {RoundTallied} event per round, then {JobSettled}, {AgentPromoted} when the winner
     * climbs, and the access token's {TransferSingle} for the winner's reward.
     */
    function settleJob(uint256 jobId, Transcript calldata transcript) public virtual nonReentrant {
        Job storage j = _jobs[jobId];
        if (j.status != JobStatus.Claimed) revert DeliberationMarketUnexpectedJobStatus(jobId, j.status);
        if (msg.sender != j.keeper) revert DeliberationMarketNotClaimingKeeper(jobId, msg.sender);
        _checkRole(KEEPER_ROLE);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > j.deadline) revert DeliberationMarketJobExpired(jobId, j.deadline);

        (int256[] memory scores, uint256 winnerSeat, int256 winnerScore, uint32 rounds) =
            _verifyTranscript(jobId, j, transcript);
        address winner = transcript.agents[winnerSeat];
        string calldata answer = transcript.rounds[rounds - 1].contents[winnerSeat];

        j.status = JobStatus.Settled;
        j.rounds = rounds;
        j.winner = winner;
        j.answer = answer;
        emit JobSettled(jobId, winner, answer, winnerScore, rounds);
        (bool promoted, uint64 fromRank) = _promoteRank(winner);

        (address[] memory recipients, uint256[] memory amounts) =
            _payouts(j.bounty, transcript.agents, scores, winnerSeat);
        _escrow.deliver(j.escrowId, recipients, amounts);
        if (promoted) {
            if (fromRank > 0) _ranks.burn(winner, fromRank, 1);
            _ranks.mint(winner, uint256(fromRank) + 1, 1);
        }
        _lat.mint(winner, latAsset(), LatId.tierForRank(fromRank), 1);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev If someone already refunded the escrow deal directly (it is permissionless after the
     * deadline too), only the job is marked.
     *
     * Requirements:
     *
     * - the job is `Requested` or `Claimed`;
     * - `block.timestamp > deadline`.
     *
     * Emits a {JobRefunded} event.
     */
    function refund(uint256 jobId) public virtual nonReentrant {
        Job storage j = _jobs[jobId];
        JobStatus status = j.status;
        if (status != JobStatus.Requested && status != JobStatus.Claimed) {
            revert DeliberationMarketUnexpectedJobStatus(jobId, status);
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= j.deadline) revert DeliberationMarketJobNotExpired(jobId, j.deadline);
        j.status = JobStatus.Refunded;
        emit JobRefunded(jobId);

        uint256 escrowId = j.escrowId;
        if (_escrow.dealState(escrowId) == ITripartiteEscrow.DealState.Funded) _escrow.refund(escrowId);
    }

    /// @inheritdoc IDeliberationMarket
    function jobStatus(uint256 jobId) public view virtual returns (JobStatus) {
        return _jobs[jobId].status;
    }

    /// @dev The job `jobId` (all zero for unknown ids).
    function job(uint256 jobId) public view virtual returns (Job memory) {
        return _jobs[jobId];
    }

    /// @dev Number of jobs requested so far; ids run from 1 to this count.
    function jobCount() public view virtual returns (uint256) {
        return _jobCount;
    }

    /// @dev The registration of agent `account` (all zero if unregistered).
    function agent(address account) public view virtual returns (Agent memory) {
        return _agents[account];
    }

    /// @dev Agent `account`'s rank on the market's ladder (0 until it first wins a job).
    function agentRank(address account) public view virtual returns (uint256) {
        return _agents[account].rank;
    }

    /// @dev The EIP-712 domain separator agents sign under.
    function domainSeparator() public view virtual returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Keeper fee in basis points of the bounty.
    function keeperFeeBps() public view virtual returns (uint16) {
        return _keeperFeeBps;
    }

    /// @dev Guild fee in basis points of the bounty.
    function guildFeeBps() public view virtual returns (uint16) {
        return _guildFeeBps;
    }

    /// @dev Seconds a requester has to dispute a settlement in the escrow.
    function challengeWindow() public view virtual returns (uint64) {
        return _challengeWindow;
    }

    /// @dev The escrow holding the bounties.
    function escrow() public view virtual returns (ITripartiteEscrow) {
        return _escrow;
    }

    /// @dev The ERC-20 bounties are paid in.
    function token() public view virtual returns (IERC20) {
        return _token;
    }

    /// @dev The rank ladder winners climb.
    function ranks() public view virtual returns (RankToken) {
        return _ranks;
    }

    /// @dev The guild: role administrator and receiver of the guild fees.
    function guild() public view virtual returns (address) {
        return _guild;
    }

    /// @dev The access token winners earn.
    function lat() public view virtual returns (LiquidAccessToken) {
        return _lat;
    }

    /// @dev The asset of the access tokens this market mints: its own address, so rewards of
    /// different games never mix.
    function latAsset() public view virtual returns (uint248) {
        return uint248(uint160(address(this)));
    }

    /// @dev The registry keepers must be active authority nodes of (zero: no requirement).
    function keeperAuthority() public view virtual returns (IAuthorityRegistry) {
        return _keeperAuthority;
    }

    /// @dev Validates and stores the fees; see {setFees}.
    function _setFees(uint16 keeperFeeBps_, uint16 guildFeeBps_) internal virtual {
        if (uint256(keeperFeeBps_) + guildFeeBps_ > _BPS) {
            revert DeliberationMarketInvalidFees(keeperFeeBps_, guildFeeBps_);
        }
        _keeperFeeBps = keeperFeeBps_;
        _guildFeeBps = guildFeeBps_;
        emit FeesChanged(keeperFeeBps_, guildFeeBps_);
    }

    /// @dev Stores the challenge window; see {setChallengeWindow}.
    function _setChallengeWindow(uint64 challengeWindow_) internal virtual {
        _challengeWindow = challengeWindow_;
        emit ChallengeWindowChanged(challengeWindow_);
    }

    /**
     * @dev Checks the seats and every round, emitting {RoundTallied} per round. Returns the last
     * round's scores and supported winner (reverting if it has none) and the number of rounds.
     *
     * Every round's answers are checked against the job's stored input hash and the digest of the
     * rounds before it (zero in round 1), so the rounds only verify in their own order, for this
     * job's input.
     */
    function _verifyTranscript(uint256 jobId, Job storage j, Transcript calldata transcript)
        internal
        virtual
        returns (int256[] memory scores, uint256 winnerSeat, int256 winnerScore, uint32 rounds)
    {
        _checkAgents(j.agentsWanted, transcript.agents);
        uint8 maxRounds = j.maxRounds;
        if (transcript.rounds.length == 0 || transcript.rounds.length > maxRounds) {
            revert DeliberationMarketInvalidRoundCount(transcript.rounds.length, maxRounds);
        }
        RoundTally memory t;
        t.jobId = jobId;
        t.credits = j.credits;
        t.inputHash = j.inputHash;
        bool found;
        // rounds <= maxRounds <= MAX_ROUNDS, so counting in uint32 cannot overflow.
        for (rounds = 1; rounds <= transcript.rounds.length; ++rounds) {
            // Zero in round 1 (`t.digest` starts zeroed), then the digest of the round just tallied.
            t.previousRoundDigest = t.digest;
            t.round = rounds;
            _tallyRound(t, transcript.agents, transcript.rounds[rounds - 1]);
            (winnerSeat, winnerScore, found) = QuadraticVoting.supportedWinner(t.scores, t.supported);
            emit RoundTallied(jobId, rounds, t.scores, winnerSeat, found);
        }
        --rounds;
        if (!found) revert DeliberationMarketNoSupportedWinner(rounds);
        scores = t.scores;
    }

    /// @dev Seats: the wanted number of registered, active agents in strictly ascending order.
    function _checkAgents(uint8 agentsWanted, address[] calldata agents) internal view virtual {
        if (agents.length != agentsWanted) revert DeliberationMarketWrongAgentCount(agentsWanted, agents.length);
        for (uint256 seat = 0; seat < agents.length; ++seat) {
            address a = agents[seat];
            if (seat > 0 && a <= agents[seat - 1]) revert DeliberationMarketAgentsNotSorted(seat);
            Agent storage registered = _agents[a];
            if (registered.owner == address(0)) revert DeliberationMarketUnknownAgent(a);
            if (!registered.active) revert DeliberationMarketInactiveAgent(a);
        }
    }

    /**
     * @dev Verifies one round's proposals and ballots against `t`'s job, round, credits, input hash
     * and previous-round digest, and fills in the rest of `t`: fresh per-seat arrays with the
     * round's votes summed, its proposals digest, and its own digest
     * `keccak256(abi.encode(previousRoundDigest, proposalsDigest, votesHashes))`.
     */
    function _tallyRound(RoundTally memory t, address[] calldata agents, Round calldata rnd) internal view virtual {
        uint256 seats = agents.length;
        if (
            rnd.contents.length != seats || rnd.proposalSignatures.length != seats || rnd.votes.length != seats
                || rnd.ballotSignatures.length != seats
        ) revert DeliberationMarketRoundLengthMismatch(t.round, seats);
        t.proposed = new bool[](seats);
        t.votesHashes = new bytes32[](seats);
        t.scores = new int256[](seats);
        t.supported = new bool[](seats);

        bytes32[] memory contentHashes = new bytes32[](seats);
        uint256 proposals = 0;
        for (uint256 seat = 0; seat < seats; ++seat) {
            bytes32 contentHash =
                _checkProposal(t, seat, agents[seat], rnd.contents[seat], rnd.proposalSignatures[seat]);
            if (contentHash != bytes32(0)) {
                contentHashes[seat] = contentHash;
                t.proposed[seat] = true;
                ++proposals;
            }
        }
        if (proposals < 2) revert DeliberationMarketTooFewProposals(t.round, proposals);
        t.proposalsDigest = keccak256(abi.encode(agents, contentHashes));

        for (uint256 seat = 0; seat < seats; ++seat) {
            _countBallot(t, seat, agents[seat], rnd.votes[seat], rnd.ballotSignatures[seat]);
        }
        t.digest = keccak256(abi.encode(t.previousRoundDigest, t.proposalsDigest, t.votesHashes));
    }

    /**
     * @dev Checks one seat's proposal; returns its content hash, or `bytes32(0)` if the seat did
     * not propose (empty signature and content).
     */
    function _checkProposal(
        RoundTally memory t,
        uint256 seat,
        address agent_,
        string calldata content,
        bytes calldata signature
    ) internal view virtual returns (bytes32 contentHash) {
        uint256 length = bytes(content).length;
        if (signature.length == 0) {
            if (length != 0) revert DeliberationMarketUnsignedContent(t.round, seat);
            return bytes32(0);
        }
        if (length == 0 || length > MAX_CONTENT_BYTES) {
            revert DeliberationMarketInvalidContentLength(t.round, seat, length);
        }
        contentHash = keccak256(bytes(content));
        bytes32 structHash =
            keccak256(abi.encode(PROPOSAL_TYPEHASH, t.jobId, t.round, t.inputHash, t.previousRoundDigest, contentHash));
        if (!_signedBy(structHash, signature, agent_)) {
            revert DeliberationMarketInvalidProposalSignature(t.round, seat);
        }
    }

    /**
     * @dev Checks one seat's ballot, records its votes hash and adds its votes to the tally (a missing
     * ballot adds nothing and keeps a zero votes hash).
     */
    function _countBallot(
        RoundTally memory t,
        uint256 seat,
        address agent_,
        int256[] calldata votes,
        bytes calldata signature
    ) internal view virtual {
        if (signature.length == 0) {
            if (votes.length != 0) revert DeliberationMarketUnsignedVotes(t.round, seat);
            return;
        }
        int256[] memory v = votes;
        QuadraticVoting.validate(v, seat, t.proposed, t.credits);
        // The same hash is the `int256[] votes` member of the ballot and the seat's entry in the round digest.
        bytes32 votesHash = keccak256(abi.encodePacked(votes));
        t.votesHashes[seat] = votesHash;
        bytes32 structHash = keccak256(
            abi.encode(
                BALLOT_TYPEHASH, t.jobId, t.round, t.inputHash, t.previousRoundDigest, t.proposalsDigest, votesHash
            )
        );
        if (!_signedBy(structHash, signature, agent_)) revert DeliberationMarketInvalidBallotSignature(t.round, seat);
        QuadraticVoting.addToScores(t.scores, v);
        for (uint256 q = 0; q < v.length; ++q) {
            if (v[q] != 0) t.supported[q] = true;
        }
    }

    /// @dev Whether `signature` is `signer`'s valid (65-byte, low-s) signature of the typed `structHash`.
    function _signedBy(bytes32 structHash, bytes calldata signature, address signer)
        internal
        view
        virtual
        returns (bool)
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(_hashTypedDataV4(structHash), signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }

    /**
     * @dev Splits `bounty` into the escrow payout: keeper fee to the caller, guild fee to the guild,
     * the rest to the agents pro rata to `max(score, 0)` with the dust (or all of it, if no score is
     * positive) to the winner. Zero amounts are left out.
     */
    function _payouts(uint256 bounty, address[] calldata agents, int256[] memory scores, uint256 winnerSeat)
        internal
        view
        virtual
        returns (address[] memory recipients, uint256[] memory amounts)
    {
        uint256 keeperFee = Math.mulDiv(bounty, _keeperFeeBps, _BPS);
        uint256 guildFee = Math.mulDiv(bounty, _guildFeeBps, _BPS);
        // No underflow: keeperFeeBps + guildFeeBps <= 10000, so the fees sum to at most the bounty.
        uint256 rest = bounty - keeperFee - guildFee;

        uint256 seats = agents.length;
        uint256 positive = 0;
        for (uint256 q = 0; q < seats; ++q) {
            if (scores[q] > 0) positive += uint256(scores[q]);
        }
        uint256[] memory shares = new uint256[](seats);
        uint256 paid = 0;
        if (positive > 0) {
            for (uint256 q = 0; q < seats; ++q) {
                if (scores[q] <= 0) continue;
                shares[q] = Math.mulDiv(rest, uint256(scores[q]), positive);
                paid += shares[q];
            }
        }
        // Rounded down, so paid <= rest.
        shares[winnerSeat] += rest - paid;

        uint256 count = (keeperFee > 0 ? 1 : 0) + (guildFee > 0 ? 1 : 0);
        for (uint256 q = 0; q < seats; ++q) {
            if (shares[q] > 0) ++count;
        }
        recipients = new address[](count);
        amounts = new uint256[](count);
        uint256 i = 0;
        if (keeperFee > 0) {
            recipients[i] = msg.sender;
            amounts[i] = keeperFee;
            ++i;
        }
        if (guildFee > 0) {
            recipients[i] = _guild;
            amounts[i] = guildFee;
            ++i;
        }
        for (uint256 q = 0; q < seats; ++q) {
            if (shares[q] == 0) continue;
            recipients[i] = agents[q];
            amounts[i] = shares[q];
            ++i;
        }
    }

    /**
     * @dev Raises `winner`'s market rank by one if its current rank token (if any) is free to burn;
     * returns whether it does and the rank it climbs from. The token moves happen later, after
     * every state change (checks-effects-interactions).
     *
     * Emits an {AgentPromoted} event when it promotes.
     */
    function _promoteRank(address winner) internal virtual returns (bool promoted, uint64 fromRank) {
        Agent storage a = _agents[winner];
        fromRank = a.rank;
        if (fromRank > 0 && _ranks.unlockedBalanceOf(winner, fromRank) == 0) return (false, fromRank);
        a.rank = fromRank + 1;
        emit AgentPromoted(winner, uint256(fromRank) + 1);
        return (true, fromRank);
    }

    /// @dev Emits {JobRequested}; a separate function keeps {requestJob} within the stack.
    function _emitJobRequested(uint256 jobId, JobSpec calldata spec, uint256 bounty, uint256 escrowId) private {
        emit JobRequested(
            jobId,
            msg.sender,
            spec.kind,
            spec.input,
            spec.agentsWanted,
            spec.maxRounds,
            spec.credits,
            spec.deadline,
            address(_token),
            bounty,
            escrowId
        );
    }

    /// @dev Validates a job spec and bounty; see {requestJob}.
    function _checkSpec(JobSpec calldata spec, uint256 bounty) internal view virtual {
        if (spec.agentsWanted < 2 || spec.agentsWanted > MAX_AGENTS) {
            revert DeliberationMarketInvalidAgentsWanted(spec.agentsWanted);
        }
        if (spec.maxRounds < 1 || spec.maxRounds > MAX_ROUNDS) {
            revert DeliberationMarketInvalidMaxRounds(spec.maxRounds);
        }
        // credits is a uint64, so it is always below QuadraticVoting.MAX_CREDITS (2^128 - 1).
        if (spec.credits == 0) revert DeliberationMarketInvalidCredits(spec.credits);
        // forge-lint: disable-next-line(block-timestamp)
        if (spec.deadline <= block.timestamp) revert DeliberationMarketInvalidDeadline(spec.deadline);
        if (bounty == 0) revert DeliberationMarketZeroBounty();
        uint256 kindLength = bytes(spec.kind).length;
        if (kindLength == 0 || kindLength > MAX_KIND_BYTES) revert DeliberationMarketInvalidKindLength(kindLength);
        if (spec.input.length > MAX_INPUT_BYTES) revert DeliberationMarketInputTooLarge(spec.input.length);
    }
}
