// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {QuadraticVoting} from "../voting/QuadraticVoting.sol";
import {RankToken} from "../rank/RankToken.sol";
import {LiquidAccessToken} from "../lat/LiquidAccessToken.sol";
import {LatId} from "../lat/LatId.sol";

/**
 * @dev Deliberation games for people and any address (docs/contracts.md), with no game master.
 *
 * Lifecycle: {createGame} → {join} (rank-gated: a rank-`R` game locks one rank-`R` token when
 * `R > 1`) → {start} → turns → close. Every turn has four phases, each with its own deadline:
 *
 * 1. `Proposing`: players commit `keccak256(abi.encode(gameId, turn, player, proposal, salt))`.
 * 2. `ProposalReveal`: players reveal `(proposal, salt)`; proposals are public only from here on,
 *    i.e. after every proposal commitment is final.
 * 3. `Voting`: players commit `keccak256(abi.encode(gameId, turn, player, votes, salt))`.
 * 4. `VoteReveal`: players reveal `(votes, salt)`; ballots are public only after voting ended.
 *
 * Anyone calls {advance} once a phase's deadline has passed, or earlier when the phase is
 * complete (every seat committed, or every commitment revealed), so idle players and absent
 * relayers can never stall a game. Moves outside their phase or after its deadline revert.
 *
 * Relayed moves: a relayer submits commitments in batches ({relayCommits}) with the player's
 * EIP-712 signature over `Commit(gameId, turn, kind, commitment, deadline)`; the domain binds the
 * chain and this contract. Reveals need no signature: the commitment already binds the game, turn
 * and player, so only someone holding the preimage (the player, or whom they gave it) can reveal,
 * and {revealProposalFor} / {revealVoteFor} accept it from anyone. A player can always move directly.
 *
 * Scoring: a ballot is an `int256[]` indexed by seat, checked by {QuadraticVoting-validate}
 * against the seats that revealed a proposal this turn. A seat that revealed a proposal but no
 * ballot gives `⌊√credits⌋` to every other proposer of the turn; a seat that did not propose
 * cannot be voted for, so it scores nothing that turn. Scores accumulate over turns.
 *
 * Close: only a seat that revealed at least one proposal in the game can win (a seat that never
 * proposes cannot be voted down, so without this rule never proposing would win every all-zero
 * tie). After the last turn, while the top two proposers are tied and fewer than
 * `maxOvertimeTurns` overtime turns were played, another turn is played; then the proposer with
 * the highest score wins, ties going to the one with more revealed proposals, then to the lowest
 * seat. A game in which nobody proposed ends without a winner: no promotion, no demotion, no LAT.
 * Close makes no external call that a player controls: ranks are minted and
 * burned by this contract on the {RankToken} (no receiver hooks) and stakes are credited for
 * {withdraw} (pull payments), so no player can make it revert.
 *
 * Ladder (docs/economics.md): in a rank-`R` game the winner's locked rank-`R` token is burned and a rank-`R+1`
 * token minted; each loser's rank-`R` token is burned and a rank-`R-1` token minted. In rank-1
 * games nothing is locked: the winner is minted rank 2 and losers keep nothing and lose nothing.
 * The winner of a rank-`R` game also earns one tier-`R` {LiquidAccessToken} of the arena's asset
 * ({latAsset}: this contract's address), minted without receiver hooks as well.
 *
 * Price of the ladder (docs/economics.md): a rank-`R` game's join fee is at least
 * {minJoinFee}`(R) = minJoinFeeUnit · 2^(R−1)` per seat, the LAT value its winner earns in the
 * {LatConverter} times {minJoinFeeUnit}, a deployment parameter in fee-token base units. Fees are
 * spent (the treasury keeps them), so an operator filling every seat of its own games pays at
 * least `2 · minJoinFeeUnit` fee-token base units per LAT value unit it farms, game by game, and
 * the fees of a climb double with every rank.
 *
 * Money: the join fee and the stake are pulled at {join}. At {start} the fees are credited to the
 * treasury; at close the stakes are credited back to the players; a cancelled game (below
 * `minPlayers` when the join window ends) credits fees and stakes back and releases rank locks.
 *
 * No roles, no owner, no upgrade path; the arena needs the {RankToken}'s `GAME_ROLE` and the
 * {LiquidAccessToken}'s `MINTER_ROLE`.
 */
contract RankifyArena is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /**
     * @dev Where a game stands: `None` (unknown id), `Joining`, then per turn `Proposing` →
     * `ProposalReveal` → `Voting` → `VoteReveal`, and finally `Ended` or `Cancelled`.
     */
    enum Phase {
        None,
        Joining,
        Proposing,
        ProposalReveal,
        Voting,
        VoteReveal,
        Ended,
        Cancelled
    }

    /**
     * @dev Parameters of a new game.
     * @param rank Rank level a seat requires (1 = open to everyone).
     * @param minPlayers Fewest players the game starts with (at least 2).
     * @param maxPlayers Most players (at most {MAX_PLAYERS}).
     * @param turns Regular turns (at least 1).
     * @param maxOvertimeTurns Most overtime turns played while the top two are tied.
     * @param voteCredits Quadratic vote credits per ballot (1 to {QuadraticVoting-MAX_CREDITS}).
     * @param joinDuration Seconds the join window stays open after creation.
     * @param proposingDuration Seconds of the proposal commit phase.
     * @param votingDuration Seconds of the vote commit phase.
     * @param revealDuration Seconds of each reveal phase.
     * @param joinFee Fee per seat, in the fee token, credited to the treasury at start.
     * @param stake Stake per seat, in the fee token, credited back to the player at close.
     * @param metadataURI Game description for a UI.
     */
    struct GameParams {
        uint64 rank;
        uint8 minPlayers;
        uint8 maxPlayers;
        uint16 turns;
        uint16 maxOvertimeTurns;
        uint128 voteCredits;
        uint64 joinDuration;
        uint64 proposingDuration;
        uint64 votingDuration;
        uint64 revealDuration;
        uint256 joinFee;
        uint256 stake;
        string metadataURI;
    }

    /**
     * @dev A game as stored and returned by {game}.
     * @param params Its creation parameters.
     * @param creator Who created it (may start early).
     * @param phase Where it stands.
     * @param turn Current turn, from 1 (0 before start).
     * @param overtimeTurns Overtime turns started so far.
     * @param playerCount Seated players.
     * @param winner Winning seat (valid once `phase == Ended`).
     * @param joinDeadline Last second of the join window.
     * @param phaseDeadline Last second of the current phase.
     */
    struct Game {
        GameParams params;
        address creator;
        Phase phase;
        uint16 turn;
        uint16 overtimeTurns;
        uint8 playerCount;
        uint8 winner;
        uint64 joinDeadline;
        uint64 phaseDeadline;
    }

    /**
     * @dev One seat's moves in one turn, returned by {moves}.
     * @param proposalCommitment The proposal commitment (zero if none).
     * @param voteCommitment The ballot commitment (zero if none).
     * @param proposed Whether the proposal was revealed.
     * @param voted Whether the ballot was revealed.
     */
    struct Moves {
        bytes32 proposalCommitment;
        bytes32 voteCommitment;
        bool proposed;
        bool voted;
    }

    /**
     * @dev A relayed, signed commitment.
     * @param gameId The game.
     * @param turn The turn it is for.
     * @param kind {KIND_PROPOSAL} or {KIND_VOTE}.
     * @param player The signing player.
     * @param commitment The commitment.
     * @param deadline Last second the signature is valid.
     * @param signature The player's 65-byte EIP-712 signature over {COMMIT_TYPEHASH}.
     */
    struct SignedCommit {
        uint256 gameId;
        uint16 turn;
        uint8 kind;
        address player;
        bytes32 commitment;
        uint256 deadline;
        bytes signature;
    }

    /**
     * @dev Counters of one turn, to end a complete phase early.
     * @param proposalCommits Seats that committed a proposal.
     * @param proposalReveals Seats that revealed a proposal.
     * @param voteCommits Seats that committed a ballot.
     * @param voteReveals Seats that revealed a ballot.
     */
    struct TurnCounts {
        uint8 proposalCommits;
        uint8 proposalReveals;
        uint8 voteCommits;
        uint8 voteReveals;
    }

    /// @dev Most seats a game may have.
    uint8 public constant MAX_PLAYERS = 16;
    /// @dev {SignedCommit-kind} of a proposal commitment.
    uint8 public constant KIND_PROPOSAL = 0;
    /// @dev {SignedCommit-kind} of a ballot commitment.
    uint8 public constant KIND_VOTE = 1;
    /// @dev Longest phase (and join window): bounds every deadline far below 2^64, so advancing a
    /// game can never overflow.
    uint64 public constant MAX_DURATION = 365 days;
    /// @dev Largest join fee or stake: bounds every sum and product of them below 2^256, so refunds
    /// and payouts can never overflow.
    uint256 public constant MAX_AMOUNT = type(uint128).max;
    /// @dev {Game-winner} of a game that ended without a winner (no seat ever revealed a proposal).
    uint8 public constant NO_WINNER = type(uint8).max;
    /// @dev EIP-712 type hash of a relayed commitment.
    bytes32 public constant COMMIT_TYPEHASH =
        keccak256("Commit(uint256 gameId,uint16 turn,uint8 kind,bytes32 commitment,uint256 deadline)");

    RankToken private immutable _ranks;
    IERC20 private immutable _feeToken;
    address private immutable _treasury;
    LiquidAccessToken private immutable _lat;
    uint256 private immutable _minJoinFeeUnit;

    uint256 private _gameCount;
    mapping(uint256 gameId => Game) private _games;
    mapping(uint256 gameId => address[]) private _players;
    mapping(uint256 gameId => int256[]) private _scores;
    mapping(uint256 gameId => mapping(address player => uint256)) private _seatPlusOne;
    mapping(uint256 gameId => mapping(uint16 turn => mapping(uint256 seat => Moves))) private _moves;
    mapping(uint256 gameId => mapping(uint16 turn => TurnCounts)) private _counts;
    mapping(address account => uint256) private _owed;
    // Revealed proposals per seat over the whole game, 16 bits per seat (seat `q` in bits
    // `16q..16q+15`): one slot per game keeps a reveal's extra write warm-priced.
    mapping(uint256 gameId => uint256) private _proposalCounts;

    /**
     * @dev Game `gameId` was created.
     * @param gameId The new game.
     * @param creator Its creator.
     * @param rank Rank level of its seats.
     * @param joinDeadline Last second of its join window.
     * @param params All its parameters.
     */
    event GameCreated(
        uint256 indexed gameId, address indexed creator, uint64 indexed rank, uint64 joinDeadline, GameParams params
    );

    /**
     * @dev `player` took seat `seat` of game `gameId`.
     * @param gameId The game.
     * @param player The player.
     * @param seat The seat index.
     */
    event PlayerJoined(uint256 indexed gameId, address indexed player, uint8 seat);

    /**
     * @dev Game `gameId` started with `players` seats; turn 1's proposing phase ends at `deadline`.
     * @param gameId The game.
     * @param players The seated players.
     * @param deadline Last second of turn 1's proposing phase.
     */
    event GameStarted(uint256 indexed gameId, address[] players, uint64 deadline);

    /**
     * @dev Game `gameId` entered `phase` of `turn`, which ends at `deadline`.
     * @param gameId The game.
     * @param turn The turn.
     * @param phase The new phase.
     * @param deadline Last second of the new phase.
     */
    event PhaseStarted(uint256 indexed gameId, uint16 indexed turn, Phase phase, uint64 deadline);

    /**
     * @dev `player` committed a proposal.
     * @param gameId The game.
     * @param turn The turn.
     * @param player The player.
     * @param commitment The commitment.
     */
    event ProposalCommitted(uint256 indexed gameId, uint16 indexed turn, address indexed player, bytes32 commitment);

    /**
     * @dev `player` revealed `proposal`.
     * @param gameId The game.
     * @param turn The turn.
     * @param player The player.
     * @param proposal The proposal text.
     */
    event ProposalRevealed(uint256 indexed gameId, uint16 indexed turn, address indexed player, string proposal);

    /**
     * @dev `player` committed a ballot.
     * @param gameId The game.
     * @param turn The turn.
     * @param player The player.
     * @param commitment The commitment.
     */
    event VoteCommitted(uint256 indexed gameId, uint16 indexed turn, address indexed player, bytes32 commitment);

    /**
     * @dev `player` revealed the ballot `votes`.
     * @param gameId The game.
     * @param turn The turn.
     * @param player The player.
     * @param votes The votes, one per seat.
     */
    event VoteRevealed(uint256 indexed gameId, uint16 indexed turn, address indexed player, int256[] votes);

    /**
     * @dev Turn `turn` ended with cumulative `scores` (one per seat).
     * @param gameId The game.
     * @param turn The turn.
     * @param scores Cumulative scores after the turn.
     */
    event TurnEnded(uint256 indexed gameId, uint16 indexed turn, int256[] scores);

    /**
     * @dev The top two were tied after turn `turn - 1`: overtime turn `turn` begins.
     * @param gameId The game.
     * @param turn The overtime turn.
     */
    event OvertimeStarted(uint256 indexed gameId, uint16 indexed turn);

    /**
     * @dev Game `gameId` ended; `winner` won with the final `scores`.
     * @param gameId The game.
     * @param winner The winning player.
     * @param scores Final scores, one per seat.
     */
    event GameEnded(uint256 indexed gameId, address indexed winner, int256[] scores);

    /**
     * @dev Game `gameId` was cancelled with `players` seated; everything taken was credited back.
     * @param gameId The game.
     * @param players Seated players at cancellation.
     */
    event GameCancelled(uint256 indexed gameId, uint8 players);

    /**
     * @dev Entry `index` of a {relayCommits} batch was skipped because it failed with `reason`
     * (an ABI-encoded custom error such as {ArenaAlreadyMoved} or {ArenaInvalidSigner}); the
     * other entries of the batch still count.
     * @param gameId The entry's game.
     * @param player The entry's claimed player.
     * @param index The entry's position in the batch.
     * @param reason The custom error the entry would have reverted with.
     */
    event RelayedCommitSkipped(uint256 indexed gameId, address indexed player, uint256 index, bytes reason);

    /**
     * @dev `account` withdrew `amount` of credited fee tokens.
     * @param account The receiver.
     * @param amount The amount.
     */
    event Withdrawn(address indexed account, uint256 amount);

    /// @dev A constructor argument is the zero address.
    error ArenaZeroAddress();

    /**
     * @dev The join fee unit given to the constructor is zero (every LAT would be free) or above
     * {MAX_AMOUNT} (no game could be created).
     * @param unit The rejected unit, in fee-token base units.
     */
    error ArenaInvalidMinJoinFeeUnit(uint256 unit);

    /**
     * @dev `rank` is 0.
     * @param rank The rejected rank.
     */
    error ArenaInvalidRank(uint64 rank);

    /**
     * @dev Player bounds violate `2 <= min <= max <= MAX_PLAYERS`.
     * @param minPlayers The rejected minimum.
     * @param maxPlayers The rejected maximum.
     */
    error ArenaInvalidPlayerBounds(uint8 minPlayers, uint8 maxPlayers);

    /**
     * @dev `turns` is 0, or `turns + maxOvertimeTurns` does not fit a `uint16` turn counter.
     * @param turns The rejected number of turns.
     * @param maxOvertimeTurns The rejected number of overtime turns.
     */
    error ArenaInvalidTurns(uint16 turns, uint16 maxOvertimeTurns);

    /**
     * @dev The join fee or the stake is above {MAX_AMOUNT}.
     * @param joinFee The rejected fee.
     * @param stake The rejected stake.
     */
    error ArenaInvalidAmounts(uint256 joinFee, uint256 stake);

    /**
     * @dev The join fee of a rank-`rank` game is below {minJoinFee}`(rank)`.
     * @param rank The game's rank.
     * @param joinFee The rejected fee.
     * @param minimum The smallest fee accepted at that rank.
     */
    error ArenaJoinFeeTooLow(uint64 rank, uint256 joinFee, uint256 minimum);

    /**
     * @dev `credits` is 0 or above {QuadraticVoting-MAX_CREDITS}.
     * @param credits The rejected credits.
     */
    error ArenaInvalidVoteCredits(uint128 credits);

    /**
     * @dev A phase duration is 0 or above {MAX_DURATION}.
     * @param joinDuration The join window.
     * @param proposingDuration The proposing phase.
     * @param votingDuration The voting phase.
     * @param revealDuration Each reveal phase.
     */
    error ArenaInvalidDurations(
        uint64 joinDuration, uint64 proposingDuration, uint64 votingDuration, uint64 revealDuration
    );

    /**
     * @dev Game `gameId` is in `current`, which this call does not accept.
     * @param gameId The game.
     * @param current Its phase.
     */
    error ArenaUnexpectedPhase(uint256 gameId, Phase current);

    /**
     * @dev The current phase of game `gameId` ended at `deadline`; only {advance} is accepted.
     * @param gameId The game.
     * @param deadline The phase's last second.
     */
    error ArenaPhaseOver(uint256 gameId, uint64 deadline);

    /**
     * @dev The current phase of game `gameId` is incomplete and runs until `deadline`.
     * @param gameId The game.
     * @param deadline The phase's last second.
     */
    error ArenaPhaseNotOver(uint256 gameId, uint64 deadline);

    /**
     * @dev Game `gameId` has all `maxPlayers` seats taken.
     * @param gameId The game.
     */
    error ArenaGameFull(uint256 gameId);

    /**
     * @dev `player` already sits in game `gameId`.
     * @param gameId The game.
     * @param player The player.
     */
    error ArenaAlreadyJoined(uint256 gameId, address player);

    /**
     * @dev `account` has no seat in game `gameId`.
     * @param gameId The game.
     * @param account The account.
     */
    error ArenaNotPlayer(uint256 gameId, address account);

    /**
     * @dev `caller` may not start game `gameId` now (it has `players` seated).
     * @param gameId The game.
     * @param caller The caller.
     * @param players Seated players.
     */
    error ArenaStartNotAllowed(uint256 gameId, address caller, uint8 players);

    /**
     * @dev A move names turn `given` but game `gameId` is in turn `current`.
     * @param gameId The game.
     * @param current The current turn.
     * @param given The turn of the move.
     */
    error ArenaWrongTurn(uint256 gameId, uint16 current, uint16 given);

    /**
     * @dev `player` already committed (or revealed) this move in this turn.
     * @param gameId The game.
     * @param turn The turn.
     * @param player The player.
     */
    error ArenaAlreadyMoved(uint256 gameId, uint16 turn, address player);

    /**
     * @dev The revealed preimage does not match `player`'s commitment (or there is none).
     * @param gameId The game.
     * @param turn The turn.
     * @param player The player.
     */
    error ArenaCommitmentMismatch(uint256 gameId, uint16 turn, address player);

    /**
     * @dev A commitment is zero.
     */
    error ArenaZeroCommitment();

    /**
     * @dev A relayed move's kind is neither {KIND_PROPOSAL} nor {KIND_VOTE}.
     * @param kind The rejected kind.
     */
    error ArenaInvalidKind(uint8 kind);

    /**
     * @dev A relayed move's signature expired at `deadline`.
     * @param deadline The signature's deadline.
     */
    error ArenaSignatureExpired(uint256 deadline);

    /**
     * @dev A relayed move is not signed by `player` (it recovers to `recovered`).
     * @param player The claimed player.
     * @param recovered The recovered signer (zero for a malformed signature).
     */
    error ArenaInvalidSigner(address player, address recovered);

    /**
     * @dev `account` has nothing to withdraw.
     * @param account The account.
     */
    error ArenaNothingToWithdraw(address account);

    /**
     * @dev Sets the ladder, the fee token, the treasury, the access token and the price floor of
     * a LAT value unit; all immutable.
     * @param ranks The rank token (the arena needs its `GAME_ROLE`).
     * @param feeToken The ERC-20 of join fees and stakes.
     * @param treasury The guild treasury receiving join fees.
     * @param lat The access token winners earn (the arena needs its `MINTER_ROLE`).
     * @param minJoinFeeUnit_ The smallest join fee per seat of a rank-1 game, in fee-token base
     * units (see {minJoinFeeUnit}); in `1..=MAX_AMOUNT`.
     */
    constructor(RankToken ranks, IERC20 feeToken, address treasury, LiquidAccessToken lat, uint256 minJoinFeeUnit_)
        EIP712("NSED RankifyArena", "1")
    {
        if (
            address(ranks) == address(0) || address(feeToken) == address(0) || treasury == address(0)
                || address(lat) == address(0)
        ) {
            revert ArenaZeroAddress();
        }
        if (minJoinFeeUnit_ == 0 || minJoinFeeUnit_ > MAX_AMOUNT) revert ArenaInvalidMinJoinFeeUnit(minJoinFeeUnit_);
        _ranks = ranks;
        _feeToken = feeToken;
        _treasury = treasury;
        _lat = lat;
        _minJoinFeeUnit = minJoinFeeUnit_;
    }

    // ----------------------------------------------------------------------------------------
    // Lifecycle
    // ----------------------------------------------------------------------------------------

    /**
     * @dev Creates a game; its join window opens now.
     *
     * Requirements:
     *
     * - `rank >= 1`, `2 <= minPlayers <= maxPlayers <= MAX_PLAYERS`;
     * - `turns >= 1` and `turns + maxOvertimeTurns <= type(uint16).max`;
     * - `1 <= voteCredits <= QuadraticVoting.MAX_CREDITS`;
     * - every duration is in `1..=MAX_DURATION`; `joinFee` and `stake` are at most {MAX_AMOUNT};
     * - `joinFee >= minJoinFee(rank)`.
     *
     * Emits a {GameCreated} event.
     */
    function createGame(GameParams calldata params) external virtual returns (uint256 gameId) {
        if (params.rank == 0) revert ArenaInvalidRank(params.rank);
        if (params.minPlayers < 2 || params.minPlayers > params.maxPlayers || params.maxPlayers > MAX_PLAYERS) {
            revert ArenaInvalidPlayerBounds(params.minPlayers, params.maxPlayers);
        }
        if (params.turns == 0 || uint256(params.turns) + params.maxOvertimeTurns > type(uint16).max) {
            revert ArenaInvalidTurns(params.turns, params.maxOvertimeTurns);
        }
        if (params.voteCredits == 0 || params.voteCredits > QuadraticVoting.MAX_CREDITS) {
            revert ArenaInvalidVoteCredits(params.voteCredits);
        }
        if (
            params.joinDuration == 0 || params.proposingDuration == 0 || params.votingDuration == 0
                || params.revealDuration == 0 || params.joinDuration > MAX_DURATION
                || params.proposingDuration > MAX_DURATION || params.votingDuration > MAX_DURATION
                || params.revealDuration > MAX_DURATION
        ) {
            revert ArenaInvalidDurations(
                params.joinDuration, params.proposingDuration, params.votingDuration, params.revealDuration
            );
        }
        if (params.joinFee > MAX_AMOUNT || params.stake > MAX_AMOUNT) {
            revert ArenaInvalidAmounts(params.joinFee, params.stake);
        }
        uint256 minFee = minJoinFee(params.rank);
        if (params.joinFee < minFee) revert ArenaJoinFeeTooLow(params.rank, params.joinFee, minFee);
        gameId = ++_gameCount;
        Game storage g = _games[gameId];
        g.params = params;
        g.creator = msg.sender;
        g.phase = Phase.Joining;
        g.joinDeadline = uint64(block.timestamp) + params.joinDuration;
        g.phaseDeadline = g.joinDeadline;
        emit GameCreated(gameId, msg.sender, params.rank, g.joinDeadline, params);
    }

    /**
     * @dev Takes a seat in game `gameId`: pulls `joinFee + stake` fee tokens (an allowance is
     * needed) and, for `rank > 1`, locks one of the caller's rank-`rank` tokens.
     *
     * Requirements:
     *
     * - the game is `Joining` and its join window is open;
     * - it has a free seat and the caller has none.
     *
     * Emits a {PlayerJoined} event.
     */
    function join(uint256 gameId) external virtual nonReentrant {
        Game storage g = _games[gameId];
        _requirePhase(gameId, g, Phase.Joining);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > g.joinDeadline) revert ArenaPhaseOver(gameId, g.joinDeadline);
        if (g.playerCount >= g.params.maxPlayers) revert ArenaGameFull(gameId);
        if (_seatPlusOne[gameId][msg.sender] != 0) revert ArenaAlreadyJoined(gameId, msg.sender);
        uint8 seat = g.playerCount;
        g.playerCount = seat + 1;
        _seatPlusOne[gameId][msg.sender] = uint256(seat) + 1;
        _players[gameId].push(msg.sender);
        _scores[gameId].push(0);
        emit PlayerJoined(gameId, msg.sender, seat);
        uint256 amount = g.params.joinFee + g.params.stake;
        if (amount > 0) _feeToken.safeTransferFrom(msg.sender, address(this), amount);
        if (g.params.rank > 1) _ranks.lock(msg.sender, g.params.rank, 1);
    }

    /**
     * @dev Starts game `gameId`, or cancels it when its join window is over below `minPlayers`.
     *
     * Requirements:
     *
     * - the game is `Joining`;
     * - the caller is the creator and `minPlayers` are seated, or the game is full, or the join
     *   window is over (then anyone may call; below `minPlayers` the game is cancelled).
     *
     * Emits a {GameStarted} and a {PhaseStarted} event, or a {GameCancelled} event.
     */
    function start(uint256 gameId) external virtual {
        Game storage g = _games[gameId];
        _requirePhase(gameId, g, Phase.Joining);
        // forge-lint: disable-next-line(block-timestamp)
        bool windowOver = block.timestamp > g.joinDeadline;
        bool full = g.playerCount == g.params.maxPlayers;
        bool enough = g.playerCount >= g.params.minPlayers;
        if (!(full || windowOver || (enough && msg.sender == g.creator))) {
            revert ArenaStartNotAllowed(gameId, msg.sender, g.playerCount);
        }
        if (enough) _start(gameId, g);
        else _cancel(gameId, g);
    }

    /**
     * @dev Moves game `gameId` to its next phase (or turn, overtime, close). Anyone may call it
     * once the current phase's deadline has passed, or earlier when the phase is complete. In the
     * join phase it behaves like {start} after the join window.
     *
     * Requirements:
     *
     * - the game is running (or `Joining` with its window over);
     * - the current phase's deadline has passed or the phase is complete.
     *
     * Emits {PhaseStarted}, {TurnEnded}, {OvertimeStarted}, {GameEnded}, {GameStarted} or
     * {GameCancelled} events as the game moves on.
     */
    function advance(uint256 gameId) external virtual {
        Game storage g = _games[gameId];
        Phase phase = g.phase;
        if (phase == Phase.None || phase == Phase.Ended || phase == Phase.Cancelled) {
            revert ArenaUnexpectedPhase(gameId, phase);
        }
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= g.phaseDeadline && !_phaseComplete(gameId, g)) {
            revert ArenaPhaseNotOver(gameId, g.phaseDeadline);
        }
        if (phase == Phase.Joining) {
            if (g.playerCount >= g.params.minPlayers) _start(gameId, g);
            else _cancel(gameId, g);
        } else if (phase == Phase.Proposing) {
            _enter(gameId, g, Phase.ProposalReveal, g.params.revealDuration);
        } else if (phase == Phase.ProposalReveal) {
            _enter(gameId, g, Phase.Voting, g.params.votingDuration);
        } else if (phase == Phase.Voting) {
            _enter(gameId, g, Phase.VoteReveal, g.params.revealDuration);
        } else {
            _endTurn(gameId, g);
        }
    }

    /**
     * @dev Sends the caller every fee token credited to it (stakes, refunds, treasury fees).
     *
     * Requirements:
     *
     * - something is credited to the caller.
     *
     * Emits a {Withdrawn} event.
     */
    function withdraw() external virtual nonReentrant {
        uint256 amount = _owed[msg.sender];
        if (amount == 0) revert ArenaNothingToWithdraw(msg.sender);
        _owed[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _feeToken.safeTransfer(msg.sender, amount);
    }

    // ----------------------------------------------------------------------------------------
    // Moves
    // ----------------------------------------------------------------------------------------

    /**
     * @dev Commits the caller's proposal for `turn`.
     *
     * Requirements:
     *
     * - the game is `Proposing` turn `turn` before its deadline; the caller is seated and has not
     *   committed yet; `commitment` is not zero.
     *
     * Emits a {ProposalCommitted} event.
     */
    function commitProposal(uint256 gameId, uint16 turn, bytes32 commitment) external virtual {
        _commit(gameId, turn, KIND_PROPOSAL, msg.sender, commitment);
    }

    /**
     * @dev Commits the caller's ballot for `turn`.
     *
     * Requirements:
     *
     * - the game is `Voting` turn `turn` before its deadline; the caller is seated and has not
     *   committed yet; `commitment` is not zero.
     *
     * Emits a {VoteCommitted} event.
     */
    function commitVote(uint256 gameId, uint16 turn, bytes32 commitment) external virtual {
        _commit(gameId, turn, KIND_VOTE, msg.sender, commitment);
    }

    /**
     * @dev Submits players' signed commitments in one batch (any sender). Each entry stands
     * alone: an entry that fails is skipped and reported, so one player who committed directly,
     * a replayed or expired signature or a late entry cannot void the others' moves.
     *
     * An entry counts when `block.timestamp <= deadline`, `signature` is `player`'s over
     * {COMMIT_TYPEHASH} on this chain and contract, and the kind, game, turn and phase rules of
     * {commitProposal} / {commitVote} hold; otherwise it is skipped with the custom error it
     * would have reverted with ({ArenaSignatureExpired}, {ArenaInvalidSigner}, {ArenaInvalidKind},
     * {ArenaUnexpectedPhase}, {ArenaWrongTurn}, {ArenaPhaseOver}, {ArenaNotPlayer},
     * {ArenaZeroCommitment}, {ArenaAlreadyMoved}).
     *
     * Emits a {ProposalCommitted} or {VoteCommitted} event per counted entry and a
     * {RelayedCommitSkipped} event per skipped one.
     */
    function relayCommits(SignedCommit[] calldata commits) external virtual {
        for (uint256 i = 0; i < commits.length; ++i) {
            SignedCommit calldata c = commits[i];
            bytes memory reason = _relayFailure(c);
            if (reason.length == 0) reason = _commitFailure(c.gameId, c.turn, c.kind, c.player, c.commitment);
            if (reason.length != 0) {
                emit RelayedCommitSkipped(c.gameId, c.player, i, reason);
                continue;
            }
            _record(c.gameId, c.turn, c.kind, c.player, c.commitment);
        }
    }

    /**
     * @dev Reveals the caller's proposal; see {revealProposalFor}.
     */
    function revealProposal(uint256 gameId, uint16 turn, string calldata proposal, bytes32 salt) external virtual {
        _revealProposal(gameId, turn, msg.sender, proposal, salt);
    }

    /**
     * @dev Reveals `player`'s proposal (any sender: the preimage is the authorisation).
     *
     * Requirements:
     *
     * - the game is in `ProposalReveal` of `turn` before its deadline; `player` committed
     *   `keccak256(abi.encode(gameId, turn, player, proposal, salt))` and has not revealed.
     *
     * Emits a {ProposalRevealed} event.
     */
    function revealProposalFor(uint256 gameId, uint16 turn, address player, string calldata proposal, bytes32 salt)
        external
        virtual
    {
        _revealProposal(gameId, turn, player, proposal, salt);
    }

    /**
     * @dev Reveals the caller's ballot; see {revealVoteFor}.
     */
    function revealVote(uint256 gameId, uint16 turn, int256[] calldata votes, bytes32 salt) external virtual {
        _revealVote(gameId, turn, msg.sender, votes, salt);
    }

    /**
     * @dev Reveals `player`'s ballot (any sender: the preimage is the authorisation) and adds it
     * to the scores.
     *
     * Requirements:
     *
     * - the game is in `VoteReveal` of `turn` before its deadline; `player` committed
     *   `keccak256(abi.encode(gameId, turn, player, votes, salt))` and has not revealed;
     * - `votes` passes {QuadraticVoting-validate} against this turn's proposers.
     *
     * Emits a {VoteRevealed} event.
     */
    function revealVoteFor(uint256 gameId, uint16 turn, address player, int256[] calldata votes, bytes32 salt)
        external
        virtual
    {
        _revealVote(gameId, turn, player, votes, salt);
    }

    // ----------------------------------------------------------------------------------------
    // Views
    // ----------------------------------------------------------------------------------------

    /// @dev The game `gameId` (all zero if unknown).
    function game(uint256 gameId) external view virtual returns (Game memory) {
        return _games[gameId];
    }

    /// @dev Number of games created.
    function gameCount() external view virtual returns (uint256) {
        return _gameCount;
    }

    /// @dev Seated players of game `gameId`, by seat.
    function players(uint256 gameId) external view virtual returns (address[] memory) {
        return _players[gameId];
    }

    /// @dev Cumulative scores of game `gameId`, by seat.
    function scores(uint256 gameId) external view virtual returns (int256[] memory) {
        return _scores[gameId];
    }

    /// @dev `player`'s seat in game `gameId`; `seated` is false if it has none.
    function seatOf(uint256 gameId, address player) external view virtual returns (bool seated, uint8 seat) {
        uint256 s = _seatPlusOne[gameId][player];
        seated = s != 0;
        // casting to uint8 is safe: seats are < MAX_PLAYERS
        // forge-lint: disable-next-line(unsafe-typecast)
        if (seated) seat = uint8(s - 1);
    }

    /// @dev Seat `seat`'s moves in turn `turn` of game `gameId`.
    function moves(uint256 gameId, uint16 turn, uint8 seat) external view virtual returns (Moves memory) {
        return _moves[gameId][turn][seat];
    }

    /**
     * @dev The move `player` still owes in the current phase of game `gameId`: `pending` is true
     * while the phase accepts a move from them that they have not made, `phase` and `deadline` say
     * which move and until when.
     */
    function pendingMove(uint256 gameId, address player)
        external
        view
        virtual
        returns (bool pending, Phase phase, uint16 turn, uint64 deadline)
    {
        Game storage g = _games[gameId];
        (phase, turn, deadline) = (g.phase, g.turn, g.phaseDeadline);
        uint256 s = _seatPlusOne[gameId][player];
        // forge-lint: disable-next-line(block-timestamp)
        if (s == 0 || block.timestamp > deadline) return (false, phase, turn, deadline);
        Moves storage m = _moves[gameId][turn][s - 1];
        if (phase == Phase.Proposing) pending = m.proposalCommitment == 0;
        else if (phase == Phase.ProposalReveal) pending = m.proposalCommitment != 0 && !m.proposed;
        else if (phase == Phase.Voting) pending = m.voteCommitment == 0;
        else if (phase == Phase.VoteReveal) pending = m.voteCommitment != 0 && !m.voted;
    }

    /// @dev Fee tokens credited to `account` and not yet withdrawn.
    function withdrawable(address account) external view virtual returns (uint256) {
        return _owed[account];
    }

    /// @dev The rank token, the fee token and the treasury.
    function config() external view virtual returns (RankToken ranks, IERC20 feeToken, address treasury) {
        return (_ranks, _feeToken, _treasury);
    }

    /// @dev The access token winners earn.
    function lat() external view virtual returns (LiquidAccessToken) {
        return _lat;
    }

    /**
     * @dev The smallest join fee per seat of a rank-1 game, in fee-token base units: the price of
     * one LAT value unit the arena charges at least, per seat (see {minJoinFee}). A deployment
     * parameter: a whole guild token converted from arena LATs costs at least
     * `2 · minJoinFeeUnit · p0` fee-token base units at the start of an epoch, `p0` being the
     * {LatConverter}'s value units per whole guild token.
     */
    function minJoinFeeUnit() public view virtual returns (uint256) {
        return _minJoinFeeUnit;
    }

    /**
     * @dev The smallest join fee per seat of a rank-`rank` game: `minJoinFeeUnit · 2^(t − 1)` with
     * `t = tierForRank(rank)`, `2^(t − 1)` being the LAT value (in {LatConverter} units) the game's
     * winner earns. Every game has at least two seats, so the fees a game spends are at least
     * twice {minJoinFeeUnit} per value unit of the LAT it mints, whoever holds the seats: no
     * sequence of games earns more LAT value than its fees pay for. Ranks whose minimum exceeds
     * {MAX_AMOUNT} admit no game (`type(uint256).max` past tier 129).
     */
    function minJoinFee(uint64 rank) public view virtual returns (uint256) {
        uint256 exponent = LatId.tierForRank(rank) - 1;
        // `_minJoinFeeUnit <= MAX_AMOUNT < 2^128`, so the shift cannot overflow up to 128.
        if (exponent > 128) return type(uint256).max;
        return _minJoinFeeUnit << exponent;
    }

    /// @dev The asset of the access tokens this arena mints: its own address.
    function latAsset() public view virtual returns (uint248) {
        return uint248(uint160(address(this)));
    }

    /// @dev The EIP-712 domain separator of relayed moves.
    function domainSeparator() external view virtual returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    /// @dev Records `player`'s commitment of `kind` for `turn` after the phase, turn and seat checks.
    function _commit(uint256 gameId, uint16 turn, uint8 kind, address player, bytes32 commitment) internal virtual {
        bytes memory reason = _commitFailure(gameId, turn, kind, player, commitment);
        if (reason.length != 0) {
            // Re-throws the custom error exactly as the checks encoded it.
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
        _record(gameId, turn, kind, player, commitment);
    }

    /// @dev Stores a commitment that passed {_commitFailure} and counts it.
    function _record(uint256 gameId, uint16 turn, uint8 kind, address player, bytes32 commitment) internal virtual {
        Moves storage m = _moves[gameId][turn][_seatPlusOne[gameId][player] - 1];
        TurnCounts storage counts = _counts[gameId][turn];
        // No overflow in the counters below: each seat commits each kind once, and seats <= 16.
        if (kind == KIND_PROPOSAL) {
            m.proposalCommitment = commitment;
            counts.proposalCommits += 1;
            emit ProposalCommitted(gameId, turn, player, commitment);
        } else {
            m.voteCommitment = commitment;
            counts.voteCommits += 1;
            emit VoteCommitted(gameId, turn, player, commitment);
        }
    }

    /// @dev The ABI-encoded custom error a commitment would revert with, or empty if it is valid:
    /// kind, phase, turn, deadline, seat, non-zero commitment, not yet committed.
    function _commitFailure(uint256 gameId, uint16 turn, uint8 kind, address player, bytes32 commitment)
        internal
        view
        virtual
        returns (bytes memory)
    {
        if (kind > KIND_VOTE) return abi.encodeWithSelector(ArenaInvalidKind.selector, kind);
        Game storage g = _games[gameId];
        Phase expected = kind == KIND_PROPOSAL ? Phase.Proposing : Phase.Voting;
        if (g.phase != expected) return abi.encodeWithSelector(ArenaUnexpectedPhase.selector, gameId, g.phase);
        if (turn != g.turn) return abi.encodeWithSelector(ArenaWrongTurn.selector, gameId, g.turn, turn);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > g.phaseDeadline) {
            return abi.encodeWithSelector(ArenaPhaseOver.selector, gameId, g.phaseDeadline);
        }
        uint256 s = _seatPlusOne[gameId][player];
        if (s == 0) return abi.encodeWithSelector(ArenaNotPlayer.selector, gameId, player);
        if (commitment == 0) return abi.encodeWithSelector(ArenaZeroCommitment.selector);
        Moves storage m = _moves[gameId][turn][s - 1];
        bytes32 existing = kind == KIND_PROPOSAL ? m.proposalCommitment : m.voteCommitment;
        if (existing != 0) return abi.encodeWithSelector(ArenaAlreadyMoved.selector, gameId, turn, player);
        return "";
    }

    /// @dev The ABI-encoded custom error of a relayed entry's expired or wrong signature, or empty.
    function _relayFailure(SignedCommit calldata c) internal view virtual returns (bytes memory) {
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > c.deadline) return abi.encodeWithSelector(ArenaSignatureExpired.selector, c.deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(COMMIT_TYPEHASH, c.gameId, c.turn, c.kind, c.commitment, c.deadline))
        );
        (address recovered,,) = ECDSA.tryRecover(digest, c.signature);
        if (recovered != c.player || recovered == address(0)) {
            return abi.encodeWithSelector(ArenaInvalidSigner.selector, c.player, recovered);
        }
        return "";
    }

    /// @dev Checks `player`'s proposal preimage against its commitment and marks the seat a proposer.
    function _revealProposal(uint256 gameId, uint16 turn, address player, string calldata proposal, bytes32 salt)
        internal
        virtual
    {
        Game storage g = _games[gameId];
        _requireMovePhase(gameId, g, Phase.ProposalReveal, turn);
        uint256 seat = _seatOrRevert(gameId, player);
        Moves storage m = _moves[gameId][turn][seat];
        if (m.proposed) revert ArenaAlreadyMoved(gameId, turn, player);
        if (
            m.proposalCommitment == 0
                || m.proposalCommitment != keccak256(abi.encode(gameId, turn, player, proposal, salt))
        ) {
            revert ArenaCommitmentMismatch(gameId, turn, player);
        }
        m.proposed = true;
        _counts[gameId][turn].proposalReveals += 1;
        // No carry into the next seat's lane: a seat reveals at most once per turn, and
        // `turns + maxOvertimeTurns <= type(uint16).max` bounds its count by 2^16 − 1.
        _proposalCounts[gameId] += 1 << (16 * seat);
        emit ProposalRevealed(gameId, turn, player, proposal);
    }

    /// @dev Checks `player`'s ballot preimage and the quadratic rules, then adds the ballot to the scores.
    function _revealVote(uint256 gameId, uint16 turn, address player, int256[] calldata votes, bytes32 salt)
        internal
        virtual
    {
        Game storage g = _games[gameId];
        _requireMovePhase(gameId, g, Phase.VoteReveal, turn);
        uint256 seat = _seatOrRevert(gameId, player);
        Moves storage m = _moves[gameId][turn][seat];
        if (m.voted) revert ArenaAlreadyMoved(gameId, turn, player);
        if (m.voteCommitment == 0 || m.voteCommitment != keccak256(abi.encode(gameId, turn, player, votes, salt))) {
            revert ArenaCommitmentMismatch(gameId, turn, player);
        }
        uint256 n = g.playerCount;
        bool[] memory proposed = new bool[](n);
        for (uint256 q = 0; q < n; ++q) {
            proposed[q] = _moves[gameId][turn][q].proposed;
        }
        QuadraticVoting.validate(votes, seat, proposed, g.params.voteCredits);
        m.voted = true;
        _counts[gameId][turn].voteReveals += 1;
        int256[] storage s = _scores[gameId];
        for (uint256 q = 0; q < n; ++q) {
            if (votes[q] != 0) s[q] += votes[q];
        }
        emit VoteRevealed(gameId, turn, player, votes);
    }

    /// @dev Credits the fees to the treasury and opens turn 1's proposing phase.
    function _start(uint256 gameId, Game storage g) internal virtual {
        uint256 fees = g.params.joinFee * g.playerCount;
        if (fees > 0) _owed[_treasury] += fees;
        g.turn = 1;
        uint64 deadline = uint64(block.timestamp) + g.params.proposingDuration;
        g.phase = Phase.Proposing;
        g.phaseDeadline = deadline;
        emit GameStarted(gameId, _players[gameId], deadline);
        emit PhaseStarted(gameId, 1, Phase.Proposing, deadline);
    }

    /// @dev Cancels a game below its minimum: credits every fee and stake back and releases rank locks.
    function _cancel(uint256 gameId, Game storage g) internal virtual {
        g.phase = Phase.Cancelled;
        uint8 n = g.playerCount;
        emit GameCancelled(gameId, n);
        address[] storage ps = _players[gameId];
        uint256 refund = g.params.joinFee + g.params.stake;
        uint64 rank = g.params.rank;
        for (uint256 i = 0; i < n; ++i) {
            if (refund > 0) _owed[ps[i]] += refund;
            if (rank > 1) _ranks.unlock(ps[i], rank, 1);
        }
    }

    /// @dev Enters `phase` of the current turn, ending `duration` seconds from now.
    function _enter(uint256 gameId, Game storage g, Phase phase, uint64 duration) internal virtual {
        uint64 deadline = uint64(block.timestamp) + duration;
        g.phase = phase;
        g.phaseDeadline = deadline;
        emit PhaseStarted(gameId, g.turn, phase, deadline);
    }

    /// @dev Applies the non-voter rule, then starts the next (or an overtime) turn or closes the game.
    function _endTurn(uint256 gameId, Game storage g) internal virtual {
        uint16 turn = g.turn;
        uint256 n = g.playerCount;
        int256[] storage s = _scores[gameId];
        // Non-voter rule: a proposer without a revealed ballot gives ⌊√credits⌋ to every other
        // proposer. Computed as a count per seat to write each score once.
        // casting to int256 is safe: credits < 2^128, so its square root is < 2^64
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 gift = int256(Math.sqrt(g.params.voteCredits));
        uint256 silent;
        for (uint256 p = 0; p < n; ++p) {
            Moves storage m = _moves[gameId][turn][p];
            if (m.proposed && !m.voted) ++silent;
        }
        if (silent > 0) {
            for (uint256 q = 0; q < n; ++q) {
                Moves storage m = _moves[gameId][turn][q];
                if (!m.proposed) continue;
                // Silent proposers other than q itself.
                uint256 givers = m.voted ? silent : silent - 1;
                // casting to int256 is safe: givers < MAX_PLAYERS
                // forge-lint: disable-next-line(unsafe-typecast)
                if (givers > 0) s[q] += gift * int256(givers);
            }
        }
        int256[] memory current = s;
        emit TurnEnded(gameId, turn, current);
        if (turn >= g.params.turns) {
            (,, bool tied) = _leader(gameId, current);
            if (!tied || g.overtimeTurns >= g.params.maxOvertimeTurns) {
                _close(gameId, g, current);
                return;
            }
            g.overtimeTurns += 1;
            emit OvertimeStarted(gameId, turn + 1);
        }
        g.turn = turn + 1;
        _enter(gameId, g, Phase.Proposing, g.params.proposingDuration);
    }

    /**
     * @dev Ends the game: the {_leader} wins; stakes credited; ladder burns and mints. A game in
     * which no seat ever revealed a proposal has no winner ({NO_WINNER}, {GameEnded} with the zero
     * address): nobody is promoted or demoted (rank locks are released), no LAT is minted, the
     * fees stay spent and the stakes are credited back.
     */
    function _close(uint256 gameId, Game storage g, int256[] memory finalScores) internal virtual {
        (uint256 winnerSeat, bool found,) = _leader(gameId, finalScores);
        g.phase = Phase.Ended;
        // casting to uint8 is safe: winnerSeat < playerCount <= MAX_PLAYERS
        // forge-lint: disable-next-line(unsafe-typecast)
        g.winner = found ? uint8(winnerSeat) : NO_WINNER;
        address[] storage ps = _players[gameId];
        address winnerAddr = found ? ps[winnerSeat] : address(0);
        emit GameEnded(gameId, winnerAddr, finalScores);
        uint256 stake = g.params.stake;
        uint64 rank = g.params.rank;
        uint256 n = g.playerCount;
        for (uint256 i = 0; i < n; ++i) {
            address p = ps[i];
            if (stake > 0) _owed[p] += stake;
            if (rank > 1) {
                if (!found) {
                    _ranks.unlock(p, rank, 1);
                    continue;
                }
                _ranks.burnLocked(p, rank, 1);
                if (i != winnerSeat) _ranks.mint(p, rank - 1, 1);
            }
        }
        if (!found) return;
        _ranks.mint(winnerAddr, rank + 1, 1);
        _lat.mint(winnerAddr, latAsset(), LatId.tierForRank(rank), 1);
    }

    /**
     * @dev The leading seat of game `gameId` with `current` scores, among the seats that revealed
     * at least one proposal in the game (a seat that never proposed cannot be voted down, so it
     * must not be able to win on a tie at zero): the highest score, ties going to the seat with
     * more revealed proposals, then to the lowest seat. `found` is false when no seat proposed;
     * `tied` is true when another proposer has the leader's score (overtime is then played).
     */
    function _leader(uint256 gameId, int256[] memory current)
        internal
        view
        virtual
        returns (uint256 seat, bool found, bool tied)
    {
        int256 best;
        uint256 bestCount;
        uint256 packed = _proposalCounts[gameId];
        for (uint256 q = 0; q < current.length; ++q) {
            uint256 count = (packed >> (16 * q)) & type(uint16).max;
            if (count == 0) continue;
            if (!found || current[q] > best) {
                (seat, best, bestCount, found, tied) = (q, current[q], count, true, false);
            } else if (current[q] == best) {
                tied = true;
                if (count > bestCount) (seat, bestCount) = (q, count);
            }
        }
    }

    /// @dev Whether every awaited move of the current phase is in, so it may end before its deadline.
    function _phaseComplete(uint256 gameId, Game storage g) internal view virtual returns (bool) {
        Phase phase = g.phase;
        TurnCounts storage c = _counts[gameId][g.turn];
        if (phase == Phase.Joining) return false;
        if (phase == Phase.Proposing) return c.proposalCommits == g.playerCount;
        if (phase == Phase.ProposalReveal) return c.proposalReveals == c.proposalCommits;
        if (phase == Phase.Voting) return c.voteCommits == g.playerCount;
        return c.voteReveals == c.voteCommits;
    }

    /// @dev Reverts unless game `gameId` is in `expected`.
    function _requirePhase(uint256 gameId, Game storage g, Phase expected) internal view virtual {
        if (g.phase != expected) revert ArenaUnexpectedPhase(gameId, g.phase);
    }

    /// @dev Reverts unless game `gameId` is in `expected` of `turn` and the phase's deadline has not passed.
    function _requireMovePhase(uint256 gameId, Game storage g, Phase expected, uint16 turn) internal view virtual {
        _requirePhase(gameId, g, expected);
        if (turn != g.turn) revert ArenaWrongTurn(gameId, g.turn, turn);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > g.phaseDeadline) revert ArenaPhaseOver(gameId, g.phaseDeadline);
    }

    /// @dev `player`'s seat in game `gameId`; reverts if it has none.
    function _seatOrRevert(uint256 gameId, address player) internal view virtual returns (uint256) {
        uint256 s = _seatPlusOne[gameId][player];
        if (s == 0) revert ArenaNotPlayer(gameId, player);
        return s - 1;
    }
}
