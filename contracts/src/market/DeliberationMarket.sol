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
import {Halting} from "../voting/Halting.sol";
import {IAgentRegistry} from "../agents/IAgentRegistry.sol";
import {RankToken} from "../rank/RankToken.sol";
import {ITripartiteEscrow} from "../escrow/ITripartiteEscrow.sol";
import {LiquidAccessToken} from "../lat/LiquidAccessToken.sol";
import {LatId} from "../lat/LatId.sol";
import {IAuthorityRegistry} from "../authority/IAuthorityRegistry.sol";
import {IDeliberationMarket} from "./IDeliberationMarket.sol";

/**
 * @dev NSED jobs settled on chain (docs/contracts.md); see {IDeliberationMarket} for the transcript
 * encoding and the signed EIP-712 types. The market is built so that a keeper cannot choose a
 * job's outcome: it does not pick the agents, cannot stop the deliberation where it likes, and
 * cannot settle answers the seats did not sign for this job's input and history.
 *
 * - **Jobs.** A requester pays a bounty in the market's ERC-20; it goes straight into a
 *   {ITripartiteEscrow} deal whose buyer is the requester and whose operator is this market, with
 *   the job's deadline as delivery deadline. The job's terms (fees, halting parameters, round
 *   allowance) are fixed at the request. A keeper ({KEEPER_ROLE}, granted by the guild) claims
 *   the job and settles it with a transcript before the deadline; otherwise anyone refunds it after
 *   the deadline. A job is settled or refunded at most once.
 * - **Seats.** Agents register and bond in the {IAgentRegistry} ({registry}). {claimJob} draws the
 *   job's seats there, uniformly among the eligible agents, from
 *   `keccak256(abi.encode(block.prevrandao, jobId, address(this)))`, stores only the hash of the
 *   seat list and emits it ({SeatsDrawn}); {settleJob} accepts only a transcript over exactly
 *   those seats in that order. Seats are fixed at the claim: an agent deactivating or unbonding
 *   afterwards does not change the job, and no owner can veto its settlement.
 * - **Randomness.** `prevrandao` is the beacon chain's RANDAO mix, which the block's proposer can
 *   bias only by withholding its block (forfeiting its reward), and which is known one block ahead:
 *   once block `N - 1` is out, anyone can compute the draw a claim in block `N` gets. A keeper
 *   controlling `m` of the `N` eligible agents that waits up to `W` blocks for a draw it likes (or
 *   a keeper colluding with proposers) sees at most `W` independent draws, so its chance to seat
 *   `k` of its own agents rises from about `(m / N)^k` to at most `W · (m / N)^k`. This is
 *   accepted because every block it waits is a block in which another keeper may claim the job
 *   first, the draw is public before the keeper acts on it, and seating its own agents only helps
 *   if they also out-vote the honest seats under quadratic voting; absent seats cost only their
 *   own reward.
 * - **Verification.** {settleJob} re-checks the whole transcript: the seats are the drawn ones;
 *   every present proposal and ballot is signed by its seat's agent (EIP-712, low-s, 65-byte
 *   signatures); every ballot follows {QuadraticVoting-validate}; each round has proposals and
 *   ballots from a {QuadraticVoting-quorum} of its seats (all three of three; at least two
 *   proposals), so the keeper cannot pick the winner by leaving signed answers out beyond the
 *   silent seats the quorum tolerates; the answer is the last round's
 *   {QuadraticVoting-supportedWinner}.
 * - **Context.** Every signature covers the job's stored input hash and the digest of the rounds
 *   before its own (zero in round 1), which the market recomputes round by round from the
 *   transcript. An answer given to another question, or after another history than the one the
 *   transcript shows, fails as an invalid signature: a keeper can neither reuse answers across
 *   jobs' inputs nor splice, reorder or rewrite rounds.
 * - **Halting.** After every round the market applies the job's halting rule ({Halting-decide}
 *   with the job's `minRounds`, `maxRounds` and `effortPermille`): a transcript that goes on after
 *   a round that halts is rejected, and so is one whose last round does not halt, unless the
 *   chain's time is within the job's `roundAllowance` of its deadline (the keeper's `Deadline`
 *   halt: it stops for the deadline only inside that allowance, so the market agrees).
 * - **Equivocation.** An agent signing two different proposals, or two different ballots, for the
 *   same job and round is slashed in the registry on anyone's proof
 *   ({reportEquivocatingProposals}, {reportEquivocatingBallots}); the market needs the registry's
 *   `SLASHER_ROLE`.
 * - **Payment.** The bounty is delivered to the escrow split into a keeper fee, a guild fee (the
 *   job's) and the agents' share, pro rata to each agent's positive net score in the last round
 *   (integer dust, or everything if no score is positive, to the winner). Funds move when the
 *   escrow's challenge window ends ({ITripartiteEscrow-release}); the requester may dispute before
 *   that, posting the escrow's dispute bond (lost on a ruling that gives it nothing), and the
 *   guild rules.
 * - **Ladder.** The winning agent climbs one rank on the {RankToken} (the market needs its
 *   `GAME_ROLE`) only while its registry bond covers the climb: from rank `r` it needs a bond of at
 *   least {promotionBond}`(r) = minBond · 2^r`, so every rank costs twice the capital of the one
 *   below, as a climb in the arena costs twice the games (docs/economics.md). Its rank-`r` token
 *   is burned and a rank-`r+1` token minted. If the bond falls short, or the agent's rank-`r`
 *   token is not free (another game holds it locked or burned it), the win is paid but the
 *   promotion is skipped, so no player of another game can block a settlement, and no rank is
 *   minted twice.
 * - **Access tokens.** The winner also earns one {LiquidAccessToken} of the market's asset
 *   ({latAsset}: this contract's address) at the tier of the rank it won at (at least 1); the
 *   market needs the token's `MINTER_ROLE`.
 *
 * Deadlines are compared with `block.timestamp`; they are minutes to days long, so the few seconds
 * a block producer can skew it do not matter.
 *
 * The contracts it talks to (token, ranks, escrow, access token, agent registry) and the guild are
 * immutable; there is no upgrade path. The guild (its timelock, in a full deployment) holds
 * `DEFAULT_ADMIN_ROLE`, receives the guild fee, and alone tunes the parameters: the fees
 * ({setFees}), the escrow challenge window ({setChallengeWindow}), the halting terms
 * ({setHaltingTerms}) and whether keepers must be authority nodes ({setKeeperAuthority}). A
 * change applies to jobs requested after it; a claimed job is unaffected by the authority
 * requirement.
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
     * @param keeper The claiming keeper (zero before the claim; the latest one after a re-claim).
     * @param deadline Last second the job can be claimed or settled.
     * @param rounds Rounds of the settled transcript (0 before settlement).
     * @param winner The winning agent (zero before settlement).
     * @param keeperFeeBps Keeper fee in basis points of the bounty, fixed at the request.
     * @param guildFeeBps Guild fee in basis points of the bounty, fixed at the request.
     * @param minRounds Rounds that always run, fixed at the request (at most `maxRounds`).
     * @param effortPermille Conviction threshold of the halting rule, fixed at the request.
     * @param roundAllowance Seconds before the deadline from which the transcript may stop before
     * the halting rule does, fixed at the request.
     * @param halt Why the settled transcript stopped (`None` before settlement).
     * @param claimedAt When `keeper` claimed the job (zero before the claim).
     * @param bounty The bounty, in {token}.
     * @param escrowId The escrow deal holding the bounty.
     * @param inputHash `keccak256(input)`; the input itself is only in {JobRequested}.
     * @param seatsHash `keccak256(abi.encode(seats))` of the seats drawn at the claim (zero
     * before); the seats themselves are only in {SeatsDrawn}.
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
        uint16 keeperFeeBps;
        uint16 guildFeeBps;
        uint8 minRounds;
        uint16 effortPermille;
        uint32 roundAllowance;
        Halting.Reason halt;
        uint64 claimedAt;
        uint256 bounty;
        uint256 escrowId;
        bytes32 inputHash;
        bytes32 seatsHash;
        string kind;
        string answer;
    }

    /**
     * @dev Per-round working state of {settleJob}, kept in memory to stay within the stack.
     * @param jobId The job.
     * @param round Round number, from 1.
     * @param credits Vote credits per ballot.
     * @param inputHash The job's stored `keccak256(input)`, signed by every proposal and ballot.
     * @param previousRoundDigest The previous round's {digest} (zero in round 1), signed by every
     * proposal and ballot of this round.
     * @param proposalsDigest The round's proposals digest, signed by every ballot.
     * @param digest The round's own digest, chained over the rounds before it; the next round's
     * `previousRoundDigest`.
     * @param proposed Which seats proposed.
     * @param contentHashes `keccak256(bytes(content))` by seat, zero for a seat without a proposal.
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
        bytes32[] contentHashes;
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

    /// @dev Halting rule's `minRounds` until the guild changes it (`HaltingConfig::default`).
    uint8 public constant DEFAULT_MIN_ROUNDS = 1;
    /// @dev Halting rule's conviction threshold until the guild changes it (`HaltingConfig::default`).
    uint16 public constant DEFAULT_EFFORT_PERMILLE = 600;
    /// @dev Round allowance until the guild changes it: five minutes, several keeper rounds.
    uint32 public constant DEFAULT_ROUND_ALLOWANCE = 300;
    /// @dev Claim timeout until the guild changes it: thirty minutes, far longer than a
    /// deliberation takes, so only a keeper that stopped loses its job.
    uint32 public constant DEFAULT_CLAIM_TIMEOUT = 30 minutes;

    /// @dev 100% in basis points.
    uint16 private constant _BPS = 10_000;
    /// @dev 100% in thousandths (the halting rule's conviction scale).
    uint16 private constant _PERMILLE = 1000;

    IERC20 private immutable _token;
    RankToken private immutable _ranks;
    ITripartiteEscrow private immutable _escrow;
    LiquidAccessToken private immutable _lat;
    IAgentRegistry private immutable _registry;
    address private immutable _guild;
    // The tunable parameters share two storage slots (16 + 16 + 64 + 160 bits, then 8 + 16 + 32 + 32).
    uint16 private _keeperFeeBps;
    uint16 private _guildFeeBps;
    uint64 private _challengeWindow;
    IAuthorityRegistry private _keeperAuthority;
    uint8 private _minRounds;
    uint16 private _effortPermille;
    uint32 private _roundAllowance;
    uint32 private _claimTimeout;

    uint256 private _jobCount;
    mapping(uint256 jobId => Job) private _jobs;
    mapping(address agent => uint64) private _agentRanks;

    /**
     * @dev The guild changed the fees; jobs requested from now on use them.
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
     * @dev The guild changed the halting terms of jobs requested from now on.
     * @param minRounds Rounds that always run.
     * @param effortPermille Conviction threshold in thousandths.
     * @param roundAllowance Seconds before a job's deadline from which its transcript may stop
     * before the halting rule does.
     */
    event HaltingTermsChanged(uint8 minRounds, uint16 effortPermille, uint32 roundAllowance);

    /**
     * @dev The guild changed the claim timeout, for open claims too.
     * @param claimTimeout Seconds after a claim from which another keeper may re-claim the job.
     */
    event ClaimTimeoutChanged(uint32 claimTimeout);

    /**
     * @dev The guild set the registry keepers must be active authority nodes of (zero: no
     * requirement).
     * @param registry The authority registry, or the zero address.
     */
    event KeeperAuthorityChanged(address registry);

    /// @dev A constructor argument that must be set is the zero address.
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
     * @dev The halting terms are out of range: `minRounds` must be in `1..=MAX_ROUNDS` and
     * `effortPermille` at most 1000.
     * @param minRounds The rejected minimum.
     * @param effortPermille The rejected threshold.
     */
    error DeliberationMarketInvalidHaltingTerms(uint8 minRounds, uint16 effortPermille);

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
     * @param jobId The job.
     * @param current Its status.
     */
    error DeliberationMarketUnexpectedJobStatus(uint256 jobId, JobStatus current);

    /**
     * @dev The job's deadline has passed: it can no longer be claimed or settled.
     * @param jobId The job.
     * @param deadline Its deadline.
     */
    error DeliberationMarketJobExpired(uint256 jobId, uint64 deadline);

    /**
     * @dev The job's deadline has not passed yet: it cannot be refunded.
     * @param jobId The job.
     * @param deadline Its deadline.
     */
    error DeliberationMarketJobNotExpired(uint256 jobId, uint64 deadline);

    /**
     * @dev The job is claimed and its claim has not timed out: no other keeper may take it yet.
     * @param jobId The job.
     * @param keeper The keeper holding the claim.
     * @param until The last second of the claim; it may be re-claimed after it.
     */
    error DeliberationMarketClaimHeld(uint256 jobId, address keeper, uint64 until);

    /// @dev A claim timeout of zero would let keepers take each other's jobs at once.
    error DeliberationMarketInvalidClaimTimeout();

    /**
     * @dev Only the keeper that claimed the job may settle it.
     * @param jobId The job.
     * @param caller The rejected caller.
     */
    error DeliberationMarketNotClaimingKeeper(uint256 jobId, address caller);

    /**
     * @dev Fewer agents are eligible in the registry than the job has seats.
     * @param jobId The job.
     * @param eligible Eligible agents.
     * @param wanted The job's `agentsWanted`.
     */
    error DeliberationMarketTooFewEligibleAgents(uint256 jobId, uint256 eligible, uint8 wanted);

    /**
     * @dev The transcript's agents are not the seats drawn for the job at its claim, in order.
     * @param jobId The job.
     */
    error DeliberationMarketSeatsNotDrawn(uint256 jobId);

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
     * @dev A round has fewer proposals than its seats' {QuadraticVoting-quorum} (or than two).
     * @param round The round, from 1.
     * @param proposals Its number of proposals.
     * @param needed How many it needs.
     */
    error DeliberationMarketTooFewProposals(uint32 round, uint256 proposals, uint256 needed);

    /**
     * @dev A round has fewer ballots than its seats' {QuadraticVoting-quorum}: leaving ballots out
     * of a transcript is not a way to pick the winner.
     * @param round The round, from 1.
     * @param ballots Its number of ballots.
     * @param needed How many it needs.
     */
    error DeliberationMarketTooFewBallots(uint32 round, uint256 ballots, uint256 needed);

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
     * @dev The job's halting rule stops after round `round`, but the transcript goes on.
     * @param round The round that halts.
     */
    error DeliberationMarketContinuedAfterHalt(uint32 round);

    /**
     * @dev The transcript stops after round `round`, which the job's halting rule does not halt
     * at, and the job's deadline is not within its round allowance.
     * @param round The transcript's last round.
     */
    error DeliberationMarketStoppedEarly(uint32 round);

    /**
     * @dev An equivocation report's two claims are the same message: signing one message twice
     * is no equivocation.
     */
    error DeliberationMarketNotEquivocation();

    /**
     * @dev An equivocation report's signature `index` (0: the first claim, 1: the second) is not
     * `agent`'s valid signature of its claim.
     * @param agent The reported agent.
     * @param index Which signature.
     */
    error DeliberationMarketInvalidEquivocationSignature(address agent, uint256 index);

    /**
     * @dev Sets the immutable parameters and makes `guild` the role administrator. The halting
     * terms start at {DEFAULT_MIN_ROUNDS}, {DEFAULT_EFFORT_PERMILLE} and {DEFAULT_ROUND_ALLOWANCE}.
     * @param token_ ERC-20 bounties are paid in.
     * @param ranks_ The rank ladder; the market needs its `GAME_ROLE` to promote winners.
     * @param escrow_ Escrow holding the bounties (its resolver is set at its own construction).
     * @param lat_ Access token winners earn; the market needs its `MINTER_ROLE`.
     * @param registry_ The bonded agents seats are drawn from; the market needs its `SLASHER_ROLE`
     * to slash equivocating agents.
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
        IAgentRegistry registry_,
        address guild_,
        uint16 keeperFeeBps_,
        uint16 guildFeeBps_,
        uint64 challengeWindow_
    ) EIP712("NSED DeliberationMarket", "1") {
        if (
            address(token_) == address(0) || address(ranks_) == address(0) || address(escrow_) == address(0)
                || address(lat_) == address(0) || address(registry_) == address(0) || guild_ == address(0)
        ) revert DeliberationMarketZeroAddress();
        _token = token_;
        _ranks = ranks_;
        _escrow = escrow_;
        _lat = lat_;
        _registry = registry_;
        _guild = guild_;
        _setFees(keeperFeeBps_, guildFeeBps_);
        _setChallengeWindow(challengeWindow_);
        _setHaltingTerms(DEFAULT_MIN_ROUNDS, DEFAULT_EFFORT_PERMILLE, DEFAULT_ROUND_ALLOWANCE);
        _setClaimTimeout(DEFAULT_CLAIM_TIMEOUT);
        _grantRole(DEFAULT_ADMIN_ROLE, guild_);
    }

    /**
     * @dev Sets the keeper and guild fees of jobs requested from now on (open jobs keep theirs).
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
     * @dev Sets the halting terms of jobs requested from now on (open jobs keep theirs): the
     * rounds that always run (a job's `minRounds` is this, capped at its `maxRounds`), the
     * conviction threshold in thousandths, and the round allowance: how many seconds before its
     * deadline a job's transcript may stop before the halting rule says so. Keepers must not stop
     * for the deadline earlier than the allowance, or their settlement reverts
     * ({DeliberationMarketStoppedEarly}); a larger allowance lets a keeper cut more deliberations
     * short, a smaller one leaves slow keepers less time to settle.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild);
     * - `1 <= minRounds <= MAX_ROUNDS` and `effortPermille <= 1000`.
     *
     * Emits a {HaltingTermsChanged} event.
     */
    function setHaltingTerms(uint8 minRounds, uint16 effortPermille, uint32 roundAllowance)
        public
        virtual
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setHaltingTerms(minRounds, effortPermille, roundAllowance);
    }

    /**
     * @dev Sets the claim timeout: how long after its claim a job belongs to its keeper alone.
     * Once it has passed, any keeper (the holder too, renewing its claim) may re-claim the job
     * with {claimJob} until its deadline. Applies to open claims at once. A short timeout lets
     * keepers take slow keepers' jobs; a long one leaves a stopped keeper's jobs idle longer.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild);
     * - `claimTimeout > 0`.
     *
     * Emits a {ClaimTimeoutChanged} event.
     */
    function setClaimTimeout(uint32 claimTimeout_) public virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _setClaimTimeout(claimTimeout_);
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
     * @dev The bounty moves from the caller to the market (which needs the caller's approval) and
     * on into a new escrow deal with the caller as buyer and the current challenge window. Stores
     * `keccak256(input)`; the input is only carried by the event. Fixes the job's terms: the
     * current fees and halting terms, with `minRounds` capped at the spec's `maxRounds`.
     *
     * Requirements:
     *
     * - `2 <= agentsWanted <= MAX_AGENTS`, `1 <= maxRounds <= MAX_ROUNDS`, `credits >= 1`;
     * - `deadline` is in the future, `bounty > 0`;
     * - `1 <= bytes(kind).length <= MAX_KIND_BYTES`, `input.length <= MAX_INPUT_BYTES`.
     *
     * Emits a {JobRequested} event (after the escrow deal exists, since it carries its id) and a
     * {JobTermsFixed} event.
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
        _fixTerms(jobId, j);

        _token.safeTransferFrom(msg.sender, address(this), bounty);
        _token.forceApprove(address(_escrow), bounty);
        uint256 escrowId = _escrow.openFor(msg.sender, address(this), _token, bounty, spec.deadline, _challengeWindow);
        j.escrowId = escrowId;
        _emitJobRequested(jobId, spec, bounty, escrowId);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev The seats are `registry.drawSeats(seed, agentsWanted)` with
     * `seed = keccak256(abi.encode(block.prevrandao, jobId, address(this)))`: uniform among the
     * eligible agents, ascending by address. Only their hash is stored; a keeper reads them from
     * {SeatsDrawn} (in the claim's receipt). See the contract documentation for what a keeper or a
     * block proposer can do about the draw.
     *
     * Requirements:
     *
     * - the caller has {KEEPER_ROLE};
     * - when the guild requires it ({setKeeperAuthority}), the caller is an active authority node;
     * - the job is `Requested` and `block.timestamp <= deadline`;
     * - at least `agentsWanted` agents are eligible in the registry.
     *
     * Emits a {JobClaimed} event and a {SeatsDrawn} event.
     *
     * A `Claimed` job whose claim is older than {claimTimeout} is re-claimed instead: the caller
     * becomes its keeper from now on, and the seats stay those drawn at the first claim (a keeper
     * cannot re-draw them by re-claiming). The previous keeper can no longer settle it. Requires
     * the role, authority and deadline above, and emits {JobClaimed} only.
     */
    function claimJob(uint256 jobId) public virtual onlyRole(KEEPER_ROLE) {
        IAuthorityRegistry authority = _keeperAuthority;
        if (address(authority) != address(0) && !authority.isAuthority(msg.sender)) {
            revert DeliberationMarketKeeperNotAuthority(msg.sender);
        }
        Job storage j = _jobs[jobId];
        if (j.status == JobStatus.Claimed) {
            _reclaim(jobId, j);
            return;
        }
        if (j.status != JobStatus.Requested) revert DeliberationMarketUnexpectedJobStatus(jobId, j.status);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > j.deadline) revert DeliberationMarketJobExpired(jobId, j.deadline);
        uint8 wanted = j.agentsWanted;
        uint256 eligible = _registry.eligibleCount();
        if (eligible < wanted) revert DeliberationMarketTooFewEligibleAgents(jobId, eligible, wanted);
        address[] memory seats =
            _registry.drawSeats(keccak256(abi.encode(block.prevrandao, jobId, address(this))), wanted);
        j.status = JobStatus.Claimed;
        j.keeper = msg.sender;
        j.claimedAt = uint64(block.timestamp);
        j.seatsHash = keccak256(abi.encode(seats));
        emit JobClaimed(jobId, msg.sender);
        emit SeatsDrawn(jobId, seats);
    }

    /// @dev The re-claim of a `Claimed` job by {claimJob}, once its claim has timed out.
    function _reclaim(uint256 jobId, Job storage j) private {
        uint64 until = j.claimedAt + _claimTimeout;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= until) revert DeliberationMarketClaimHeld(jobId, j.keeper, until);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > j.deadline) revert DeliberationMarketJobExpired(jobId, j.deadline);
        j.keeper = msg.sender;
        j.claimedAt = uint64(block.timestamp);
        emit JobClaimed(jobId, msg.sender);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev Requirements:
     *
     * - the job is `Claimed`, the caller is its keeper and still has {KEEPER_ROLE} (the guild can
     *   stop a keeper; its jobs then refund after their deadline);
     * - `block.timestamp <= deadline`;
     * - the transcript's agents are the seats drawn at the claim, in order;
     * - the transcript checks out (see the contract documentation), stops where the job's halting
     *   rule first halts (or earlier, once `block.timestamp + roundAllowance >= deadline`), and its
     *   last round has a supported winner.
     *
     * Emits a {RoundTallied} event per round, then {JobHalted}, {JobSettled}, {AgentPromoted} when
     * the winner climbs, and the access token's {TransferSingle} for the winner's reward.
     */
    function settleJob(uint256 jobId, Transcript calldata transcript) public virtual nonReentrant {
        Job storage j = _jobs[jobId];
        if (j.status != JobStatus.Claimed) revert DeliberationMarketUnexpectedJobStatus(jobId, j.status);
        if (msg.sender != j.keeper) revert DeliberationMarketNotClaimingKeeper(jobId, msg.sender);
        _checkRole(KEEPER_ROLE);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > j.deadline) revert DeliberationMarketJobExpired(jobId, j.deadline);
        if (keccak256(abi.encode(transcript.agents)) != j.seatsHash) revert DeliberationMarketSeatsNotDrawn(jobId);

        (int256[] memory scores, uint256 winnerSeat, int256 winnerScore, uint32 rounds, Halting.Reason halt) =
            _verifyTranscript(jobId, j, transcript);
        address winner = transcript.agents[winnerSeat];
        string calldata answer = transcript.rounds[rounds - 1].contents[winnerSeat];

        j.status = JobStatus.Settled;
        j.rounds = rounds;
        j.winner = winner;
        j.halt = halt;
        j.answer = answer;
        emit JobHalted(jobId, rounds, halt);
        emit JobSettled(jobId, winner, answer, winnerScore, rounds);
        (bool promoted, uint64 fromRank) = _promoteRank(winner);

        (address[] memory recipients, uint256[] memory amounts) = _payouts(j, transcript.agents, scores, winnerSeat);
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

    /**
     * @inheritdoc IDeliberationMarket
     * @dev The claims are checked as {PROPOSAL_TYPEHASH} messages for `jobId` and `round` in this
     * market's domain; neither the job nor the agent's seat in it needs to exist on chain, since
     * signing two different proposals for one round is equivocation wherever it was shown.
     *
     * Requirements:
     *
     * - `a` and `b` differ, and `signatureA`, `signatureB` are `agent`'s valid signatures of them;
     * - the registry slashes the agent (it refuses an agent already slashed).
     *
     * Emits an {EquivocationReported} event (and the registry its own).
     */
    function reportEquivocatingProposals(
        uint256 jobId,
        uint32 round,
        address agent,
        ProposalClaim calldata a,
        bytes calldata signatureA,
        ProposalClaim calldata b,
        bytes calldata signatureB
    ) public virtual nonReentrant {
        bytes32 hashA = _proposalHash(jobId, round, a.inputHash, a.previousRoundDigest, a.contentHash);
        bytes32 hashB = _proposalHash(jobId, round, b.inputHash, b.previousRoundDigest, b.contentHash);
        _checkEquivocation(agent, hashA, signatureA, hashB, signatureB);
        emit EquivocationReported(jobId, round, agent, msg.sender, false);
        _registry.slash(agent, msg.sender);
    }

    /**
     * @inheritdoc IDeliberationMarket
     * @dev The claims are checked as {BALLOT_TYPEHASH} messages for `jobId` and `round` in this
     * market's domain; see {reportEquivocatingProposals}.
     *
     * Requirements:
     *
     * - `a` and `b` differ, and `signatureA`, `signatureB` are `agent`'s valid signatures of them;
     * - the registry slashes the agent (it refuses an agent already slashed).
     *
     * Emits an {EquivocationReported} event (and the registry its own).
     */
    function reportEquivocatingBallots(
        uint256 jobId,
        uint32 round,
        address agent,
        BallotClaim calldata a,
        bytes calldata signatureA,
        BallotClaim calldata b,
        bytes calldata signatureB
    ) public virtual nonReentrant {
        bytes32 hashA = _ballotHash(
            jobId, round, a.inputHash, a.previousRoundDigest, a.proposalsDigest, keccak256(abi.encodePacked(a.votes))
        );
        bytes32 hashB = _ballotHash(
            jobId, round, b.inputHash, b.previousRoundDigest, b.proposalsDigest, keccak256(abi.encodePacked(b.votes))
        );
        _checkEquivocation(agent, hashA, signatureA, hashB, signatureB);
        emit EquivocationReported(jobId, round, agent, msg.sender, true);
        _registry.slash(agent, msg.sender);
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

    /// @dev Agent `account`'s rank on the market's ladder (0 until it is first promoted).
    function agentRank(address account) public view virtual returns (uint256) {
        return _agentRanks[account];
    }

    /**
     * @dev The registry bond an agent at market rank `rank` needs for a win to promote it to
     * `rank + 1`: `minBond · 2^rank` with the registry's current `minBond`, saturating at
     * `type(uint256).max`.
     */
    function promotionBond(uint256 rank) public view virtual returns (uint256) {
        uint256 minBond = _registry.minBond();
        if (minBond == 0) return 0;
        if (rank >= 256 || minBond > type(uint256).max >> rank) return type(uint256).max;
        return minBond << rank;
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

    /// @dev The halting terms new jobs get: `minRounds`, `effortPermille`, `roundAllowance`.
    function haltingTerms()
        public
        view
        virtual
        returns (uint8 minRounds, uint16 effortPermille, uint32 roundAllowance)
    {
        return (_minRounds, _effortPermille, _roundAllowance);
    }

    /// @dev Seconds a requester has to dispute a settlement in the escrow.
    function challengeWindow() public view virtual returns (uint64) {
        return _challengeWindow;
    }

    /// @dev Seconds after a claim from which another keeper may re-claim the job ({setClaimTimeout}).
    function claimTimeout() public view virtual returns (uint32) {
        return _claimTimeout;
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

    /// @dev The registry of bonded agents seats are drawn from.
    function agentRegistry() public view virtual returns (IAgentRegistry) {
        return _registry;
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

    /// @dev Validates and stores the claim timeout; see {setClaimTimeout}.
    function _setClaimTimeout(uint32 claimTimeout_) internal virtual {
        if (claimTimeout_ == 0) revert DeliberationMarketInvalidClaimTimeout();
        _claimTimeout = claimTimeout_;
        emit ClaimTimeoutChanged(claimTimeout_);
    }

    /// @dev Validates and stores the halting terms; see {setHaltingTerms}.
    function _setHaltingTerms(uint8 minRounds, uint16 effortPermille, uint32 roundAllowance) internal virtual {
        if (minRounds < 1 || minRounds > MAX_ROUNDS || effortPermille > _PERMILLE) {
            revert DeliberationMarketInvalidHaltingTerms(minRounds, effortPermille);
        }
        _minRounds = minRounds;
        _effortPermille = effortPermille;
        _roundAllowance = roundAllowance;
        emit HaltingTermsChanged(minRounds, effortPermille, roundAllowance);
    }

    /// @dev Copies the current fees and halting terms into job `j`; see {requestJob}.
    function _fixTerms(uint256 jobId, Job storage j) private {
        uint8 minRounds = uint8(Math.min(_minRounds, j.maxRounds));
        (uint16 keeperFee, uint16 guildFee, uint16 effort, uint32 allowance) =
            (_keeperFeeBps, _guildFeeBps, _effortPermille, _roundAllowance);
        j.keeperFeeBps = keeperFee;
        j.guildFeeBps = guildFee;
        j.minRounds = minRounds;
        j.effortPermille = effort;
        j.roundAllowance = allowance;
        emit JobTermsFixed(jobId, keeperFee, guildFee, minRounds, effort, allowance);
    }

    /**
     * @dev Checks every round, emitting {RoundTallied} per round, and applies the job's halting
     * rule after each. Returns the last round's scores and supported winner (reverting if it has
     * none), the number of rounds and why the transcript stopped. The seats were checked against
     * the drawn ones before.
     *
     * Every round's answers are checked against the job's stored input hash and the digest of the
     * rounds before it (zero in round 1), so the rounds only verify in their own order, for this
     * job's input.
     */
    function _verifyTranscript(uint256 jobId, Job storage j, Transcript calldata transcript)
        internal
        virtual
        returns (int256[] memory scores, uint256 winnerSeat, int256 winnerScore, uint32 rounds, Halting.Reason halt)
    {
        uint256 count = transcript.rounds.length;
        Halting.Config memory config = Halting.Config(j.minRounds, j.maxRounds, j.effortPermille);
        if (count == 0 || count > config.maxRounds) {
            revert DeliberationMarketInvalidRoundCount(count, j.maxRounds);
        }
        RoundTally memory t;
        t.jobId = jobId;
        t.credits = j.credits;
        t.inputHash = j.inputHash;
        bool found;
        // rounds <= maxRounds <= MAX_ROUNDS, so counting in uint32 cannot overflow.
        for (rounds = 1; rounds <= count; ++rounds) {
            // Zero in round 1 (`t.digest` starts zeroed), then the digest of the round just tallied.
            t.previousRoundDigest = t.digest;
            t.round = rounds;
            _tallyRound(t, transcript.agents, transcript.rounds[rounds - 1]);
            (winnerSeat, winnerScore, found) = QuadraticVoting.supportedWinner(t.scores, t.supported);
            emit RoundTallied(jobId, rounds, t.scores, winnerSeat, found);
            halt = Halting.decide(config, Halting.roundFacts(rounds, t.scores, t.contentHashes, winnerSeat, found));
            if (halt != Halting.Reason.None && rounds < count) revert DeliberationMarketContinuedAfterHalt(rounds);
        }
        --rounds;
        if (halt == Halting.Reason.None) {
            // forge-lint: disable-next-line(block-timestamp)
            if (block.timestamp + j.roundAllowance < j.deadline) revert DeliberationMarketStoppedEarly(rounds);
            halt = Halting.Reason.Deadline;
        }
        if (!found) revert DeliberationMarketNoSupportedWinner(rounds);
        scores = t.scores;
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
        t.contentHashes = new bytes32[](seats);
        t.votesHashes = new bytes32[](seats);
        t.scores = new int256[](seats);
        t.supported = new bool[](seats);

        uint256 proposals = 0;
        for (uint256 seat = 0; seat < seats; ++seat) {
            bytes32 contentHash =
                _checkProposal(t, seat, agents[seat], rnd.contents[seat], rnd.proposalSignatures[seat]);
            if (contentHash != bytes32(0)) {
                t.contentHashes[seat] = contentHash;
                t.proposed[seat] = true;
                ++proposals;
            }
        }
        uint256 needed = QuadraticVoting.quorum(seats);
        if (proposals < needed || proposals < 2) {
            revert DeliberationMarketTooFewProposals(t.round, proposals, needed < 2 ? 2 : needed);
        }
        t.proposalsDigest = keccak256(abi.encode(agents, t.contentHashes));

        uint256 ballots = 0;
        for (uint256 seat = 0; seat < seats; ++seat) {
            if (_countBallot(t, seat, agents[seat], rnd.votes[seat], rnd.ballotSignatures[seat])) ++ballots;
        }
        if (ballots < needed) revert DeliberationMarketTooFewBallots(t.round, ballots, needed);
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
        bytes32 structHash = _proposalHash(t.jobId, t.round, t.inputHash, t.previousRoundDigest, contentHash);
        if (!_signedBy(structHash, signature, agent_)) {
            revert DeliberationMarketInvalidProposalSignature(t.round, seat);
        }
    }

    /**
     * @dev Checks one seat's ballot, records its votes hash and adds its votes to the tally (a missing
     * ballot adds nothing and keeps a zero votes hash); returns whether the seat cast one.
     */
    function _countBallot(
        RoundTally memory t,
        uint256 seat,
        address agent_,
        int256[] calldata votes,
        bytes calldata signature
    ) internal view virtual returns (bool cast) {
        if (signature.length == 0) {
            if (votes.length != 0) {
                revert DeliberationMarketUnsignedVotes(t.round, seat);
            }
            return false;
        }
        int256[] memory v = votes;
        QuadraticVoting.validate(v, seat, t.proposed, t.credits);
        // The same hash is the `int256[] votes` member of the ballot and the seat's entry in the round digest.
        bytes32 votesHash = keccak256(abi.encodePacked(votes));
        t.votesHashes[seat] = votesHash;
        bytes32 structHash =
            _ballotHash(t.jobId, t.round, t.inputHash, t.previousRoundDigest, t.proposalsDigest, votesHash);
        if (!_signedBy(structHash, signature, agent_)) revert DeliberationMarketInvalidBallotSignature(t.round, seat);
        QuadraticVoting.addToScores(t.scores, v);
        for (uint256 q = 0; q < v.length; ++q) {
            if (v[q] != 0) t.supported[q] = true;
        }
        return true;
    }

    /// @dev The EIP-712 struct hash of a {PROPOSAL_TYPEHASH} message.
    function _proposalHash(
        uint256 jobId,
        uint32 round,
        bytes32 inputHash,
        bytes32 previousRoundDigest,
        bytes32 contentHash
    ) internal pure virtual returns (bytes32) {
        return keccak256(abi.encode(PROPOSAL_TYPEHASH, jobId, round, inputHash, previousRoundDigest, contentHash));
    }

    /// @dev The EIP-712 struct hash of a {BALLOT_TYPEHASH} message whose votes hash to `votesHash`.
    function _ballotHash(
        uint256 jobId,
        uint32 round,
        bytes32 inputHash,
        bytes32 previousRoundDigest,
        bytes32 proposalsDigest,
        bytes32 votesHash
    ) internal pure virtual returns (bytes32) {
        return keccak256(
            abi.encode(BALLOT_TYPEHASH, jobId, round, inputHash, previousRoundDigest, proposalsDigest, votesHash)
        );
    }

    /**
     * @dev Checks an equivocation proof: two different messages (`hashA != hashB`), both signed by
     * `agent`.
     */
    function _checkEquivocation(
        address agent,
        bytes32 hashA,
        bytes calldata signatureA,
        bytes32 hashB,
        bytes calldata signatureB
    ) internal view virtual {
        if (hashA == hashB) revert DeliberationMarketNotEquivocation();
        if (!_signedBy(hashA, signatureA, agent)) revert DeliberationMarketInvalidEquivocationSignature(agent, 0);
        if (!_signedBy(hashB, signatureB, agent)) revert DeliberationMarketInvalidEquivocationSignature(agent, 1);
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
     * @dev Splits job `j`'s bounty into the escrow payout, at the job's fees: keeper fee to the
     * caller, guild fee to the guild, the rest to the agents pro rata to `max(score, 0)` with the
     * dust (or all of it, if no score is positive) to the winner. Zero amounts are left out.
     */
    function _payouts(Job storage j, address[] calldata agents, int256[] memory scores, uint256 winnerSeat)
        internal
        view
        virtual
        returns (address[] memory recipients, uint256[] memory amounts)
    {
        (uint256 keeperFee, uint256 guildFee, uint256 rest) = _fees(j);

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
     * @dev Job `j`'s keeper fee, guild fee and what is left of its bounty for the agents.
     */
    function _fees(Job storage j) internal view virtual returns (uint256 keeperFee, uint256 guildFee, uint256 rest) {
        uint256 bounty = j.bounty;
        keeperFee = Math.mulDiv(bounty, j.keeperFeeBps, _BPS);
        guildFee = Math.mulDiv(bounty, j.guildFeeBps, _BPS);
        // No underflow: keeperFeeBps + guildFeeBps <= 10000, so the fees sum to at most the bounty.
        rest = bounty - keeperFee - guildFee;
    }

    /**
     * @dev Raises `winner`'s market rank by one if its registry bond covers {promotionBond} of its
     * rank and its current rank token (if any) is free to burn; returns whether it does and the
     * rank it climbs from. The token moves happen later, after every state change
     * (checks-effects-interactions).
     *
     * Emits an {AgentPromoted} event when it promotes.
     */
    function _promoteRank(address winner) internal virtual returns (bool promoted, uint64 fromRank) {
        fromRank = _agentRanks[winner];
        IAgentRegistry.Agent memory registered = _registry.agent(winner);
        if (registered.slashed || registered.bond < promotionBond(fromRank)) return (false, fromRank);
        if (fromRank > 0 && _ranks.unlockedBalanceOf(winner, fromRank) == 0) return (false, fromRank);
        _agentRanks[winner] = fromRank + 1;
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
