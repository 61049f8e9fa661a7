// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {LiquidAccessToken} from "../lat/LiquidAccessToken.sol";
import {LatId} from "../lat/LatId.sol";
import {GuildToken} from "./GuildToken.sol";

/**
 * @dev LAT → guild token conversion under the time-cost rule `q = f(x, t)` (docs/economics.md, the
 * "dilution dilemma"). Converting burns the caller's Liquid Access Tokens and opens a vesting
 * position of newly minted {GuildToken}s, diluting every holder; the rule makes a fast capture of
 * the guild expensive and slow.
 *
 * Units (`WAD = 1e18`):
 *
 * - **Value `x`.** A tier-`t` LAT is worth `2^(min(t, 64) − 1)` value units (higher tiers are
 *   exponentially harder to earn), so `x = Σ amount_i · 2^(min(tier_i, 64) − 1)` over the ids given.
 *   Tiers are read from the id encoding `id = asset << 8 | tier` of {LiquidAccessToken}.
 * - **Amounts `q`, `c`, `S`** are in guild token units (18 decimals).
 * - **`p0` ({Params-basePrice})** is the price of one whole token (`WAD` units) in value units.
 * - **`k` ({Params-slope})** is a `WAD` fixed-point number: `k = WAD` doubles the price once the
 *   epoch's conversions reach the whole base supply.
 *
 * Epochs are `epochLength` seconds long: `epoch = block.timestamp / epochLength`. The first
 * conversion of an epoch records the epoch's base `S = token.totalSupply()` (minted supply only:
 * unvested positions do not count) and resets the converted amount `c` to 0.
 *
 * Price. The marginal price rises linearly with the share of the base converted in the epoch,
 * `p(c) = p0 · (1 + k·c / (S·WAD))` value units per whole token, so minting `q` on top of `c` costs
 * the integral
 *
 *     C(c, q) = p0 · q · (2·S·WAD + k·(2c + q)) / (2 · S · WAD²)      (value units, exact rational)
 *
 * and a conversion of value `x` mints the largest integer `q` with `C(c, q) ≤ x`. The estimate comes
 * from the quadratic's root, `q ≈ √(u² + 2·v·y) − u` with `v = S·WAD/k`, `u = v + c`,
 * `y = x·WAD/p0` (computed with {Math-sqrt} from floored `v` and `y`). The estimate is typically
 * within a few units: its error grows like `√(y/2v)`, to about `k/(2·WAD)` units at the largest
 * slopes, and further for bases below one whole token. It is corrected against the exact inequality
 * `p0·q·(2·S·WAD + k·(2c + q)) ≤ 2·S·WAD²·x`, evaluated in 512-bit arithmetic, by a galloping
 * search from the estimate followed by bisection: the result is exact whatever the estimate's
 * error, and costs two exact checks when the estimate is right. With `k = 0` the rule is linear and
 * `q = ⌊x·WAD / p0⌋`.
 *
 * Rounding is in the guild's favour: `q` is rounded down, the whole of `x` is burned (value that
 * does not buy a full token unit is lost), and the cap below is rounded down. Because `C` is an
 * integral, `C(c, q1) + C(c + q1, q2) = C(c, q1 + q2)` exactly, so splitting a conversion into
 * pieces within one epoch never mints more than converting everything at once.
 *
 * Convertible assets. Only LATs of assets the guild approved ({setConvertible}) convert. A tier is
 * worth `2^(t−1)` because it should stand for an exponentially costly climb; that holds for the
 * arena's ladder (locked rank tokens, demotion of every loser) but not, for instance, for the
 * market's agent ranks, which rise by one per won job with nothing at stake. Such LATs still grant
 * access; whether they also buy votes is the guild's decision.
 *
 * Cap. Within an epoch `c + q ≤ ⌊S · capBps / 10000⌋`; `R` is what is left, the cap minus `c`. A
 * conversion whose value buys more than `R` is filled up to the cap instead of reverting, so an earlier
 * conversion in the same epoch (a front-run of a single unit, say) cannot make it fail: it takes only
 * the LATs that pay for `R`. The value it needs is `B = ⌈C(c, R)⌉`, the least that buys `R`; the ids
 * are taken in the order given, each contributing as many of its units as the value still missing
 * pays for in full (`⌊missing / weight⌋`, at most the amount offered), and units not taken are not
 * burned. The taken value `x' ≤ B` mints `min(q(x'), R)` units: exactly `R` when `x' = B` (always
 * with tier-1 LATs), less when the weights do not add up to `B`. The caller's `minOut` applies to
 * what is minted, so it bounds both the price and the fill; a conversion that fills nothing reverts
 * with {LatConverterEpochCapExceeded}.
 *
 * Vesting. A conversion mints nothing: it records a position `{owner, amount, vestsAt = now +
 * vestingPeriod}`, and {claim} mints the amount to its owner at or after `vestsAt`. Votes count only
 * once claimed and delegated ({ERC20Votes} checkpoints), so converted tokens cannot vote on a
 * proposal whose snapshot precedes the claim.
 *
 * Fast capture. Converting a share `s = q/S` of the supply within one epoch costs
 * `C = p0 · (S/WAD) · (s + k·s²/(2·WAD))` value units: quadratically more per token as `s` grows.
 * The cap bounds `s ≤ σ = capBps/10000` per epoch, and since the base only counts minted supply, an
 * attacker converting the full cap every epoch (and claiming as soon as possible) holds at most
 * `1 − (1 + σ)^(−n)` of the supply after `n` epochs: a majority needs at least
 * `⌈ln 2 / ln(1 + σ)⌉` epochs (15 at σ = 5%; 16 when positions vest over two epochs, as the
 * governance test measures), plus the vesting delay, all in plain sight of the guild.
 *
 * Bounds (so every intermediate fits 256 bits, or 512 in the exact check): `1 ≤ p0 ≤ 2^64 − 1`,
 * `k = 0` or `10^14 ≤ k ≤ 10^22`, an epoch base `S ≤ 2^112 − 1` (about 5·10^15 whole tokens). A value
 * with `x·WAD/p0 ≥ 2^128` buys more than any cap allows in these ranges; its quote saturates to
 * `type(uint256).max`.
 *
 * Parameters change only through `DEFAULT_ADMIN_ROLE`, the guild's timelock. There is no upgrade
 * path.
 */
contract LatConverter is AccessControl {
    /**
     * @dev Conversion parameters.
     * @param basePrice `p0`: value units per whole guild token (`1e18` units) at the start of an epoch.
     * @param slope `k`, `WAD` fixed point: how fast the price rises with the epoch's converted share.
     * @param capBps Most of the epoch's base supply that may be converted in the epoch, in basis points.
     * @param epochLength Seconds per epoch.
     * @param vestingPeriod Seconds from a conversion until its position can be claimed.
     */
    struct Params {
        uint256 basePrice;
        uint256 slope;
        uint16 capBps;
        uint64 epochLength;
        uint64 vestingPeriod;
    }

    /**
     * @dev A vesting position.
     * @param owner The converter, who receives the tokens.
     * @param vestsAt Timestamp from which {claim} succeeds.
     * @param claimed Whether the tokens were minted.
     * @param amount Guild token units to mint.
     */
    struct Position {
        address owner;
        uint64 vestsAt;
        bool claimed;
        uint256 amount;
    }

    /// @dev Fixed-point one and one whole guild token.
    uint256 public constant WAD = 1e18;
    /// @dev Highest allowed {Params-basePrice}.
    uint256 public constant MAX_BASE_PRICE = type(uint64).max;
    /// @dev Lowest non-zero {Params-slope}.
    uint256 public constant MIN_SLOPE = 1e14;
    /// @dev Highest allowed {Params-slope}.
    uint256 public constant MAX_SLOPE = 1e22;
    /// @dev Longest allowed {Params-epochLength}.
    uint64 public constant MAX_EPOCH_LENGTH = 365 days;
    /// @dev Longest allowed {Params-vestingPeriod}.
    uint64 public constant MAX_VESTING_PERIOD = 730 days;
    /// @dev Largest epoch base supply the arithmetic supports.
    uint256 public constant MAX_BASE_SUPPLY = 2 ** 112 - 1;
    /// @dev Tiers above this weigh as much as this one: `2^63` value units.
    uint8 public constant MAX_WEIGHT_TIER = 64;

    uint256 private constant _BPS = 10_000;
    /// @dev `y = x·WAD/p0` at or above this saturates the quote.
    uint256 private constant _LINEAR_LIMIT = 2 ** 128;

    LiquidAccessToken private immutable _lat;
    GuildToken private immutable _token;

    Params private _params;
    /// @dev The recorded epoch; meaningful only while `_epochBase != 0`.
    uint256 private _epoch;
    uint256 private _epochBase;
    uint256 private _epochConverted;
    uint256 private _positionCount;
    mapping(uint256 positionId => Position) private _positions;
    mapping(uint248 asset => bool) private _convertible;

    /**
     * @dev The guild allowed (`convertible`) or stopped conversions of `asset`'s LATs.
     * @param asset The LAT asset.
     * @param convertible Whether its LATs convert from now on.
     */
    event ConvertibilityChanged(uint248 indexed asset, bool convertible);

    /**
     * @dev LATs of `asset` do not convert (the guild has not approved the asset).
     * @param asset The LAT asset.
     */
    error LatConverterAssetNotConvertible(uint248 asset);

    /**
     * @dev `account` burned LATs worth `value` and opened position `positionId` of `amount` tokens.
     * @param account The converter and position owner.
     * @param positionId The new position.
     * @param value The LAT value `x` burned, in value units.
     * @param amount The guild token units `q` the position will mint.
     * @param epoch The epoch the conversion counted against.
     * @param vestsAt Timestamp from which the position can be claimed.
     */
    event Converted(
        address indexed account,
        uint256 indexed positionId,
        uint256 value,
        uint256 amount,
        uint256 indexed epoch,
        uint64 vestsAt
    );

    /**
     * @dev Position `positionId` was claimed: `amount` tokens were minted to `owner`.
     * @param positionId The position.
     * @param owner Its owner.
     * @param amount The guild token units minted.
     */
    event Claimed(uint256 indexed positionId, address indexed owner, uint256 amount);

    /**
     * @dev The first conversion of `epoch` recorded its base supply.
     * @param epoch The epoch (`block.timestamp / epochLength`).
     * @param base The guild token supply `S` the epoch's price and cap are relative to.
     */
    event EpochStarted(uint256 indexed epoch, uint256 base);

    /**
     * @dev The conversion parameters were set.
     * @param basePrice `p0`, value units per whole token.
     * @param slope `k`, `WAD` fixed point.
     * @param capBps Per-epoch cap in basis points of the base.
     * @param epochLength Seconds per epoch.
     * @param vestingPeriod Seconds until a position vests.
     */
    event ParamsChanged(uint256 basePrice, uint256 slope, uint16 capBps, uint64 epochLength, uint64 vestingPeriod);

    /**
     * @dev A required address is the zero address.
     */
    error LatConverterZeroAddress();

    /**
     * @dev `ids` and `amounts` differ in length.
     * @param idsLength Length of `ids`.
     * @param amountsLength Length of `amounts`.
     */
    error LatConverterInvalidArrayLength(uint256 idsLength, uint256 amountsLength);

    /**
     * @dev Token `id` has tier 0, which no LAT has.
     * @param id The offending token id.
     */
    error LatConverterInvalidTier(uint256 id);

    /**
     * @dev LATs worth `value` buy no guild token unit at the current price.
     * @param value The LAT value offered.
     */
    error LatConverterNothingToMint(uint256 value);

    /**
     * @dev The value offered would buy `wanted` units, more than the `remaining` left under this
     * epoch's cap, and no LAT unit taken towards filling `remaining` pays for a token unit (nothing
     * is left, or the offered tiers are too heavy for what is left). `wanted` is
     * `type(uint256).max` when the value exceeds the arithmetic bounds.
     * @param wanted The amount the whole value would buy.
     * @param remaining The amount still convertible this epoch.
     */
    error LatConverterEpochCapExceeded(uint256 wanted, uint256 remaining);

    /**
     * @dev The conversion would mint `amount`, less than the caller's `minOut`.
     * @param amount The amount the conversion would mint now: what the value buys, or what is left
     * under the epoch's cap if that is less.
     * @param minOut The least amount the caller accepts.
     */
    error LatConverterInsufficientOutput(uint256 amount, uint256 minOut);

    /**
     * @dev The guild token supply is 0, so there is no base to price against.
     */
    error LatConverterZeroSupply();

    /**
     * @dev The guild token supply exceeds {MAX_BASE_SUPPLY}.
     * @param supply The supply.
     */
    error LatConverterSupplyTooLarge(uint256 supply);

    /**
     * @dev Position `positionId` does not exist.
     * @param positionId The position.
     */
    error LatConverterUnknownPosition(uint256 positionId);

    /**
     * @dev Only the owner of position `positionId` may claim it, not `caller`.
     * @param positionId The position.
     * @param caller The caller.
     */
    error LatConverterNotPositionOwner(uint256 positionId, address caller);

    /**
     * @dev Position `positionId` was already claimed.
     * @param positionId The position.
     */
    error LatConverterAlreadyClaimed(uint256 positionId);

    /**
     * @dev Position `positionId` vests only at `vestsAt`.
     * @param positionId The position.
     * @param vestsAt Timestamp from which it can be claimed.
     */
    error LatConverterNotVested(uint256 positionId, uint64 vestsAt);

    /**
     * @dev `basePrice` is 0 or above {MAX_BASE_PRICE}.
     * @param basePrice The rejected value.
     */
    error LatConverterInvalidBasePrice(uint256 basePrice);

    /**
     * @dev `slope` is neither 0 nor within [{MIN_SLOPE}, {MAX_SLOPE}].
     * @param slope The rejected value.
     */
    error LatConverterInvalidSlope(uint256 slope);

    /**
     * @dev `capBps` is 0 or above 10000.
     * @param capBps The rejected value.
     */
    error LatConverterInvalidCapBps(uint16 capBps);

    /**
     * @dev `epochLength` is 0 or above {MAX_EPOCH_LENGTH}.
     * @param epochLength The rejected value.
     */
    error LatConverterInvalidEpochLength(uint64 epochLength);

    /**
     * @dev `vestingPeriod` is above {MAX_VESTING_PERIOD}.
     * @param vestingPeriod The rejected value.
     */
    error LatConverterInvalidVestingPeriod(uint64 vestingPeriod);

    /**
     * @dev Wires the tokens, the guild and the initial parameters.
     * @param lat_ The LAT contract whose tokens are burned (this contract must be approved by converters).
     * @param token_ The guild token; this contract needs its `MINTER_ROLE`.
     * @param guild_ Receives `DEFAULT_ADMIN_ROLE` (the guild timelock).
     * @param params_ Initial parameters, validated as in {setParams}.
     *
     * Emits a {ParamsChanged} event.
     */
    constructor(LiquidAccessToken lat_, GuildToken token_, address guild_, Params memory params_) {
        if (address(lat_) == address(0) || address(token_) == address(0) || guild_ == address(0)) {
            revert LatConverterZeroAddress();
        }
        _lat = lat_;
        _token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, guild_);
        _setParams(params_);
    }

    /**
     * @dev Burns the caller's LATs (`amounts[i]` of `ids[i]`) and opens a vesting position of the
     * largest amount `q` their value buys in the current epoch (see the contract documentation).
     * If `q` exceeds what is left under the epoch's cap, the conversion is filled up to the cap:
     * only the LATs that pay for it are burned, ids taken in the order given ("Cap" above).
     * The caller must have approved this contract for all its LATs (`setApprovalForAll`).
     *
     * Requirements:
     *
     * - `ids` and `amounts` have equal length; every id has a tier of at least 1 and a convertible
     *   asset;
     * - the guild token supply is positive (and at most {MAX_BASE_SUPPLY}) when the epoch starts;
     * - `q > 0`, something fits under the epoch's cap, and the amount minted is at least `minOut`;
     * - the caller holds the LATs taken.
     *
     * Emits an {EpochStarted} event on an epoch's first conversion, a {Converted} event with the
     * value taken and the amount minted, and the LAT's burn event ({TransferSingle} for one id, else
     * {TransferBatch}) with the units taken per id.
     *
     * @param ids LAT token ids (duplicates allowed).
     * @param amounts Most units of each id to burn.
     * @param minOut The least amount of guild token units the caller accepts.
     * @return positionId The new position's id (ids start at 1).
     */
    function convert(uint256[] calldata ids, uint256[] calldata amounts, uint256 minOut)
        external
        virtual
        returns (uint256 positionId)
    {
        (uint256 epoch, uint256 value, uint256 amount, uint256[] memory burned) =
            _take(ids, amounts, latValue(ids, amounts), minOut);
        uint64 vestsAt = uint64(block.timestamp) + _params.vestingPeriod;
        positionId = ++_positionCount;
        _positions[positionId] = Position({owner: msg.sender, vestsAt: vestsAt, claimed: false, amount: amount});
        emit Converted(msg.sender, positionId, value, amount, epoch, vestsAt);

        _lat.burnBatch(msg.sender, ids, burned);
    }

    /**
     * @dev Mints position `positionId`'s tokens to its owner once it has vested.
     *
     * Requirements:
     *
     * - the position exists, the caller owns it and it was not claimed;
     * - `block.timestamp >= vestsAt`.
     *
     * Emits a {Claimed} event and the token's {Transfer} mint event.
     *
     * @param positionId The position to claim.
     */
    function claim(uint256 positionId) external virtual {
        Position storage pos = _positions[positionId];
        address owner = pos.owner;
        if (owner == address(0)) revert LatConverterUnknownPosition(positionId);
        if (owner != msg.sender) revert LatConverterNotPositionOwner(positionId, msg.sender);
        if (pos.claimed) revert LatConverterAlreadyClaimed(positionId);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < pos.vestsAt) revert LatConverterNotVested(positionId, pos.vestsAt);
        pos.claimed = true;
        uint256 amount = pos.amount;
        emit Claimed(positionId, owner, amount);
        _token.mint(owner, amount);
    }

    /**
     * @dev Replaces the conversion parameters. A changed `epochLength` renumbers epochs, so the
     * recorded epoch is dropped and the next conversion starts a fresh one.
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild timelock);
     * - `1 <= basePrice <= MAX_BASE_PRICE`; `slope == 0` or `MIN_SLOPE <= slope <= MAX_SLOPE`;
     *   `1 <= capBps <= 10000`; `1 <= epochLength <= MAX_EPOCH_LENGTH`;
     *   `vestingPeriod <= MAX_VESTING_PERIOD`.
     *
     * Emits a {ParamsChanged} event.
     *
     * @param params_ The new parameters.
     */
    function setParams(Params calldata params_) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        if (params_.epochLength != _params.epochLength) _epochBase = 0;
        _setParams(params_);
    }

    /**
     * @dev Allows or stops conversions of `asset`'s LATs (see "Convertible assets" above).
     *
     * Requirements:
     *
     * - the caller has `DEFAULT_ADMIN_ROLE` (the guild timelock).
     *
     * Emits a {ConvertibilityChanged} event.
     *
     * @param asset The LAT asset.
     * @param convertible Whether its LATs convert.
     */
    function setConvertible(uint248 asset, bool convertible) external virtual onlyRole(DEFAULT_ADMIN_ROLE) {
        _convertible[asset] = convertible;
        emit ConvertibilityChanged(asset, convertible);
    }

    /// @dev Whether LATs of `asset` convert.
    function isConvertible(uint248 asset) external view virtual returns (bool) {
        return _convertible[asset];
    }

    /**
     * @dev The amount `q` that LATs worth `value` would buy now (the cap is not applied; compare with
     * {epochState}'s `remaining`). Saturates to `type(uint256).max` beyond the arithmetic bounds.
     *
     * Requirements: the guild token supply is positive and at most {MAX_BASE_SUPPLY} if a new epoch
     * would start.
     *
     * @param value LAT value `x`, in value units (see {latValue}).
     * @return The guild token units a conversion would mint.
     */
    function quote(uint256 value) external view virtual returns (uint256) {
        Params memory p = _params;
        (, uint256 base, uint256 converted,) = _currentEpoch(p.epochLength);
        _requireBase(base);
        return _quote(base, converted, value, p);
    }

    /**
     * @dev The conversion state of the current epoch, as the next conversion will see it: if no
     * conversion happened yet this epoch, `base` is the current supply and `converted` is 0.
     * @return epoch The current epoch.
     * @return base The base supply `S`.
     * @return converted The amount `c` converted this epoch.
     * @return remaining The amount still convertible this epoch under the cap.
     */
    function epochState()
        external
        view
        virtual
        returns (uint256 epoch, uint256 base, uint256 converted, uint256 remaining)
    {
        Params memory p = _params;
        (epoch, base, converted,) = _currentEpoch(p.epochLength);
        remaining = _remaining(base, converted, p.capBps);
    }

    /// @dev The current conversion parameters.
    function params() external view virtual returns (Params memory) {
        return _params;
    }

    /// @dev Position `positionId` (all zero if it does not exist).
    function position(uint256 positionId) external view virtual returns (Position memory) {
        return _positions[positionId];
    }

    /// @dev Number of positions opened so far (the latest position id).
    function positionCount() external view virtual returns (uint256) {
        return _positionCount;
    }

    /// @dev The LAT contract.
    function lat() external view virtual returns (LiquidAccessToken) {
        return _lat;
    }

    /// @dev The guild token.
    function token() external view virtual returns (GuildToken) {
        return _token;
    }

    /**
     * @dev The value `x` of `amounts[i]` LATs of `ids[i]`: `Σ amounts[i] · 2^(min(tier, 64) − 1)`,
     * saturating at `type(uint256).max`.
     *
     * Requirements: equal lengths; every tier at least 1; every asset convertible.
     *
     * @param ids LAT token ids.
     * @param amounts Amount of each id.
     * @return value The LAT value in value units.
     */
    function latValue(uint256[] calldata ids, uint256[] calldata amounts) public view virtual returns (uint256 value) {
        if (ids.length != amounts.length) revert LatConverterInvalidArrayLength(ids.length, amounts.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            if (LatId.tier(ids[i]) == 0) revert LatConverterInvalidTier(ids[i]);
            uint248 asset = LatId.asset(ids[i]);
            if (!_convertible[asset]) revert LatConverterAssetNotConvertible(asset);
            value = Math.saturatingAdd(value, Math.saturatingMul(amounts[i], _weight(ids[i])));
        }
    }

    /**
     * @dev Prices LATs worth `offered` in the current epoch, fills the conversion up to the cap
     * (returning the value and units taken), checks the amount against `minOut`, and counts it
     * against the epoch (recording the epoch on its first conversion).
     */
    function _take(uint256[] calldata ids, uint256[] calldata amounts, uint256 offered, uint256 minOut)
        private
        returns (uint256 epoch, uint256 value, uint256 amount, uint256[] memory burned)
    {
        Params memory p = _params;
        uint256 base;
        uint256 converted;
        bool started;
        (epoch, base, converted, started) = _currentEpoch(p.epochLength);
        _requireBase(base);
        value = offered;
        amount = _quote(base, converted, value, p);
        if (amount == 0) revert LatConverterNothingToMint(value);
        uint256 remaining = _remaining(base, converted, p.capBps);
        burned = amounts;
        if (amount > remaining) {
            (burned, value) = _fill(ids, amounts, _cost(base, converted, remaining, p));
            // `value` is at most the least value that buys `remaining`: it buys `remaining` or less.
            uint256 filled = Math.min(_quote(base, converted, value, p), remaining);
            if (filled == 0) revert LatConverterEpochCapExceeded(amount, remaining);
            amount = filled;
        }
        if (amount < minOut) revert LatConverterInsufficientOutput(amount, minOut);
        if (!started) {
            _epoch = epoch;
            _epochBase = base;
            emit EpochStarted(epoch, base);
        }
        // No overflow: converted + amount <= cap <= base.
        _epochConverted = converted + amount;
    }

    /**
     * @dev Takes LAT units worth at most `budget`: each id in order contributes as many of its units
     * as the budget still left pays for in full, at most `amounts[i]`. Returns the units taken per id
     * and their value.
     */
    function _fill(uint256[] calldata ids, uint256[] calldata amounts, uint256 budget)
        private
        pure
        returns (uint256[] memory taken, uint256 value)
    {
        taken = new uint256[](ids.length);
        uint256 left = budget;
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 weight = _weight(ids[i]);
            uint256 units = Math.min(amounts[i], left / weight);
            taken[i] = units;
            // No underflow: units · weight <= left.
            unchecked {
                left -= units * weight;
            }
        }
        // No underflow: left only decreased from budget.
        unchecked {
            value = budget - left;
        }
    }

    /// @dev Value units of one LAT of `id`: `2^(min(tier, 64) − 1)`, for a tier of at least 1.
    function _weight(uint256 id) private pure returns (uint256) {
        return uint256(1) << (Math.min(LatId.tier(id), MAX_WEIGHT_TIER) - 1);
    }

    /**
     * @dev `⌈C(c, q)⌉`: the least value that buys at least `q` units on top of `converted`, i.e. the
     * least `x` with `p0·q·(2·S·WAD + k·(2c + q)) <= 2·S·WAD²·x`. Called with `q` at most the cap's
     * remainder, so `c + q <= S` and the factors are bounded as in {_fits}; {Math-mulDiv} keeps the
     * 512-bit product exact, and the result, at most `p0·S·(WAD + k)/WAD² + 1 < 2^128`, fits.
     */
    function _cost(uint256 base, uint256 converted, uint256 q, Params memory p) private pure returns (uint256) {
        uint256 twoSW = 2 * base * WAD;
        return Math.mulDiv(p.basePrice * q, twoSW + p.slope * (2 * converted + q), twoSW * WAD, Math.Rounding.Ceil);
    }

    /// @dev The epoch now, its base and converted amount, and whether it is the recorded one.
    function _currentEpoch(uint64 epochLength)
        private
        view
        returns (uint256 epoch, uint256 base, uint256 converted, bool started)
    {
        epoch = block.timestamp / epochLength;
        if (_epochBase != 0 && _epoch == epoch) return (epoch, _epochBase, _epochConverted, true);
        return (epoch, _token.totalSupply(), 0, false);
    }

    function _setParams(Params memory p) private {
        if (p.basePrice == 0 || p.basePrice > MAX_BASE_PRICE) revert LatConverterInvalidBasePrice(p.basePrice);
        if (p.slope != 0 && (p.slope < MIN_SLOPE || p.slope > MAX_SLOPE)) revert LatConverterInvalidSlope(p.slope);
        if (p.capBps == 0 || p.capBps > _BPS) revert LatConverterInvalidCapBps(p.capBps);
        if (p.epochLength == 0 || p.epochLength > MAX_EPOCH_LENGTH) {
            revert LatConverterInvalidEpochLength(p.epochLength);
        }
        if (p.vestingPeriod > MAX_VESTING_PERIOD) revert LatConverterInvalidVestingPeriod(p.vestingPeriod);
        _params = p;
        emit ParamsChanged(p.basePrice, p.slope, p.capBps, p.epochLength, p.vestingPeriod);
    }

    /// @dev The largest `q` with `C(c, q) <= value` (see the contract documentation).
    function _quote(uint256 base, uint256 converted, uint256 value, Params memory p) private pure returns (uint256) {
        uint256 p0 = p.basePrice;
        // y = ⌊x·WAD/p0⌋ >= 2^128 ⇔ x·WAD >= 2^128·p0. No overflow: p0 < 2^64.
        if (value >= Math.ceilDiv(_LINEAR_LIMIT * p0, WAD)) return type(uint256).max;
        // No overflow: value·WAD < 2^128·p0 + WAD < 2^193.
        uint256 linear = value * WAD / p0;
        if (p.slope == 0) return linear;

        // Root of the quadratic, floored at each step. No overflow: v <= 2^112·WAD/MIN_SLOPE < 2^126,
        // u = v + c < 2^127 (c <= S < 2^112), so u² < 2^254 and 2·v·y < 2^255: their sum is < 2^256.
        uint256 v = Math.mulDiv(base, WAD, p.slope);
        uint256 u = v + converted;
        uint256 q = Math.sqrt(u * u + 2 * v * linear) - u;
        // The cost is at least p0 per token, so q <= y, and y + 1 never fits.
        if (q > linear) q = linear;

        uint256 lo;
        uint256 hi;
        if (_fits(base, converted, q, value, p)) {
            lo = q;
            hi = linear + 1;
            for (uint256 step = 1; q + step <= linear; step <<= 1) {
                if (_fits(base, converted, q + step, value, p)) {
                    lo = q + step;
                } else {
                    hi = q + step;
                    break;
                }
            }
        } else {
            hi = q;
            // lo = 0 always fits: C(c, 0) = 0.
            for (uint256 step = 1; step < q; step <<= 1) {
                if (_fits(base, converted, q - step, value, p)) {
                    lo = q - step;
                    break;
                }
                hi = q - step;
            }
        }
        while (hi - lo > 1) {
            uint256 mid = lo + (hi - lo) / 2;
            if (_fits(base, converted, mid, value, p)) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    /**
     * @dev Whether `C(c, q) <= x`, i.e. `p0·q·(2·S·WAD + k·(2c + q)) <= 2·S·WAD²·x`, exactly (512-bit).
     * No overflow in the 256-bit factors: p0·q < 2^64·2^129, 2·S·WAD < 2^174, k·(2c + q) < 2^74·2^130,
     * WAD·x < 2^193 (by the saturation check in {_quote}).
     */
    function _fits(uint256 base, uint256 converted, uint256 q, uint256 value, Params memory p)
        private
        pure
        returns (bool)
    {
        uint256 twoSW = 2 * base * WAD;
        (uint256 lhsHigh, uint256 lhsLow) = Math.mul512(p.basePrice * q, twoSW + p.slope * (2 * converted + q));
        (uint256 rhsHigh, uint256 rhsLow) = Math.mul512(twoSW, WAD * value);
        return lhsHigh < rhsHigh || (lhsHigh == rhsHigh && lhsLow <= rhsLow);
    }

    function _remaining(uint256 base, uint256 converted, uint16 capBps) private pure returns (uint256) {
        uint256 cap = base * capBps / _BPS;
        return cap > converted ? cap - converted : 0;
    }

    function _requireBase(uint256 base) private pure {
        if (base == 0) revert LatConverterZeroSupply();
        if (base > MAX_BASE_SUPPLY) revert LatConverterSupplyTooLarge(base);
    }
}
