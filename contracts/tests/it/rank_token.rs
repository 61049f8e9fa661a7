//! RankToken: the soulbound ERC-1155 ladder with per-game locks.

use alloy::primitives::{Address, B256, FixedBytes, U256};
use nsed_contracts::{
    rank_token::RankToken::{self, RankTokenErrors},
    testkit::ExpectRevert,
};
use proptest::prelude::*;

use crate::fixtures::{RANK_URI, RankFixture};

fn u(v: u64) -> U256 {
    U256::from(v)
}

mod deployment {
    use super::*;

    #[test]
    fn the_admin_holds_the_default_admin_role_and_games_hold_the_game_role() {
        let mut f = RankFixture::new();
        let (admin, game, token) = (f.admin, f.game, f.token);
        let has = |f: &mut RankFixture, role: B256, account: Address| {
            f.chain.call(admin, token, &RankToken::hasRoleCall { role, account }).unwrap()
        };
        assert!(has(&mut f, B256::ZERO, admin));
        assert!(!has(&mut f, B256::ZERO, game));
        let game_role = f.game_role;
        assert!(has(&mut f, game_role, game));
        assert!(!has(&mut f, game_role, admin));
        assert_eq!(game_role, alloy::primitives::keccak256("GAME_ROLE"));
    }

    #[test]
    fn uri_returns_the_template_for_every_rank() {
        let mut f = RankFixture::new();
        let uri = f.chain.call(f.admin, f.token, &RankToken::uriCall(u(3))).unwrap();
        assert_eq!(uri, RANK_URI);
    }

    #[test]
    fn supports_erc165_erc1155_and_access_control_interfaces() {
        let mut f = RankFixture::new();
        for (id, expected) in [
            ([0x01, 0xff, 0xc9, 0xa7], true),  // ERC-165
            ([0xd9, 0xb6, 0x7a, 0x26], true),  // ERC-1155
            ([0x0e, 0x89, 0x34, 0x1c], true),  // ERC-1155 metadata URI
            ([0x79, 0x65, 0xdb, 0x0b], true),  // AccessControl
            ([0xff, 0xff, 0xff, 0xff], false), // never supported per ERC-165
        ] {
            let interface_id = FixedBytes::<4>::from(id);
            let supported = f
                .chain
                .call(
                    f.admin,
                    f.token,
                    &RankToken::supportsInterfaceCall { interfaceId: interface_id },
                )
                .unwrap();
            assert_eq!(supported, expected, "interface {interface_id}");
        }
    }
}

mod mint {
    use super::*;

    #[test]
    fn a_game_mints_and_a_transfer_single_event_is_emitted() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        let receipt = f
            .chain
            .send(f.game, f.token, &RankToken::mintCall { to: player, rank: u(2), amount: u(3) })
            .unwrap();
        let event = receipt.event::<RankToken::TransferSingle>();
        assert_eq!(
            (event.operator, event.from, event.to, event.id, event.value),
            (f.game, Address::ZERO, player, u(2), u(3))
        );
        assert_eq!(f.balance(player, 2), u(3));
        assert_eq!(f.unlocked(player, 2), u(3));
    }

    #[test]
    fn minting_to_a_contract_without_receiver_hooks_succeeds() {
        let mut f = RankFixture::new();
        // The token itself implements no ERC-1155 receiver: a hook call would revert.
        let contract = f.token;
        f.mint(contract, 1, 1);
        assert_eq!(f.balance(contract, 1), u(1));
    }

    #[test]
    fn reverts_for_an_account_without_the_game_role() {
        let mut f = RankFixture::new();
        let outsider = f.chain.account(7);
        f.chain
            .send(
                outsider,
                f.token,
                &RankToken::mintCall { to: outsider, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: outsider,
                neededRole: f.game_role,
            });
    }

    #[test]
    fn the_admin_itself_cannot_mint() {
        let mut f = RankFixture::new();
        let admin = f.admin;
        f.chain
            .send(admin, f.token, &RankToken::mintCall { to: admin, rank: u(1), amount: u(1) })
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: admin,
                neededRole: f.game_role,
            });
    }

    #[test]
    fn reverts_for_rank_zero() {
        let mut f = RankFixture::new();
        let to = f.chain.account(5);
        f.chain
            .send(f.game, f.token, &RankToken::mintCall { to, rank: u(0), amount: u(1) })
            .expect_revert(RankToken::RankTokenInvalidRank { rank: u(0) });
    }

    #[test]
    fn reverts_for_a_zero_amount() {
        let mut f = RankFixture::new();
        let to = f.chain.account(5);
        f.chain
            .send(f.game, f.token, &RankToken::mintCall { to, rank: u(1), amount: u(0) })
            .expect_revert(RankToken::RankTokenZeroAmount {});
    }

    #[test]
    fn reverts_for_the_zero_address() {
        let mut f = RankFixture::new();
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::mintCall { to: Address::ZERO, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::ERC1155InvalidReceiver { receiver: Address::ZERO });
    }
}

mod burn {
    use super::*;

    #[test]
    fn a_game_burns_unlocked_tokens() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 1, 2);
        let receipt = f
            .chain
            .send(f.game, f.token, &RankToken::burnCall { from: player, rank: u(1), amount: u(2) })
            .unwrap();
        let event = receipt.event::<RankToken::TransferSingle>();
        assert_eq!((event.from, event.to, event.value), (player, Address::ZERO, u(2)));
        assert_eq!(f.balance(player, 1), u(0));
    }

    #[test]
    fn never_burns_into_a_lock() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 1, 2);
        f.chain
            .send(
                f.other_game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
            )
            .unwrap();
        // Only one unlocked token is left; neither game may burn the locked one this way.
        for game in [f.game, f.other_game] {
            f.chain
                .send(
                    game,
                    f.token,
                    &RankToken::burnCall { from: player, rank: u(1), amount: u(2) },
                )
                .expect_revert(RankToken::RankTokenInsufficientUnlocked {
                    account: player,
                    rank: u(1),
                    available: u(1),
                    needed: u(2),
                });
        }
        assert_eq!(f.balance(player, 1), u(2));
    }

    #[test]
    fn reverts_when_the_balance_is_too_small() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.chain
            .send(f.game, f.token, &RankToken::burnCall { from: player, rank: u(1), amount: u(1) })
            .expect_revert(RankToken::RankTokenInsufficientUnlocked {
                account: player,
                rank: u(1),
                available: u(0),
                needed: u(1),
            });
    }

    #[test]
    fn reverts_for_non_games_rank_zero_and_zero_amounts() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 1, 1);
        f.chain
            .send(player, f.token, &RankToken::burnCall { from: player, rank: u(1), amount: u(1) })
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: player,
                neededRole: f.game_role,
            });
        f.chain
            .send(f.game, f.token, &RankToken::burnCall { from: player, rank: u(0), amount: u(1) })
            .expect_revert(RankToken::RankTokenInvalidRank { rank: u(0) });
        f.chain
            .send(f.game, f.token, &RankToken::burnCall { from: player, rank: u(1), amount: u(0) })
            .expect_revert(RankToken::RankTokenZeroAmount {});
    }
}

mod locking {
    use super::*;

    #[test]
    fn lock_records_the_game_and_emits_rank_locked() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 3, 2);
        let receipt = f
            .chain
            .send(
                f.game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(3), amount: u(1) },
            )
            .unwrap();
        let event = receipt.event::<RankToken::RankLocked>();
        assert_eq!(
            (event.account, event.rank, event.game, event.amount),
            (player, u(3), f.game, u(1))
        );
        assert_eq!(f.locked(player, 3), u(1));
        let (game, other) = (f.game, f.other_game);
        assert_eq!(f.locked_by(player, 3, game), u(1));
        assert_eq!(f.locked_by(player, 3, other), u(0));
        assert_eq!(f.unlocked(player, 3), u(1));
        assert_eq!(f.balance(player, 3), u(2));
    }

    #[test]
    fn lock_reverts_beyond_the_unlocked_balance() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 1, 1);
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
            )
            .unwrap();
        f.chain
            .send(
                f.other_game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::RankTokenInsufficientUnlocked {
                account: player,
                rank: u(1),
                available: u(0),
                needed: u(1),
            });
    }

    #[test]
    fn lock_reverts_for_non_games_rank_zero_and_zero_amounts() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 1, 1);
        f.chain
            .send(
                player,
                f.token,
                &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: player,
                neededRole: f.game_role,
            });
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(0), amount: u(1) },
            )
            .expect_revert(RankToken::RankTokenInvalidRank { rank: u(0) });
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(1), amount: u(0) },
            )
            .expect_revert(RankToken::RankTokenZeroAmount {});
    }

    #[test]
    fn unlock_releases_only_the_callers_lock() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 1, 1);
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
            )
            .unwrap();
        f.chain
            .send(
                f.other_game,
                f.token,
                &RankToken::unlockCall { account: player, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::RankTokenInsufficientLocked {
                account: player,
                rank: u(1),
                game: f.other_game,
                locked: u(0),
                needed: u(1),
            });
        let receipt = f
            .chain
            .send(
                f.game,
                f.token,
                &RankToken::unlockCall { account: player, rank: u(1), amount: u(1) },
            )
            .unwrap();
        let event = receipt.event::<RankToken::RankUnlocked>();
        assert_eq!(
            (event.account, event.rank, event.game, event.amount),
            (player, u(1), f.game, u(1))
        );
        assert_eq!(f.locked(player, 1), u(0));
        assert_eq!(f.unlocked(player, 1), u(1));
    }

    #[test]
    fn unlock_reverts_for_non_games_rank_zero_and_zero_amounts() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.chain
            .send(
                player,
                f.token,
                &RankToken::unlockCall { account: player, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: player,
                neededRole: f.game_role,
            });
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::unlockCall { account: player, rank: u(0), amount: u(1) },
            )
            .expect_revert(RankToken::RankTokenInvalidRank { rank: u(0) });
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::unlockCall { account: player, rank: u(1), amount: u(0) },
            )
            .expect_revert(RankToken::RankTokenZeroAmount {});
    }

    #[test]
    fn burn_locked_burns_from_the_callers_lock_only() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.mint(player, 2, 2);
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::lockCall { account: player, rank: u(2), amount: u(1) },
            )
            .unwrap();
        f.chain
            .send(
                f.other_game,
                f.token,
                &RankToken::burnLockedCall { account: player, rank: u(2), amount: u(1) },
            )
            .expect_revert(RankToken::RankTokenInsufficientLocked {
                account: player,
                rank: u(2),
                game: f.other_game,
                locked: u(0),
                needed: u(1),
            });
        let receipt = f
            .chain
            .send(
                f.game,
                f.token,
                &RankToken::burnLockedCall { account: player, rank: u(2), amount: u(1) },
            )
            .unwrap();
        let unlocked = receipt.event::<RankToken::RankUnlocked>();
        assert_eq!((unlocked.account, unlocked.game, unlocked.amount), (player, f.game, u(1)));
        let burned = receipt.event::<RankToken::TransferSingle>();
        assert_eq!(
            (burned.from, burned.to, burned.id, burned.value),
            (player, Address::ZERO, u(2), u(1))
        );
        assert_eq!(f.balance(player, 2), u(1));
        assert_eq!(f.locked(player, 2), u(0));
    }

    #[test]
    fn burn_locked_reverts_for_non_games_rank_zero_and_zero_amounts() {
        let mut f = RankFixture::new();
        let player = f.chain.account(5);
        f.chain
            .send(
                player,
                f.token,
                &RankToken::burnLockedCall { account: player, rank: u(1), amount: u(1) },
            )
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: player,
                neededRole: f.game_role,
            });
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::burnLockedCall { account: player, rank: u(0), amount: u(1) },
            )
            .expect_revert(RankToken::RankTokenInvalidRank { rank: u(0) });
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::burnLockedCall { account: player, rank: u(1), amount: u(0) },
            )
            .expect_revert(RankToken::RankTokenZeroAmount {});
    }
}

mod soulbound {
    use super::*;

    #[test]
    fn safe_transfer_from_reverts_even_for_the_owner() {
        let mut f = RankFixture::new();
        let (player, friend) = (f.chain.account(5), f.chain.account(6));
        f.mint(player, 1, 1);
        f.chain
            .send(
                player,
                f.token,
                &RankToken::safeTransferFromCall {
                    from: player,
                    to: friend,
                    id: u(1),
                    value: u(1),
                    data: Default::default(),
                },
            )
            .expect_revert(RankToken::RankTokenSoulbound { from: player, to: friend });
        assert_eq!(f.balance(player, 1), u(1));
    }

    #[test]
    fn safe_batch_transfer_from_reverts() {
        let mut f = RankFixture::new();
        let (player, friend) = (f.chain.account(5), f.chain.account(6));
        f.mint(player, 1, 1);
        f.chain
            .send(
                player,
                f.token,
                &RankToken::safeBatchTransferFromCall {
                    from: player,
                    to: friend,
                    ids: vec![u(1)],
                    values: vec![u(1)],
                    data: Default::default(),
                },
            )
            .expect_revert(RankToken::RankTokenSoulbound { from: player, to: friend });
    }

    #[test]
    fn a_game_cannot_move_ranks_between_players_either() {
        let mut f = RankFixture::new();
        let (player, friend) = (f.chain.account(5), f.chain.account(6));
        f.mint(player, 1, 1);
        // Not approved (approvals are impossible), so ERC-1155 stops it before the soulbound check.
        f.chain
            .send(
                f.game,
                f.token,
                &RankToken::safeTransferFromCall {
                    from: player,
                    to: friend,
                    id: u(1),
                    value: u(1),
                    data: Default::default(),
                },
            )
            .expect_revert(RankToken::ERC1155MissingApprovalForAll {
                operator: f.game,
                owner: player,
            });
    }

    #[test]
    fn set_approval_for_all_reverts() {
        let mut f = RankFixture::new();
        let (player, operator) = (f.chain.account(5), f.chain.account(6));
        f.chain
            .send(player, f.token, &RankToken::setApprovalForAllCall { operator, _1: true })
            .expect_revert(RankToken::RankTokenSoulbound { from: player, to: operator });
        let approved = f
            .chain
            .call(player, f.token, &RankToken::isApprovedForAllCall { account: player, operator })
            .unwrap();
        assert!(!approved);
    }
}

mod roles {
    use super::*;

    #[test]
    fn a_revoked_game_can_no_longer_mint() {
        let mut f = RankFixture::new();
        let (admin, game, role) = (f.admin, f.game, f.game_role);
        f.chain.send(admin, f.token, &RankToken::revokeRoleCall { role, account: game }).unwrap();
        f.chain
            .send(game, f.token, &RankToken::mintCall { to: game, rank: u(1), amount: u(1) })
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: game,
                neededRole: role,
            });
    }

    #[test]
    fn only_the_admin_grants_the_game_role() {
        let mut f = RankFixture::new();
        let (game, outsider, role) = (f.game, f.chain.account(7), f.game_role);
        f.chain
            .send(game, f.token, &RankToken::grantRoleCall { role, account: outsider })
            .expect_revert(RankToken::AccessControlUnauthorizedAccount {
                account: game,
                neededRole: B256::ZERO,
            });
    }

    #[test]
    fn reverts_decode_into_the_typed_error_enum() {
        let mut f = RankFixture::new();
        let to = f.chain.account(5);
        let failure = f
            .chain
            .send(f.game, f.token, &RankToken::mintCall { to, rank: u(0), amount: u(1) })
            .unwrap_err();
        assert!(matches!(
            failure.decode::<RankTokenErrors>(),
            Some(RankTokenErrors::RankTokenInvalidRank(e)) if e.rank == u(0)
        ));
    }
}

/// One step of a random sequence against the token, by game 0 or 1.
#[derive(Debug, Clone)]
enum Op {
    Mint { player: usize, rank: u64, amount: u64 },
    Burn { game: usize, player: usize, rank: u64, amount: u64 },
    Lock { game: usize, player: usize, rank: u64, amount: u64 },
    Unlock { game: usize, player: usize, rank: u64, amount: u64 },
    BurnLocked { game: usize, player: usize, rank: u64, amount: u64 },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let args = || (0usize..2, 0usize..3, 1u64..3, 1u64..4);
    prop_oneof![
        (0usize..3, 1u64..3, 1u64..4).prop_map(|(player, rank, amount)| Op::Mint {
            player,
            rank,
            amount
        }),
        args().prop_map(|(game, player, rank, amount)| Op::Burn { game, player, rank, amount }),
        args().prop_map(|(game, player, rank, amount)| Op::Lock { game, player, rank, amount }),
        args().prop_map(|(game, player, rank, amount)| Op::Unlock { game, player, rank, amount }),
        args().prop_map(|(game, player, rank, amount)| Op::BurnLocked {
            game,
            player,
            rank,
            amount
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A plain Rust model of balances and per-game locks predicts every success and failure, and
    /// the on-chain invariant `balance >= locked total = Σ locks` holds after every step.
    #[test]
    fn balances_and_locks_follow_the_model(ops in prop::collection::vec(op_strategy(), 1..30)) {
        let mut f = RankFixture::new();
        let games = [f.game, f.other_game];
        let players = [f.chain.account(5), f.chain.account(6), f.chain.account(7)];
        // model[player][rank] = (balance, [locked by game 0, locked by game 1])
        let mut model = [[(0u64, [0u64; 2]); 3]; 3];
        for op in ops {
            match op {
                Op::Mint { player, rank, amount } => {
                    f.mint(players[player], rank, amount);
                    model[player][rank as usize].0 += amount;
                }
                Op::Burn { game, player, rank, amount } => {
                    let (bal, locks) = model[player][rank as usize];
                    let ok = bal - locks[0] - locks[1] >= amount;
                    let result = f.chain.send(games[game], f.token, &RankToken::burnCall {
                        from: players[player], rank: u(rank), amount: u(amount) });
                    prop_assert_eq!(result.is_ok(), ok);
                    if ok { model[player][rank as usize].0 -= amount; }
                }
                Op::Lock { game, player, rank, amount } => {
                    let (bal, locks) = model[player][rank as usize];
                    let ok = bal - locks[0] - locks[1] >= amount;
                    let result = f.chain.send(games[game], f.token, &RankToken::lockCall {
                        account: players[player], rank: u(rank), amount: u(amount) });
                    prop_assert_eq!(result.is_ok(), ok);
                    if ok { model[player][rank as usize].1[game] += amount; }
                }
                Op::Unlock { game, player, rank, amount } | Op::BurnLocked { game, player, rank, amount } => {
                    let burns = matches!(op, Op::BurnLocked { .. });
                    let ok = model[player][rank as usize].1[game] >= amount;
                    let (account, rank_id) = (players[player], u(rank));
                    let result = if burns {
                        f.chain.send(games[game], f.token, &RankToken::burnLockedCall { account, rank: rank_id, amount: u(amount) }).map(|r| r.gas_used)
                    } else {
                        f.chain.send(games[game], f.token, &RankToken::unlockCall { account, rank: rank_id, amount: u(amount) }).map(|r| r.gas_used)
                    };
                    prop_assert_eq!(result.is_ok(), ok);
                    if ok {
                        model[player][rank as usize].1[game] -= amount;
                        if burns { model[player][rank as usize].0 -= amount; }
                    }
                }
            }
            for (p, &player) in players.iter().enumerate() {
                for rank in 1..3u64 {
                    let (bal, locks) = model[p][rank as usize];
                    prop_assert_eq!(f.balance(player, rank), u(bal));
                    prop_assert_eq!(f.locked(player, rank), u(locks[0] + locks[1]));
                    prop_assert_eq!(f.locked_by(player, rank, games[0]), u(locks[0]));
                    prop_assert_eq!(f.locked_by(player, rank, games[1]), u(locks[1]));
                    prop_assert!(bal >= locks[0] + locks[1]);
                }
            }
        }
    }
}
