//! AuthorityRegistry: the burn curve against a Rust model of its fixed-point formula, burn-to-register
//! (exact burn, refunds, ETH at the zero address), consensus grants, revocation, parameter changes,
//! the re-registration delay after a revocation, and the ERC-1056-style DIDs issued by authority
//! nodes with the EIP-712 consent of their identities, with every revert path.

use alloy::{
    primitives::{Address, B256, Bytes, U256, Uint, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::{SolStruct, eip712_domain},
};
use nsed_contracts::{
    authority_registry::AuthorityRegistry::{self, Node},
    testkit::{ExpectRevert, Receipt, TestChain, TxFailure},
};
use proptest::prelude::*;

/// 1 in 1e18 fixed point.
const WAD: u64 = 1_000_000_000_000_000_000;
/// `Origin.Burn` and `Origin.Grant` as the ABI encodes them.
const BURN: u8 = 0;
const GRANT: u8 = 1;
/// A node's default geographic cell (an H3 index).
const CELL: u64 = 0x08a1_f2a3_b4c5_d6e7;
const URI: &str = "ipfs://nodes/eu-de.json";
/// The registry's default re-registration delay: 30 days.
const DELAY: u64 = 30 * 86_400;
/// How long the consents the fixture signs stay valid.
const CONSENT_WINDOW: u64 = 3_600;

sol! {
    /// An identity's consent to a DID (the registry's `DID_ISSUANCE_TYPEHASH`).
    struct DidIssuance {
        address identity;
        bytes32 role;
        address issuer;
        uint256 nonce;
        uint256 deadline;
    }

    /// An identity's consent to one attribute write (the registry's `ATTRIBUTE_CONSENT_TYPEHASH`).
    struct AttributeConsent {
        address identity;
        bytes32 name;
        bytes32 valueHash;
        uint256 validity;
        address writer;
        uint256 nonce;
        uint256 deadline;
    }
}

fn u(v: u64) -> U256 {
    U256::from(v)
}

fn ether(n: u64) -> U256 {
    u(n) * u(WAD)
}

/// `bytes32("...")` as Solidity writes a short string literal: left-aligned, zero-padded.
fn b32(text: &str) -> B256 {
    B256::right_padding_from(text.as_bytes())
}

fn eu() -> B256 {
    b32("EU-DE")
}

/// A fresh account holding 1000 ether, distinct for every `seed`.
fn funded(chain: &mut TestChain, seed: u8) -> Address {
    let account = Address::repeat_byte(seed);
    chain.deal(account, ether(1_000));
    account
}

/// `⌊base^exp⌋` in 1e18 fixed point, squaring and rounding down exactly like the contract.
fn pow_wad(mut base: U256, mut exp: u64) -> U256 {
    let wad = u(WAD);
    let mut result = wad;
    while exp != 0 {
        if exp & 1 == 1 {
            result = result * base / wad;
        }
        exp >>= 1;
        if exp != 0 {
            base = base * base / wad;
        }
    }
    result
}

/// The contract's `requiredBurn` for `n` active nodes: `floor + ⌈scale · (1e18 − ⌊r^n⌋) / 1e18⌉`.
fn model_burn(floor: U256, scale: U256, decay: U256, n: u64) -> U256 {
    let wad = u(WAD);
    let product = scale * (wad - pow_wad(decay, n));
    floor + product.div_ceil(wad)
}

/// Wide enough for `scale · 1e18^n` with a 128-bit scale and n < 12.
type U1024 = Uint<1024, 16>;

/// The exact real-valued burn, rounded up: `floor + ⌈scale · (1e18^n − decay^n) / 1e18^n⌉`.
fn exact_burn(floor: U256, scale: U256, decay: U256, n: u64) -> U256 {
    let wad_n = U1024::from(WAD).pow(U1024::from(n));
    let decay_n = U1024::from(decay).pow(U1024::from(n));
    let burn = (U1024::from(scale) * (wad_n - decay_n)).div_ceil(wad_n);
    floor + U256::from(burn)
}

/// The documented rounding bound: the burn exceeds the exact formula by less than
/// `1 + n · scale / 1e18` wei.
fn within_rounding_bound(burn: U256, exact: U256, scale: U256, n: u64) -> bool {
    burn >= exact && burn - exact <= u(1) + scale * u(n) / u(WAD)
}

/// Init code of a contract that forwards any call with data (and its value) to `target`,
/// bubbling up the result, and reverts on plain ETH transfers: a node that refuses refunds.
fn refusing_forwarder_init_code(target: Address) -> Bytes {
    let mut runtime = vec![
        0x36, 0x60, 0x09, 0x57, // if calldatasize jump to 0x09
        0x60, 0x00, 0x60, 0x00, 0xfd, // revert(0, 0): refuse plain ETH
        0x5b, 0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // 0x09: calldatacopy(0, 0, calldatasize)
        // call(gas, target, callvalue, 0, calldatasize, 0, 0): push the arguments, then target
        0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x34, 0x73,
    ];
    runtime.extend_from_slice(target.as_slice());
    runtime.extend_from_slice(&[
        0x5a, 0xf1, // gas, call
        0x3d, 0x60, 0x00, 0x60, 0x00, 0x3e, // returndatacopy(0, 0, returndatasize)
        0x60, 0x3c, 0x57, // if success jump to 0x3c
        0x3d, 0x60, 0x00, 0xfd, // revert(0, returndatasize)
        0x5b, 0x3d, 0x60, 0x00, 0xf3, // 0x3c: return(0, returndatasize)
    ]);
    assert_eq!(runtime.len(), 0x41);
    // codecopy(0, 12, len); return(0, len)
    let mut init = vec![0x60, 0x41, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x41, 0x60, 0x00, 0xf3];
    init.extend_from_slice(&runtime);
    init.into()
}

/// A registry with floor 1 ether, scale 8 ether and decay ½ (so the burn is 1, 5, 7, 8, … ether),
/// administered by the guild (account 0).
struct Fixture {
    chain: TestChain,
    registry: Address,
    guild: Address,
}

impl Fixture {
    fn new() -> Self {
        Self::with_params(ether(1), ether(8), u(WAD / 2))
    }

    fn with_params(floor: U256, scale: U256, decay: U256) -> Self {
        let mut chain = TestChain::new();
        let guild = chain.account(0);
        let registry =
            chain.deploy(guild, &AuthorityRegistry::BYTECODE, &ctor(guild, floor, scale, decay));
        Self { chain, registry: registry.expect("AuthorityRegistry deploys"), guild }
    }

    fn send<C: alloy::sol_types::SolCall>(
        &mut self,
        from: Address,
        call: &C,
    ) -> Result<Receipt<C::Return>, TxFailure> {
        self.chain.send(from, self.registry, call)
    }

    fn view<C: alloy::sol_types::SolCall>(&mut self, call: &C) -> C::Return {
        self.chain.call(self.guild, self.registry, call).expect("view succeeds")
    }

    fn register_with(
        &mut self,
        from: Address,
        value: U256,
    ) -> Result<Receipt<AuthorityRegistry::registerReturn>, TxFailure> {
        let call = AuthorityRegistry::registerCall {
            jurisdiction: eu(),
            geoCell: CELL,
            metadataURI: URI.into(),
        };
        self.chain.send_with_value(from, self.registry, &call, value)
    }

    /// Registers `from` paying exactly the current burn; returns the burn.
    fn register(&mut self, from: Address) -> U256 {
        let required = self.required();
        self.register_with(from, required).expect("register succeeds");
        required
    }

    fn grant_call(node: Address) -> AuthorityRegistry::grantCall {
        AuthorityRegistry::grantCall {
            account: node,
            jurisdiction: b32("CH-ZH"),
            geoCell: 7,
            metadataURI: "https://institution.example/node".into(),
        }
    }

    fn grant(&mut self, node: Address) {
        let guild = self.guild;
        self.send(guild, &Self::grant_call(node)).expect("grant succeeds");
    }

    fn revoke(&mut self, node: Address) {
        let guild = self.guild;
        let call = AuthorityRegistry::revokeCall { account: node, reason: "misbehaved".into() };
        self.send(guild, &call).expect("revoke succeeds");
    }

    fn required(&mut self) -> U256 {
        self.view(&AuthorityRegistry::requiredBurnCall {})
    }

    fn count(&mut self) -> U256 {
        self.view(&AuthorityRegistry::nodeCountCall {})
    }

    fn is_authority(&mut self, account: Address) -> bool {
        self.view(&AuthorityRegistry::isAuthorityCall { account })
    }

    fn node(&mut self, account: Address) -> Node {
        self.view(&AuthorityRegistry::nodeCall { account })
    }

    fn nonce(&mut self, identity: Address) -> U256 {
        self.view(&AuthorityRegistry::noncesCall { owner: identity })
    }

    /// The dev key of `identity`'s current owner, if it has one.
    fn owner_key(&mut self, identity: Address) -> Option<PrivateKeySigner> {
        let owner = self.view(&AuthorityRegistry::identityOwnerCall { identity });
        (0..10).map(|i| self.chain.signer(i).clone()).find(|key| key.address() == owner)
    }

    fn deadline(&self) -> U256 {
        u(self.chain.timestamp() + CONSENT_WINDOW)
    }

    /// `key`'s consent to `issuer` issuing `identity` a DID with `role`, at its current nonce.
    fn issuance_consent(
        &mut self,
        key: &PrivateKeySigner,
        identity: Address,
        role: B256,
        issuer: Address,
        deadline: U256,
    ) -> Bytes {
        let nonce = self.nonce(identity);
        let consent = DidIssuance { identity, role, issuer, nonce, deadline };
        sign_consent(&self.chain, self.registry, key, &consent)
    }

    /// `key`'s consent to `writer` writing attribute `did/svc/NsedKeeper` = `value` of `identity`
    /// for `validity` seconds (0: a revocation), at its current nonce.
    fn attribute_consent(
        &mut self,
        key: &PrivateKeySigner,
        identity: Address,
        value: &str,
        validity: u64,
        writer: Address,
        deadline: U256,
    ) -> Bytes {
        let nonce = self.nonce(identity);
        let consent = AttributeConsent {
            identity,
            name: attribute_name(),
            valueHash: keccak256(value),
            validity: u(validity),
            writer,
            nonce,
            deadline,
        };
        sign_consent(&self.chain, self.registry, key, &consent)
    }

    /// `issuer` issues `identity` a DID with `role`, with the consent of the identity's owner (an
    /// empty consent when the owner is not a dev account).
    fn issue(
        &mut self,
        issuer: Address,
        identity: Address,
        role: B256,
    ) -> Result<Receipt<AuthorityRegistry::issueDidReturn>, TxFailure> {
        let deadline = self.deadline();
        let consent = match self.owner_key(identity) {
            Some(key) => self.issuance_consent(&key, identity, role, issuer, deadline),
            None => Bytes::new(),
        };
        self.issue_with(issuer, identity, role, deadline, consent)
    }

    fn issue_with(
        &mut self,
        issuer: Address,
        identity: Address,
        role: B256,
        deadline: U256,
        consent: Bytes,
    ) -> Result<Receipt<AuthorityRegistry::issueDidReturn>, TxFailure> {
        self.send(issuer, &AuthorityRegistry::issueDidCall { identity, role, deadline, consent })
    }

    fn did(&mut self, identity: Address) -> AuthorityRegistry::didReturn {
        self.view(&AuthorityRegistry::didCall { identity })
    }

    fn changed(&mut self, identity: Address) -> U256 {
        self.view(&AuthorityRegistry::changedCall { identity })
    }

    fn set_attribute(
        &mut self,
        from: Address,
        identity: Address,
        value: &str,
        validity: u64,
    ) -> Result<Receipt<AuthorityRegistry::setAttributeReturn>, TxFailure> {
        let call = AuthorityRegistry::setAttributeCall {
            identity,
            name: attribute_name(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            validity: u(validity),
        };
        self.send(from, &call)
    }

    /// `writer` sets attribute `did/svc/NsedKeeper` = `value` of `identity`, with the consent of
    /// the identity's owner.
    fn set_attribute_consented(
        &mut self,
        writer: Address,
        identity: Address,
        value: &str,
        validity: u64,
    ) -> Result<Receipt<AuthorityRegistry::setAttributeWithConsentReturn>, TxFailure> {
        let key = self.owner_key(identity).expect("the owner is a dev account");
        let deadline = self.deadline();
        let consent = self.attribute_consent(&key, identity, value, validity, writer, deadline);
        self.set_attribute_with(writer, identity, value, validity, deadline, consent)
    }

    fn set_attribute_with(
        &mut self,
        writer: Address,
        identity: Address,
        value: &str,
        validity: u64,
        deadline: U256,
        consent: Bytes,
    ) -> Result<Receipt<AuthorityRegistry::setAttributeWithConsentReturn>, TxFailure> {
        let call = AuthorityRegistry::setAttributeWithConsentCall {
            identity,
            name: attribute_name(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            validity: u(validity),
            deadline,
            consent,
        };
        self.send(writer, &call)
    }

    fn valid_delegate(&mut self, identity: Address, delegate: Address) -> bool {
        let call =
            AuthorityRegistry::validDelegateCall { identity, delegateType: sig_auth(), delegate };
        self.view(&call)
    }
}

fn ctor(
    guild: Address,
    floor: U256,
    scale: U256,
    decay: U256,
) -> AuthorityRegistry::constructorCall {
    AuthorityRegistry::constructorCall {
        guild,
        burnFloor: floor,
        burnScale: scale,
        burnDecayWad: decay,
    }
}

fn agent_role() -> B256 {
    keccak256("agent")
}

fn attribute_name() -> B256 {
    b32("did/svc/NsedKeeper")
}

/// `key`'s EIP-712 signature of `consent` ([`DidIssuance`] or [`AttributeConsent`]) for the
/// registry at `registry`, as 65 bytes `r ‖ s ‖ v`.
pub(crate) fn sign_consent<S: SolStruct>(
    chain: &TestChain,
    registry: Address,
    key: &PrivateKeySigner,
    consent: &S,
) -> Bytes {
    let domain = eip712_domain! {
        name: "NSED AuthorityRegistry",
        version: "1",
        chain_id: chain.chain_id(),
        verifying_contract: registry,
    };
    let hash = consent.eip712_signing_hash(&domain);
    Bytes::from(key.sign_hash_sync(&hash).expect("local keys sign").as_bytes())
}

fn invalid_consent(
    identity: Address,
    signer: Address,
) -> AuthorityRegistry::AuthorityRegistryInvalidConsent {
    AuthorityRegistry::AuthorityRegistryInvalidConsent { identity, signer }
}

fn sig_auth() -> B256 {
    b32("sigAuth")
}

fn unauthorized(account: Address) -> AuthorityRegistry::AccessControlUnauthorizedAccount {
    AuthorityRegistry::AccessControlUnauthorizedAccount { account, neededRole: B256::ZERO }
}

fn not_active(account: Address) -> AuthorityRegistry::AuthorityRegistryNotActive {
    AuthorityRegistry::AuthorityRegistryNotActive { account }
}

mod deployment {
    use super::*;

    #[test]
    fn the_guild_is_admin_and_the_parameters_are_stored_and_announced() {
        let mut chain = TestChain::new();
        let guild = chain.account(0);
        let deployed = chain
            .deploy_with_receipt(
                guild,
                &AuthorityRegistry::BYTECODE,
                &ctor(guild, ether(1), ether(8), u(WAD / 2)),
            )
            .unwrap();
        let event = deployed.event::<AuthorityRegistry::BurnParametersChanged>();
        assert_eq!((event.floor, event.scale, event.decayWad), (ether(1), ether(8), u(WAD / 2)));
        let delay = deployed.event::<AuthorityRegistry::ReregistrationDelayChanged>().delay;
        assert_eq!(delay, DELAY);
        let mut f = Fixture { chain, registry: deployed.ret, guild };
        assert_eq!(f.view(&AuthorityRegistry::reregistrationDelayCall {}), DELAY);
        assert_eq!(f.view(&AuthorityRegistry::DEFAULT_REREGISTRATION_DELAYCall {}), DELAY);
        let params = f.view(&AuthorityRegistry::burnParametersCall {});
        assert_eq!((params.floor, params.scale, params.decayWad), (ether(1), ether(8), u(WAD / 2)));
        let is_admin = |f: &mut Fixture, account| {
            f.view(&AuthorityRegistry::hasRoleCall { role: B256::ZERO, account })
        };
        assert!(is_admin(&mut f, guild));
        let stranger = f.chain.account(9);
        assert!(!is_admin(&mut f, stranger));
        assert_eq!(f.count(), U256::ZERO);
        assert_eq!(f.view(&AuthorityRegistry::DID_ROLE_AGENTCall {}), keccak256("agent"));
        assert_eq!(f.view(&AuthorityRegistry::DID_ROLE_EXPERTCall {}), keccak256("expert"));
    }

    #[test]
    fn the_constructor_rejects_a_zero_guild_a_decay_outside_zero_one_and_an_overflowing_curve() {
        let mut chain = TestChain::new();
        let deployer = chain.account(0);
        let mut deploy = |args: AuthorityRegistry::constructorCall| {
            chain.deploy_with_receipt(deployer, &AuthorityRegistry::BYTECODE, &args)
        };
        deploy(ctor(Address::ZERO, ether(1), ether(1), u(WAD / 2)))
            .expect_revert(AuthorityRegistry::AuthorityRegistryZeroAddress {});
        for decay in [U256::ZERO, u(WAD), u(WAD) + u(1), U256::MAX] {
            deploy(ctor(deployer, ether(1), ether(1), decay)).expect_revert(
                AuthorityRegistry::AuthorityRegistryInvalidDecay { decayWad: decay },
            );
        }
        deploy(ctor(deployer, u(2), U256::MAX - u(1), u(WAD / 2))).expect_revert(
            AuthorityRegistry::AuthorityRegistryBurnOverflow {
                floor: u(2),
                scale: U256::MAX - u(1),
            },
        );
        // The extremes that are allowed: r just inside (0, 1) and floor + scale == 2^256 - 1.
        deploy(ctor(deployer, u(1), U256::MAX - u(1), u(1))).unwrap();
        deploy(ctor(deployer, U256::ZERO, U256::ZERO, u(WAD - 1))).unwrap();
    }
}

mod burn_curve {
    use super::*;

    #[test]
    fn the_burn_is_floor_plus_scale_times_one_minus_r_to_the_n_for_n_0_1_2_5() {
        let mut f = Fixture::new();
        let mut burns = vec![f.required()];
        for seed in 1..=5u8 {
            let node = funded(&mut f.chain, seed);
            f.register(node);
            burns.push(f.required());
        }
        // r = 1/2: 1 + 8 * (1 - 2^-n) ether, exact in binary.
        let expected = ["1", "5", "7", "8", "8.5", "8.75"];
        for (n, want) in expected.iter().enumerate() {
            let want = alloy::primitives::utils::parse_ether(want).unwrap();
            assert_eq!(burns[n], want, "n = {n}");
            assert_eq!(burns[n], model_burn(ether(1), ether(8), u(WAD / 2), n as u64));
        }
    }

    #[test]
    fn a_decay_that_does_not_divide_evenly_matches_the_model_and_rounds_the_burn_up() {
        // r = 1/3 and r = 0.9 - 1 wei: every squaring rounds, and the burn must stay >= exact.
        for decay in [u(WAD / 3), u(WAD / 10 * 9 - 1)] {
            let (floor, scale) = (u(123), ether(10) + u(7));
            let mut f = Fixture::with_params(floor, scale, decay);
            for n in [0u64, 1, 2, 5] {
                while f.count() < u(n) {
                    let seed = 0x40 + f.count().to::<u8>();
                    let node = Address::repeat_byte(seed);
                    f.grant(node);
                }
                let burn = f.required();
                assert_eq!(burn, model_burn(floor, scale, decay, n), "decay {decay}, n {n}");
                let exact = exact_burn(floor, scale, decay, n);
                assert!(within_rounding_bound(burn, exact, scale, n), "{burn} vs exact {exact}");
            }
        }
    }

    #[test]
    fn the_burn_grows_with_n_and_reaches_floor_plus_scale_once_r_to_the_n_rounds_to_zero() {
        let mut f = Fixture::new();
        let mut previous = f.required();
        for i in 0..64u8 {
            f.grant(Address::repeat_byte(0x80 + i));
            let burn = f.required();
            let n = u64::from(i) + 1;
            assert_eq!(burn, model_burn(ether(1), ether(8), u(WAD / 2), n), "n = {n}");
            assert!(burn <= ether(9));
            if pow_wad(u(WAD / 2), n) > U256::ZERO {
                assert!(burn > previous, "not increasing at n = {n}");
            }
            previous = burn;
        }
        // 2^-60 * 1e18 < 1: r^n is 0 from n = 60 on.
        assert_eq!(pow_wad(u(WAD / 2), 60), U256::ZERO);
        assert_eq!(f.required(), ether(9));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn required_burn_matches_the_fixed_point_model_and_never_undercuts_the_exact_formula(
            floor in 0u64..=u64::MAX,
            scale in 0u128..=u128::MAX,
            decay in 1u64..WAD,
            n in 0u64..12,
        ) {
            let (floor, scale, decay) = (u(floor), U256::from(scale), u(decay));
            let mut f = Fixture::with_params(floor, scale, decay);
            for i in 0..n {
                f.grant(Address::with_last_byte(0x10 + i as u8));
            }
            let burn = f.required();
            prop_assert_eq!(burn, model_burn(floor, scale, decay, n));
            let exact = exact_burn(floor, scale, decay, n);
            prop_assert!(within_rounding_bound(burn, exact, scale, n), "{} vs exact {}", burn, exact);
        }
    }
}

mod register {
    use super::*;

    #[test]
    fn register_burns_exactly_the_required_amount_to_the_zero_address_and_refunds_the_rest() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        let (node_before, zero_before) = (f.chain.balance(node), f.chain.balance(Address::ZERO));
        let receipt = f.register_with(node, ether(3)).unwrap();
        assert_eq!(f.chain.balance(node), node_before - ether(1));
        assert_eq!(f.chain.balance(Address::ZERO), zero_before + ether(1));
        assert_eq!(f.chain.balance(f.registry), U256::ZERO);

        let event = receipt.event::<AuthorityRegistry::NodeRegistered>();
        assert_eq!((event.node, event.jurisdiction, event.geoCell), (node, eu(), CELL));
        assert_eq!((event.burned, event.origin, event.metadataURI.as_str()), (ether(1), BURN, URI));

        let record = f.node(node);
        assert_eq!((record.jurisdiction, record.geoCell, record.burned), (eu(), CELL, ether(1)));
        assert_eq!((record.origin, record.active, record.admission), (BURN, true, 1));
        assert_eq!((record.registeredAt, record.metadataURI.as_str()), (f.chain.timestamp(), URI));
        assert!(f.is_authority(node));
        assert_eq!(f.count(), u(1));
        assert_eq!(f.required(), ether(5));

        // The second node pays the higher burn, with an odd excess refunded to the wei.
        let second = f.chain.account(2);
        let before = f.chain.balance(second);
        let zero_before = f.chain.balance(Address::ZERO);
        f.register_with(second, ether(5) + u(12_345)).unwrap();
        assert_eq!(f.chain.balance(second), before - ether(5));
        assert_eq!(f.chain.balance(Address::ZERO), zero_before + ether(5));
        assert_eq!(f.node(second).burned, ether(5));
    }

    #[test]
    fn register_reverts_when_underpaying_with_the_required_and_sent_amounts() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        let before = f.chain.balance(node);
        for sent in [U256::ZERO, ether(1) - u(1)] {
            f.register_with(node, sent).expect_revert(
                AuthorityRegistry::AuthorityRegistryInsufficientBurn { required: ether(1), sent },
            );
        }
        assert_eq!(f.chain.balance(node), before);
        assert!(!f.is_authority(node));
        f.register(node);
        let second = f.chain.account(2);
        f.register_with(second, ether(4)).expect_revert(
            AuthorityRegistry::AuthorityRegistryInsufficientBurn {
                required: ether(5),
                sent: ether(4),
            },
        );
    }

    #[test]
    fn an_active_node_cannot_register_twice() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        f.register(node);
        f.register_with(node, ether(5))
            .expect_revert(AuthorityRegistry::AuthorityRegistryAlreadyActive { node });
        let guild = f.guild;
        f.send(guild, &Fixture::grant_call(node))
            .expect_revert(AuthorityRegistry::AuthorityRegistryAlreadyActive { node });
        assert_eq!(f.count(), u(1));
    }

    #[test]
    fn register_rejects_a_zero_jurisdiction() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        let call = AuthorityRegistry::registerCall {
            jurisdiction: B256::ZERO,
            geoCell: CELL,
            metadataURI: URI.into(),
        };
        f.chain
            .send_with_value(node, f.registry, &call, ether(1))
            .expect_revert(AuthorityRegistry::AuthorityRegistryInvalidJurisdiction {});
    }

    #[test]
    fn a_sender_that_refuses_the_refund_cannot_overpay_but_can_pay_exactly() {
        let mut f = Fixture::new();
        let payer = f.chain.account(1);
        let forwarder =
            f.chain.deploy_code(payer, refusing_forwarder_init_code(f.registry)).unwrap().ret;
        let call = AuthorityRegistry::registerCall {
            jurisdiction: eu(),
            geoCell: CELL,
            metadataURI: URI.into(),
        };
        f.chain.send_with_value(payer, forwarder, &call, ether(2)).expect_revert(
            AuthorityRegistry::AuthorityRegistryTransferFailed { to: forwarder, amount: ether(1) },
        );
        assert!(!f.is_authority(forwarder));
        f.chain.send_with_value(payer, forwarder, &call, ether(1)).unwrap();
        assert!(f.is_authority(forwarder));
        assert_eq!(f.chain.balance(forwarder), U256::ZERO);
    }

    #[test]
    fn a_zero_burn_curve_registers_for_free() {
        let mut f = Fixture::with_params(U256::ZERO, U256::ZERO, u(WAD / 2));
        let node = f.chain.account(1);
        let before = f.chain.balance(node);
        let receipt = f.register_with(node, u(10)).unwrap();
        assert_eq!(receipt.event::<AuthorityRegistry::NodeRegistered>().burned, U256::ZERO);
        assert_eq!(f.chain.balance(node), before);
        assert_eq!(f.required(), U256::ZERO);
    }
}

mod grant_and_revoke {
    use super::*;

    #[test]
    fn the_guild_grants_an_institution_without_a_burn() {
        let mut f = Fixture::new();
        let institution = Address::repeat_byte(0x11);
        let zero_before = f.chain.balance(Address::ZERO);
        let guild = f.guild;
        let receipt = f.send(guild, &Fixture::grant_call(institution)).unwrap();
        let event = receipt.event::<AuthorityRegistry::NodeRegistered>();
        assert_eq!((event.node, event.jurisdiction, event.geoCell), (institution, b32("CH-ZH"), 7));
        assert_eq!((event.burned, event.origin), (U256::ZERO, GRANT));
        assert_eq!(event.metadataURI, "https://institution.example/node");
        let record = f.node(institution);
        assert_eq!((record.origin, record.active, record.burned), (GRANT, true, U256::ZERO));
        assert_eq!(f.chain.balance(Address::ZERO), zero_before);
        assert_eq!(f.count(), u(1));
        assert_eq!(f.required(), ether(5), "granted nodes count towards n");
    }

    #[test]
    fn grant_is_admin_only_and_rejects_zero_address_and_jurisdiction() {
        let mut f = Fixture::new();
        let stranger = f.chain.account(9);
        f.send(stranger, &Fixture::grant_call(stranger)).expect_revert(unauthorized(stranger));
        let guild = f.guild;
        f.send(guild, &Fixture::grant_call(Address::ZERO))
            .expect_revert(AuthorityRegistry::AuthorityRegistryZeroAddress {});
        let call = AuthorityRegistry::grantCall {
            jurisdiction: B256::ZERO,
            ..Fixture::grant_call(stranger)
        };
        f.send(guild, &call)
            .expect_revert(AuthorityRegistry::AuthorityRegistryInvalidJurisdiction {});
        assert_eq!(f.count(), U256::ZERO);
    }

    #[test]
    fn revoke_is_admin_only_and_lowers_the_count_and_the_burn() {
        let mut f = Fixture::new();
        let (a, b) = (f.chain.account(1), f.chain.account(2));
        f.register(a);
        f.register(b);
        assert_eq!((f.count(), f.required()), (u(2), ether(7)));

        let call = AuthorityRegistry::revokeCall { account: a, reason: "sybil".into() };
        f.send(b, &call).expect_revert(unauthorized(b));
        let guild = f.guild;
        let receipt = f.send(guild, &call).unwrap();
        let event = receipt.event::<AuthorityRegistry::NodeRevoked>();
        assert_eq!((event.node, event.reason.as_str()), (a, "sybil"));
        assert!(!f.is_authority(a));
        assert_eq!((f.count(), f.required()), (u(1), ether(5)));
        let record = f.node(a);
        assert_eq!((record.active, record.burned, record.jurisdiction), (false, ether(1), eu()));

        f.send(guild, &call).expect_revert(not_active(a));
        let never = Address::repeat_byte(0x77);
        f.send(guild, &AuthorityRegistry::revokeCall { account: never, reason: String::new() })
            .expect_revert(not_active(never));
    }

    #[test]
    fn a_revoked_node_may_register_again_at_the_current_burn_once_the_delay_has_passed() {
        let mut f = Fixture::new();
        let (a, b) = (f.chain.account(1), f.chain.account(2));
        f.grant(a);
        f.register(b);
        f.revoke(a);
        assert_eq!(f.required(), ether(5));
        f.chain.advance_time(DELAY);
        let burned = f.register(a);
        assert_eq!(burned, ether(5));
        let record = f.node(a);
        assert_eq!((record.origin, record.active, record.burned), (BURN, true, ether(5)));
        assert_eq!((record.jurisdiction, record.admission), (eu(), 2));
        assert_eq!(f.count(), u(2));
    }
}

mod reregistration {
    use super::*;

    fn registrable_at(f: &mut Fixture, account: Address) -> U256 {
        f.view(&AuthorityRegistry::registrableAtCall { account })
    }

    fn too_early(
        node: Address,
        registrable_at: u64,
    ) -> AuthorityRegistry::AuthorityRegistryReregistrationTooEarly {
        AuthorityRegistry::AuthorityRegistryReregistrationTooEarly {
            node,
            registrableAt: u(registrable_at),
        }
    }

    #[test]
    fn a_revoked_node_cannot_burn_its_way_back_before_the_delay_has_passed() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        f.register(node);
        assert_eq!(registrable_at(&mut f, node), U256::ZERO);
        f.revoke(node);
        let revoked_at = f.chain.timestamp();
        assert_eq!(registrable_at(&mut f, node), u(revoked_at + DELAY));

        let required = f.required();
        f.register_with(node, required).expect_revert(too_early(node, revoked_at + DELAY));
        f.chain.warp(revoked_at + DELAY - 1);
        f.register_with(node, ether(100)).expect_revert(too_early(node, revoked_at + DELAY));
        assert!(!f.is_authority(node));

        f.chain.warp(revoked_at + DELAY);
        f.register(node);
        assert!(f.is_authority(node));
        assert_eq!(registrable_at(&mut f, node), U256::ZERO, "admitted again: no wait");
    }

    #[test]
    fn the_guild_may_grant_a_revoked_node_again_at_once() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        f.register(node);
        f.revoke(node);
        f.grant(node);
        let record = f.node(node);
        assert_eq!((record.active, record.origin, record.admission), (true, GRANT, 2));
        assert_eq!(registrable_at(&mut f, node), U256::ZERO);
        // A second revocation starts a new wait from its own time.
        f.chain.advance_time(DELAY * 2);
        f.revoke(node);
        let revoked_at = f.chain.timestamp();
        f.register_with(node, ether(10)).expect_revert(too_early(node, revoked_at + DELAY));
    }

    #[test]
    fn the_guild_sets_the_delay_and_it_applies_to_nodes_already_revoked() {
        let mut f = Fixture::new();
        let (node, stranger) = (f.chain.account(1), f.chain.account(9));
        f.register(node);
        f.revoke(node);
        let revoked_at = f.chain.timestamp();

        let longer = AuthorityRegistry::setReregistrationDelayCall { delay: 2 * DELAY };
        f.send(stranger, &longer).expect_revert(unauthorized(stranger));
        f.send(node, &longer).expect_revert(unauthorized(node));
        let guild = f.guild;
        let receipt = f.send(guild, &longer).unwrap();
        assert_eq!(
            receipt.event::<AuthorityRegistry::ReregistrationDelayChanged>().delay,
            2 * DELAY
        );
        assert_eq!(f.view(&AuthorityRegistry::reregistrationDelayCall {}), 2 * DELAY);
        f.chain.warp(revoked_at + DELAY);
        f.register_with(node, ether(10)).expect_revert(too_early(node, revoked_at + 2 * DELAY));

        // The largest delay is a ban until the guild grants the node again; it cannot overflow.
        f.send(guild, &AuthorityRegistry::setReregistrationDelayCall { delay: u64::MAX }).unwrap();
        f.register_with(node, ether(10)).expect_revert(
            AuthorityRegistry::AuthorityRegistryReregistrationTooEarly {
                node,
                registrableAt: u(revoked_at) + u(u64::MAX),
            },
        );

        // A zero delay lets revoked nodes burn back at once.
        f.send(guild, &AuthorityRegistry::setReregistrationDelayCall { delay: 0 }).unwrap();
        f.register(node);
        assert!(f.is_authority(node));
    }
}

mod update_and_parameters {
    use super::*;

    #[test]
    fn an_active_node_updates_its_own_record() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        f.register(node);
        let call = AuthorityRegistry::updateNodeCall {
            jurisdiction: b32("FR-75"),
            geoCell: 42,
            metadataURI: "ipfs://nodes/fr.json".into(),
        };
        let receipt = f.send(node, &call).unwrap();
        let event = receipt.event::<AuthorityRegistry::NodeUpdated>();
        assert_eq!((event.node, event.jurisdiction, event.geoCell), (node, b32("FR-75"), 42));
        assert_eq!(event.metadataURI, "ipfs://nodes/fr.json");
        let record = f.node(node);
        assert_eq!((record.jurisdiction, record.geoCell), (b32("FR-75"), 42));
        assert_eq!(
            (record.metadataURI.as_str(), record.burned),
            ("ipfs://nodes/fr.json", ether(1))
        );

        let zero = AuthorityRegistry::updateNodeCall { jurisdiction: B256::ZERO, ..call.clone() };
        f.send(node, &zero)
            .expect_revert(AuthorityRegistry::AuthorityRegistryInvalidJurisdiction {});
        let stranger = f.chain.account(9);
        f.send(stranger, &call).expect_revert(not_active(stranger));
        f.revoke(node);
        f.send(node, &call).expect_revert(not_active(node));
    }

    #[test]
    fn the_guild_changes_the_burn_curve_with_the_same_validation() {
        let mut f = Fixture::new();
        let node = f.chain.account(1);
        f.register(node);
        let call = AuthorityRegistry::setBurnParametersCall {
            floor: ether(2),
            scale: ether(4),
            decayWad: u(WAD / 4),
        };
        let stranger = f.chain.account(9);
        f.send(stranger, &call).expect_revert(unauthorized(stranger));
        f.send(node, &call).expect_revert(unauthorized(node));
        let guild = f.guild;
        let receipt = f.send(guild, &call).unwrap();
        let event = receipt.event::<AuthorityRegistry::BurnParametersChanged>();
        assert_eq!((event.floor, event.scale, event.decayWad), (ether(2), ether(4), u(WAD / 4)));
        let params = f.view(&AuthorityRegistry::burnParametersCall {});
        assert_eq!((params.floor, params.scale, params.decayWad), (ether(2), ether(4), u(WAD / 4)));
        // n = 1, r = 1/4: 2 + 4 * 3/4 = 5 ether; the registered node keeps its status.
        assert_eq!(f.required(), ether(5));
        assert!(f.is_authority(node));

        for decay in [U256::ZERO, u(WAD)] {
            let bad = AuthorityRegistry::setBurnParametersCall { decayWad: decay, ..call };
            f.send(guild, &bad).expect_revert(AuthorityRegistry::AuthorityRegistryInvalidDecay {
                decayWad: decay,
            });
        }
        let bad =
            AuthorityRegistry::setBurnParametersCall { floor: U256::MAX, scale: u(1), ..call };
        f.send(guild, &bad).expect_revert(AuthorityRegistry::AuthorityRegistryBurnOverflow {
            floor: U256::MAX,
            scale: u(1),
        });
        assert_eq!(f.required(), ether(5));
    }
}

mod dids {
    use super::*;

    /// A registry with active nodes 1 (issuer) and 2, and identity 5 holding an agent DID from 1.
    fn issued() -> (Fixture, Address, Address, Address) {
        let mut f = Fixture::new();
        let (issuer, other, identity) =
            (f.chain.account(1), f.chain.account(2), f.chain.account(5));
        f.register(issuer);
        f.register(other);
        f.issue(issuer, identity, agent_role()).unwrap();
        (f, issuer, other, identity)
    }

    #[test]
    fn an_active_node_issues_a_did_that_is_valid_and_owned_by_the_identity() {
        let mut f = Fixture::new();
        let (issuer, identity) = (f.chain.account(1), f.chain.account(5));
        f.register(issuer);
        f.chain.advance_time(60);
        let receipt = f.issue(issuer, identity, agent_role()).unwrap();
        let event = receipt.event::<AuthorityRegistry::DIDIssued>();
        assert_eq!((event.identity, event.issuer, event.role), (identity, issuer, agent_role()));
        let did = f.did(identity);
        assert_eq!((did.issuer, did.role), (issuer, agent_role()));
        assert_eq!((did.issuedAt, did.valid), (f.chain.timestamp(), true));
        assert_eq!(f.view(&AuthorityRegistry::identityOwnerCall { identity }), identity);
        assert_eq!(f.changed(identity), U256::ZERO, "issuance is not an ERC-1056 change");

        let none = f.did(Address::repeat_byte(0x99));
        assert_eq!(
            (none.issuer, none.role, none.issuedAt, none.valid),
            (Address::ZERO, B256::ZERO, 0, false)
        );
    }

    #[test]
    fn issue_did_rejects_non_nodes_zero_identity_zero_role_and_a_live_did() {
        let (mut f, issuer, other, identity) = issued();
        let stranger = f.chain.account(9);
        f.issue(stranger, Address::repeat_byte(0x42), agent_role())
            .expect_revert(not_active(stranger));
        f.issue(issuer, Address::ZERO, agent_role())
            .expect_revert(AuthorityRegistry::AuthorityRegistryZeroAddress {});
        f.issue(issuer, Address::repeat_byte(0x42), B256::ZERO)
            .expect_revert(AuthorityRegistry::AuthorityRegistryInvalidRole {});
        for node in [issuer, other] {
            f.issue(node, identity, keccak256("expert")).expect_revert(
                AuthorityRegistry::AuthorityRegistryDIDAlreadyIssued { identity, issuer },
            );
        }
    }

    #[test]
    fn revoking_the_issuer_invalidates_its_dids_and_strips_its_powers_until_another_node_reissues()
    {
        let (mut f, issuer, other, identity) = issued();
        f.revoke(issuer);
        let did = f.did(identity);
        assert_eq!((did.issuer, did.valid), (issuer, false));

        f.issue(issuer, Address::repeat_byte(0x42), agent_role()).expect_revert(not_active(issuer));
        f.set_attribute_consented(issuer, identity, "x", 10).expect_revert(
            AuthorityRegistry::AuthorityRegistryNotAttributeWriter { identity, actor: issuer },
        );
        // The identity's owner still manages its (issued) DID.
        f.set_attribute(identity, identity, "owner still writes", 10).unwrap();

        // Re-registering (after the delay) does not revive DIDs issued in an earlier admission.
        f.chain.advance_time(DELAY);
        f.register(issuer);
        assert!(!f.did(identity).valid);
        f.set_attribute_consented(issuer, identity, "x", 10).expect_revert(
            AuthorityRegistry::AuthorityRegistryNotAttributeWriter { identity, actor: issuer },
        );

        f.chain.advance_time(5);
        let receipt = f.issue(other, identity, keccak256("expert")).unwrap();
        assert_eq!(receipt.event::<AuthorityRegistry::DIDIssued>().issuer, other);
        let did = f.did(identity);
        assert_eq!((did.issuer, did.role, did.valid), (other, keccak256("expert"), true));
        assert_eq!(did.issuedAt, f.chain.timestamp());
        f.set_attribute_consented(other, identity, "new issuer writes", 10).unwrap();
    }

    #[test]
    fn operations_on_an_identity_without_a_did_revert() {
        let (mut f, issuer, _, _) = issued();
        let bare = f.chain.account(6);
        let not_issued = || AuthorityRegistry::AuthorityRegistryDIDNotIssued { identity: bare };
        f.send(bare, &AuthorityRegistry::changeOwnerCall { identity: bare, newOwner: issuer })
            .expect_revert(not_issued());
        let add = AuthorityRegistry::addDelegateCall {
            identity: bare,
            delegateType: sig_auth(),
            delegate: issuer,
            validity: u(100),
        };
        f.send(bare, &add).expect_revert(not_issued());
        let revoke = AuthorityRegistry::revokeDelegateCall {
            identity: bare,
            delegateType: sig_auth(),
            delegate: issuer,
        };
        f.send(bare, &revoke).expect_revert(not_issued());
        f.set_attribute(bare, bare, "v", 1).expect_revert(not_issued());
        let revoke_attribute = AuthorityRegistry::revokeAttributeCall {
            identity: bare,
            name: attribute_name(),
            value: Bytes::new(),
        };
        f.send(issuer, &revoke_attribute).expect_revert(not_issued());
        f.set_attribute_consented(issuer, bare, "v", 1).expect_revert(not_issued());
        let revoke_with_consent = AuthorityRegistry::revokeAttributeWithConsentCall {
            identity: bare,
            name: attribute_name(),
            value: Bytes::new(),
            deadline: f.deadline(),
            consent: Bytes::new(),
        };
        f.send(issuer, &revoke_with_consent).expect_revert(not_issued());
    }

    #[test]
    fn the_owner_hands_over_the_identity_and_only_the_current_owner_may_act() {
        let (mut f, issuer, _, identity) = issued();
        let new_owner = f.chain.account(6);
        let call = AuthorityRegistry::changeOwnerCall { identity, newOwner: new_owner };
        for actor in [issuer, new_owner] {
            f.send(actor, &call).expect_revert(
                AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity, actor },
            );
        }
        f.send(identity, &AuthorityRegistry::changeOwnerCall { identity, newOwner: Address::ZERO })
            .expect_revert(AuthorityRegistry::AuthorityRegistryZeroAddress {});

        f.chain.roll(10);
        let receipt = f.send(identity, &call).unwrap();
        let event = receipt.event::<AuthorityRegistry::DIDOwnerChanged>();
        assert_eq!(
            (event.identity, event.owner, event.previousChange),
            (identity, new_owner, U256::ZERO)
        );
        assert_eq!(f.view(&AuthorityRegistry::identityOwnerCall { identity }), new_owner);
        assert_eq!(f.changed(identity), u(10));

        f.send(identity, &call).expect_revert(
            AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity, actor: identity },
        );
        f.chain.roll(12);
        let back = AuthorityRegistry::changeOwnerCall { identity, newOwner: identity };
        let event = f.send(new_owner, &back).unwrap().event::<AuthorityRegistry::DIDOwnerChanged>();
        assert_eq!((event.owner, event.previousChange), (identity, u(10)));
        assert_eq!(f.changed(identity), u(12));
    }

    #[test]
    fn delegates_are_valid_until_they_expire_or_are_revoked() {
        let (mut f, issuer, _, identity) = issued();
        let delegate = f.chain.account(7);
        let add = AuthorityRegistry::addDelegateCall {
            identity,
            delegateType: sig_auth(),
            delegate,
            validity: u(100),
        };
        f.send(issuer, &add).expect_revert(AuthorityRegistry::AuthorityRegistryNotIdentityOwner {
            identity,
            actor: issuer,
        });

        f.chain.roll(20);
        let start = f.chain.timestamp();
        let event =
            f.send(identity, &add).unwrap().event::<AuthorityRegistry::DIDDelegateChanged>();
        assert_eq!(
            (event.identity, event.delegateType, event.delegate),
            (identity, sig_auth(), delegate)
        );
        assert_eq!((event.validTo, event.previousChange), (u(start + 100), U256::ZERO));
        assert!(f.valid_delegate(identity, delegate));
        let other_type = AuthorityRegistry::validDelegateCall {
            identity,
            delegateType: b32("veriKey"),
            delegate,
        };
        assert!(!f.view(&other_type));

        f.chain.warp(start + 99);
        assert!(f.valid_delegate(identity, delegate));
        f.chain.warp(start + 100);
        assert!(!f.valid_delegate(identity, delegate), "expired at validTo");

        // Re-added, then revoked: validTo becomes now.
        f.chain.roll(21);
        f.send(identity, &add).unwrap();
        assert!(f.valid_delegate(identity, delegate));
        f.chain.roll(22);
        f.chain.warp(start + 150);
        let revoke =
            AuthorityRegistry::revokeDelegateCall { identity, delegateType: sig_auth(), delegate };
        f.send(delegate, &revoke).expect_revert(
            AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity, actor: delegate },
        );
        let event =
            f.send(identity, &revoke).unwrap().event::<AuthorityRegistry::DIDDelegateChanged>();
        assert_eq!((event.validTo, event.previousChange), (u(start + 150), u(21)));
        assert!(!f.valid_delegate(identity, delegate));
        assert_eq!(f.changed(identity), u(22));

        // A validity past the end of time saturates instead of overflowing.
        let forever = AuthorityRegistry::addDelegateCall { validity: U256::MAX, ..add };
        let event =
            f.send(identity, &forever).unwrap().event::<AuthorityRegistry::DIDDelegateChanged>();
        assert_eq!(event.validTo, U256::MAX);
        assert!(f.valid_delegate(identity, delegate));
    }

    #[test]
    fn attributes_are_written_by_the_owner_or_by_the_active_issuer_with_consent_and_no_one_else() {
        let (mut f, issuer, other, identity) = issued();
        f.chain.roll(30);
        let now = f.chain.timestamp();
        let receipt = f.set_attribute(identity, identity, "https://agent.example", 3600).unwrap();
        let event = receipt.event::<AuthorityRegistry::DIDAttributeChanged>();
        assert_eq!((event.identity, event.name), (identity, attribute_name()));
        assert_eq!(event.value, Bytes::from_static(b"https://agent.example"));
        assert_eq!((event.validTo, event.previousChange), (u(now + 3600), U256::ZERO));

        f.chain.roll(31);
        let event = f
            .set_attribute_consented(issuer, identity, "issuer-attested", 60)
            .unwrap()
            .event::<AuthorityRegistry::DIDAttributeChanged>();
        assert_eq!(
            (event.value, event.validTo, event.previousChange),
            (Bytes::from_static(b"issuer-attested"), u(now + 60), u(30))
        );

        let stranger = f.chain.account(9);
        for actor in [stranger, other, issuer] {
            f.set_attribute(actor, identity, "forged", 60).expect_revert(
                AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity, actor },
            );
        }
        // Even with the owner's consent, only the DID's issuer writes through the consent path.
        for actor in [stranger, other] {
            f.set_attribute_consented(actor, identity, "forged", 60).expect_revert(
                AuthorityRegistry::AuthorityRegistryNotAttributeWriter { identity, actor },
            );
        }

        f.chain.roll(32);
        let revoke = AuthorityRegistry::revokeAttributeCall {
            identity,
            name: attribute_name(),
            value: Bytes::from_static(b"issuer-attested"),
        };
        for actor in [stranger, issuer] {
            f.send(actor, &revoke).expect_revert(
                AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity, actor },
            );
        }
        // The issuer withdraws its attestation with a consent to `validity` 0.
        let key = f.chain.signer(5).clone();
        let deadline = f.deadline();
        let consent = f.attribute_consent(&key, identity, "issuer-attested", 0, issuer, deadline);
        let revoke_with_consent = AuthorityRegistry::revokeAttributeWithConsentCall {
            identity,
            name: attribute_name(),
            value: revoke.value.clone(),
            deadline,
            consent,
        };
        let event = f
            .send(issuer, &revoke_with_consent)
            .unwrap()
            .event::<AuthorityRegistry::DIDAttributeChanged>();
        assert_eq!(
            (event.value, event.validTo, event.previousChange),
            (revoke.value.clone(), U256::ZERO, u(31))
        );
        f.chain.roll(33);
        let event =
            f.send(identity, &revoke).unwrap().event::<AuthorityRegistry::DIDAttributeChanged>();
        assert_eq!((event.validTo, event.previousChange), (U256::ZERO, u(32)));

        // After a hand-over the new owner writes and the identity key no longer does.
        let new_owner = f.chain.account(6);
        f.send(identity, &AuthorityRegistry::changeOwnerCall { identity, newOwner: new_owner })
            .unwrap();
        f.set_attribute(new_owner, identity, "v", 1).unwrap();
        f.set_attribute(identity, identity, "v", 1).expect_revert(
            AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity, actor: identity },
        );
    }

    /// The `previousChange` of the single ERC-1056 change event in `receipt`.
    fn previous_change<R>(receipt: &Receipt<R>) -> U256 {
        let owner = receipt.events::<AuthorityRegistry::DIDOwnerChanged>();
        let delegate = receipt.events::<AuthorityRegistry::DIDDelegateChanged>();
        let attribute = receipt.events::<AuthorityRegistry::DIDAttributeChanged>();
        let pointers: Vec<U256> = owner
            .iter()
            .map(|e| e.previousChange)
            .chain(delegate.iter().map(|e| e.previousChange))
            .chain(attribute.iter().map(|e| e.previousChange))
            .collect();
        assert_eq!(pointers.len(), 1, "one change event per transaction");
        pointers[0]
    }

    #[test]
    fn a_resolver_walks_the_whole_history_back_through_previous_change() {
        let (mut f, issuer, _, identity) = issued();
        let (delegate, new_owner) = (f.chain.account(7), f.chain.account(6));
        // One change per block; remember which block saw which change and its pointer.
        let mut history: Vec<(U256, &str, U256)> = Vec::new();

        f.chain.roll(40);
        let r = f.set_attribute(identity, identity, "svc", 100).unwrap();
        history.push((u(40), "attribute", previous_change(&r)));
        f.chain.roll(45);
        let add = AuthorityRegistry::addDelegateCall {
            identity,
            delegateType: sig_auth(),
            delegate,
            validity: u(100),
        };
        let r = f.send(identity, &add).unwrap();
        history.push((u(45), "delegate", previous_change(&r)));
        f.chain.roll(50);
        let r = f.set_attribute_consented(issuer, identity, "attested", 100).unwrap();
        history.push((u(50), "attribute", previous_change(&r)));
        f.chain.roll(57);
        let call = AuthorityRegistry::changeOwnerCall { identity, newOwner: new_owner };
        let r = f.send(identity, &call).unwrap();
        history.push((u(57), "owner", previous_change(&r)));

        // Walk from `changed` back to 0, as an ERC-1056 resolver does.
        let mut walked = Vec::new();
        let mut block = f.changed(identity);
        while block != U256::ZERO {
            let (_, kind, previous) =
                history.iter().find(|(b, ..)| *b == block).expect("every pointer hits a change");
            walked.push(*kind);
            block = *previous;
        }
        assert_eq!(walked, ["owner", "attribute", "delegate", "attribute"]);
    }
}

mod consent {
    use super::*;

    /// A registry with active nodes 1 and 2 and no DIDs.
    fn nodes() -> (Fixture, Address, Address) {
        let mut f = Fixture::new();
        let (a, b) = (f.chain.account(1), f.chain.account(2));
        f.register(a);
        f.register(b);
        (f, a, b)
    }

    fn revoke_attribute_with(
        f: &mut Fixture,
        writer: Address,
        identity: Address,
        value: &str,
        consent: Bytes,
    ) -> Result<Receipt<AuthorityRegistry::revokeAttributeWithConsentReturn>, TxFailure> {
        let call = AuthorityRegistry::revokeAttributeWithConsentCall {
            identity,
            name: attribute_name(),
            value: Bytes::copy_from_slice(value.as_bytes()),
            deadline: f.deadline(),
            consent,
        };
        f.send(writer, &call)
    }

    #[test]
    fn a_node_cannot_issue_a_did_to_an_identity_that_did_not_consent() {
        let (mut f, node, _) = nodes();
        let victim = f.chain.account(5);
        let deadline = f.deadline();
        // Neither without a consent nor with one the node signed itself.
        f.issue_with(node, victim, agent_role(), deadline, Bytes::new())
            .expect_revert(invalid_consent(victim, victim));
        let node_key = f.chain.signer(1).clone();
        let forged = f.issuance_consent(&node_key, victim, agent_role(), node, deadline);
        f.issue_with(node, victim, agent_role(), deadline, forged)
            .expect_revert(invalid_consent(victim, victim));
        assert_eq!(f.did(victim).issuer, Address::ZERO);
        assert_eq!(f.nonce(victim), U256::ZERO);

        // With the identity's own consent the DID is issued and the consent's nonce used up.
        f.issue(node, victim, agent_role()).unwrap();
        assert!(f.did(victim).valid);
        assert_eq!(f.nonce(victim), u(1));
    }

    #[test]
    fn a_node_cannot_write_or_revoke_attributes_of_an_identity_without_its_consent() {
        let (mut f, node, _) = nodes();
        let victim = f.chain.account(5);
        f.issue(node, victim, agent_role()).unwrap();
        let not_owner =
            AuthorityRegistry::AuthorityRegistryNotIdentityOwner { identity: victim, actor: node };
        f.set_attribute(node, victim, "forged", 3600).expect_revert(not_owner.clone());
        let revoke = AuthorityRegistry::revokeAttributeCall {
            identity: victim,
            name: attribute_name(),
            value: Bytes::from_static(b"self-published"),
        };
        f.send(node, &revoke).expect_revert(not_owner);

        let (deadline, node_key) = (f.deadline(), f.chain.signer(1).clone());
        let forged = f.attribute_consent(&node_key, victim, "forged", 3600, node, deadline);
        f.set_attribute_with(node, victim, "forged", 3600, deadline, forged)
            .expect_revert(invalid_consent(victim, victim));
        f.set_attribute_with(node, victim, "forged", 3600, deadline, Bytes::new())
            .expect_revert(invalid_consent(victim, victim));
        let forged = f.attribute_consent(&node_key, victim, "self-published", 0, node, deadline);
        revoke_attribute_with(&mut f, node, victim, "self-published", forged)
            .expect_revert(invalid_consent(victim, victim));
        assert_eq!(f.changed(victim), U256::ZERO, "nothing was written");
    }

    #[test]
    fn a_consent_is_used_once() {
        let (mut f, node, _) = nodes();
        let (identity, key) = (f.chain.account(5), f.chain.signer(5).clone());
        let deadline = f.deadline();
        let consent = f.issuance_consent(&key, identity, agent_role(), node, deadline);
        f.issue_with(node, identity, agent_role(), deadline, consent.clone()).unwrap();
        // Revoked and granted again, the node may issue the (now invalid) DID again, but not with
        // the consent it already used.
        f.revoke(node);
        f.grant(node);
        assert!(!f.did(identity).valid);
        f.issue_with(node, identity, agent_role(), deadline, consent)
            .expect_revert(invalid_consent(identity, identity));
        f.issue(node, identity, agent_role()).unwrap();

        let consent = f.attribute_consent(&key, identity, "v", 60, node, deadline);
        f.set_attribute_with(node, identity, "v", 60, deadline, consent.clone()).unwrap();
        f.set_attribute_with(node, identity, "v", 60, deadline, consent)
            .expect_revert(invalid_consent(identity, identity));
        assert_eq!(f.nonce(identity), u(3));
    }

    #[test]
    fn a_consent_is_accepted_until_its_deadline_and_rejected_after_it() {
        let (mut f, node, _) = nodes();
        let (identity, key) = (f.chain.account(5), f.chain.signer(5).clone());
        let deadline = u(f.chain.timestamp() + 10);
        let expired = AuthorityRegistry::AuthorityRegistryConsentExpired { deadline };
        let consent = f.issuance_consent(&key, identity, agent_role(), node, deadline);
        let snapshot = f.chain.snapshot();
        f.chain.warp(deadline.to::<u64>() + 1);
        f.issue_with(node, identity, agent_role(), deadline, consent.clone())
            .expect_revert(expired.clone());
        assert!(f.chain.revert_to(snapshot));
        f.chain.warp(deadline.to::<u64>());
        f.issue_with(node, identity, agent_role(), deadline, consent).unwrap();

        let consent = f.attribute_consent(&key, identity, "v", 60, node, deadline);
        f.chain.warp(deadline.to::<u64>() + 1);
        f.set_attribute_with(node, identity, "v", 60, deadline, consent).expect_revert(expired);
    }

    #[test]
    fn a_consent_by_anyone_but_the_owner_or_for_another_action_is_rejected() {
        let (mut f, node, other) = nodes();
        let (identity, key) = (f.chain.account(5), f.chain.signer(5).clone());
        let stranger_key = f.chain.signer(9).clone();
        let deadline = f.deadline();
        let role = agent_role();
        let wrong = invalid_consent(identity, identity);
        let by_stranger = f.issuance_consent(&stranger_key, identity, role, node, deadline);
        let for_other_issuer = f.issuance_consent(&key, identity, role, other, deadline);
        let for_other_role =
            f.issuance_consent(&key, identity, keccak256("expert"), node, deadline);
        let for_later = f.issuance_consent(&key, identity, role, node, deadline + u(1));
        let other_registry =
            DidIssuance { identity, role, issuer: node, nonce: U256::ZERO, deadline };
        let other_registry =
            sign_consent(&f.chain, Address::repeat_byte(0x99), &key, &other_registry);
        for consent in [by_stranger, for_other_issuer, for_other_role, for_later, other_registry] {
            f.issue_with(node, identity, role, deadline, consent).expect_revert(wrong.clone());
        }
        f.issue(node, identity, role).unwrap();

        // An attribute consent covers one value, one validity and one writer.
        let consent = f.attribute_consent(&key, identity, "a", 60, node, deadline);
        f.set_attribute_with(node, identity, "b", 60, deadline, consent.clone())
            .expect_revert(wrong.clone());
        f.set_attribute_with(node, identity, "a", 61, deadline, consent.clone())
            .expect_revert(wrong.clone());
        revoke_attribute_with(&mut f, node, identity, "a", consent).expect_revert(wrong.clone());
        let by_stranger = f.attribute_consent(&stranger_key, identity, "a", 60, node, deadline);
        f.set_attribute_with(node, identity, "a", 60, deadline, by_stranger).expect_revert(wrong);

        // After a hand-over only the new owner consents.
        let new_owner = f.chain.account(6);
        f.send(identity, &AuthorityRegistry::changeOwnerCall { identity, newOwner: new_owner })
            .unwrap();
        let old = f.attribute_consent(&key, identity, "a", 60, node, deadline);
        f.set_attribute_with(node, identity, "a", 60, deadline, old)
            .expect_revert(invalid_consent(identity, new_owner));
        let event = f
            .set_attribute_consented(node, identity, "a", 60)
            .unwrap()
            .event::<AuthorityRegistry::DIDAttributeChanged>();
        assert_eq!(event.value, Bytes::from_static(b"a"));
    }

    #[test]
    fn the_typehashes_are_the_documented_eip712_types() {
        let mut f = Fixture::new();
        assert_eq!(
            f.view(&AuthorityRegistry::DID_ISSUANCE_TYPEHASHCall {}),
            keccak256(DidIssuance::eip712_encode_type().as_bytes())
        );
        assert_eq!(
            f.view(&AuthorityRegistry::ATTRIBUTE_CONSENT_TYPEHASHCall {}),
            keccak256(AttributeConsent::eip712_encode_type().as_bytes())
        );
    }
}

mod gas {
    use super::*;

    /// Gas of the registry's main calls, measured on a fresh registry: the first and second burn
    /// registrations (the second with a refund), a grant, a DID issuance, a first delegate and an
    /// attribute.
    pub(super) fn gas_report() -> Vec<(&'static str, u64)> {
        let mut f = Fixture::new();
        let (a, b, identity) = (f.chain.account(1), f.chain.account(2), f.chain.account(5));
        let first = f.register_with(a, ether(1)).unwrap().gas_used;
        let refunded = f.register_with(b, ether(6)).unwrap().gas_used;
        let guild = f.guild;
        let grant =
            f.send(guild, &Fixture::grant_call(Address::repeat_byte(0x11))).unwrap().gas_used;
        let issue = f.issue(a, identity, agent_role()).unwrap().gas_used;
        let add = AuthorityRegistry::addDelegateCall {
            identity,
            delegateType: sig_auth(),
            delegate: b,
            validity: u(86_400),
        };
        let delegate = f.send(identity, &add).unwrap().gas_used;
        let attribute = f
            .set_attribute_consented(a, identity, "https://agent.example/did.json", 86_400)
            .unwrap()
            .gas_used;
        let owner_attribute = f
            .set_attribute(identity, identity, "https://agent.example/svc", 86_400)
            .unwrap()
            .gas_used;
        let call = AuthorityRegistry::revokeCall { account: b, reason: "misbehaved".into() };
        let revoke = f.send(guild, &call).unwrap().gas_used;
        vec![
            ("register (first node, exact burn)", first),
            ("register (second node, refund)", refunded),
            ("grant", grant),
            ("issueDid", issue),
            ("addDelegate", delegate),
            ("setAttributeWithConsent (issuer)", attribute),
            ("setAttribute (owner)", owner_attribute),
            ("revoke", revoke),
        ]
    }

    #[test]
    fn registry_calls_stay_within_their_gas_budgets() {
        let report = gas_report();
        for (name, gas) in &report {
            eprintln!("AuthorityRegistry::{name} (gas: {gas})");
        }
        let budget = |name: &str| match name {
            "register (first node, exact burn)" | "register (second node, refund)" => 200_000,
            "grant" => 160_000,
            // The identity's first nonce write (a fresh slot) and the consent's signature check.
            "issueDid" => 120_000,
            _ => 80_000,
        };
        for (name, gas) in report {
            assert!(gas > 21_000 && gas < budget(name), "{name}: {gas}");
        }
    }
}
