//! The tokens' initial balances: GuildToken mints its genesis distribution at construction, and
//! BountyToken's `finishMinting` mints the initial balances and renounces its owner for good.

use alloy::primitives::{Address, U256};
use nsed_contracts::{
    bounty_token::BountyToken,
    guild_token::GuildToken,
    testkit::{ExpectRevert, Receipt, TestChain, TxFailure},
};

use crate::guild::tokens;

mod guild_token {
    use super::*;

    fn deploy(
        chain: &mut TestChain,
        holders: Vec<Address>,
        amounts: Vec<U256>,
    ) -> Result<Receipt<Address>, TxFailure> {
        let admin = chain.account(0);
        chain.deploy_with_receipt(
            admin,
            &GuildToken::BYTECODE,
            &GuildToken::constructorCall { admin, holders, amounts },
        )
    }

    #[test]
    fn the_genesis_goes_to_every_listed_holder_and_the_deployer_gets_nothing() {
        let mut chain = TestChain::new();
        let (deployer, a, b) = (chain.account(0), chain.account(1), chain.account(2));
        let token = deploy(&mut chain, vec![a, b, a], vec![tokens(600), tokens(400), tokens(5)])
            .unwrap()
            .ret;
        let balance = |chain: &mut TestChain, account| {
            chain.call(deployer, token, &GuildToken::balanceOfCall { account }).unwrap()
        };
        assert_eq!(balance(&mut chain, a), tokens(605));
        assert_eq!(balance(&mut chain, b), tokens(400));
        assert_eq!(balance(&mut chain, deployer), U256::ZERO);
        assert_eq!(
            chain.call(deployer, token, &GuildToken::totalSupplyCall {}).unwrap(),
            tokens(1_005)
        );
        // The admin (the timelock in a deployment) administers roles; nobody mints yet.
        let minter = chain.call(deployer, token, &GuildToken::MINTER_ROLECall {}).unwrap();
        for account in [deployer, a, b] {
            let has = GuildToken::hasRoleCall { role: minter, account };
            assert!(!chain.call(deployer, token, &has).unwrap());
        }
        chain
            .send(deployer, token, &GuildToken::mintCall { to: deployer, amount: U256::from(1) })
            .expect_revert(GuildToken::AccessControlUnauthorizedAccount {
                account: deployer,
                neededRole: minter,
            });
    }

    #[test]
    fn mismatched_lists_an_empty_genesis_and_a_zero_holder_are_rejected() {
        let mut chain = TestChain::new();
        let a = chain.account(1);
        deploy(&mut chain, vec![a], vec![tokens(1), tokens(2)]).expect_revert(
            GuildToken::GuildTokenInvalidGenesisLength {
                holders: U256::from(1),
                amounts: U256::from(2),
            },
        );
        deploy(&mut chain, vec![], vec![])
            .expect_revert(GuildToken::GuildTokenZeroGenesisSupply {});
        deploy(&mut chain, vec![a], vec![U256::ZERO])
            .expect_revert(GuildToken::GuildTokenZeroGenesisSupply {});
        deploy(&mut chain, vec![Address::ZERO], vec![tokens(1)])
            .expect_revert(GuildToken::ERC20InvalidReceiver { receiver: Address::ZERO });
    }
}

mod bounty_token {
    use super::*;
    use crate::bounty_token::deployed;

    #[test]
    fn finish_minting_mints_the_initial_balances_and_nobody_mints_again() {
        let (mut chain, owner, token) = deployed();
        let (a, b) = (chain.account(1), chain.account(2));
        let finish = BountyToken::finishMintingCall {
            holders: vec![a, b],
            amounts: vec![U256::from(7), U256::from(3)],
        };
        let receipt = chain.send(owner, token, &finish).unwrap();
        let moved = receipt.event::<BountyToken::OwnershipTransferred>();
        assert_eq!((moved.previousOwner, moved.newOwner), (owner, Address::ZERO));
        let balance = |chain: &mut TestChain, account| {
            chain.call(owner, token, &BountyToken::balanceOfCall { account }).unwrap()
        };
        assert_eq!(balance(&mut chain, a), U256::from(7));
        assert_eq!(balance(&mut chain, b), U256::from(3));
        assert_eq!(chain.call(owner, token, &BountyToken::ownerCall {}).unwrap(), Address::ZERO);
        assert_eq!(
            chain.call(owner, token, &BountyToken::totalSupplyCall {}).unwrap(),
            U256::from(10)
        );
        chain
            .send(owner, token, &BountyToken::mintCall { to: owner, amount: U256::from(1) })
            .expect_revert(BountyToken::OwnableUnauthorizedAccount { account: owner });
        chain
            .send(owner, token, &finish)
            .expect_revert(BountyToken::OwnableUnauthorizedAccount { account: owner });
    }

    #[test]
    fn only_the_owner_finishes_minting_and_the_lists_must_match() {
        let (mut chain, owner, token) = deployed();
        let stranger = chain.account(4);
        let finish = |holders: Vec<Address>, amounts: Vec<U256>| BountyToken::finishMintingCall {
            holders,
            amounts,
        };
        chain
            .send(stranger, token, &finish(vec![stranger], vec![U256::from(1)]))
            .expect_revert(BountyToken::OwnableUnauthorizedAccount { account: stranger });
        chain.send(owner, token, &finish(vec![stranger], vec![])).expect_revert(
            BountyToken::BountyTokenInvalidArrayLength {
                holders: U256::from(1),
                amounts: U256::ZERO,
            },
        );
        // A failed finish leaves the owner in place.
        assert_eq!(chain.call(owner, token, &BountyToken::ownerCall {}).unwrap(), owner);
    }
}
