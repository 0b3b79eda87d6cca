//! Forwarding, sans I/O: whether an incoming HTLC whose onion names a next
//! channel may go out, and on which of our channels (BOLT 4 "Requirements"
//! of a forwarding node; the fee and CLTV rules of BOLT 7 "HTLC Fees").
//!
//! Non-strict forwarding (BOLT 4: "a forwarding node MAY select a channel
//! other than the one specified"): any usable channel to the same peer whose
//! policy the HTLC meets will do; the one named is tried first.

use crate::amount::Msat;
use crate::channel::ChannelId;
use crate::gossip::announce::RelayPolicy;
use crate::onion::failure::{FailureMessage, FailureValue};
use crate::payment::CltvExpiry;

/// An outgoing HTLC whose expiry is this close to the tip is refused with
/// `expiry_too_soon`: it could time out before it is even committed (LDK's
/// `LATENCY_GRACE_PERIOD_BLOCKS`).
pub const EXPIRY_TOO_SOON_BLOCKS: u32 = 3;

/// An incoming HTLC expiring further ahead than this is refused with
/// `expiry_too_far` (two weeks of blocks, LDK's `CLTV_FAR_FAR_AWAY`): it
/// would lock our liquidity for longer than any route needs.
pub const EXPIRY_TOO_FAR_BLOCKS: u32 = 2016;

/// One of our channels to the peer the onion names.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The channel.
    pub id: ChannelId,
    /// Whether the onion's `short_channel_id` names it (its scid or the alias we gave).
    pub named: bool,
    /// Normal, reestablished and not shutting down.
    pub usable: bool,
    /// Closing or closed: it will never carry an HTLC again.
    pub closing: bool,
    /// What we can still offer on it.
    pub spendable: Msat,
    /// Our `channel_update` policy, and the previous one while it is still
    /// honoured (BOLT 7: for 10 minutes after a change).
    pub policies: Vec<RelayPolicy>,
    /// The `htlc_minimum_msat` and `htlc_maximum_msat` our update announces.
    pub htlc_limits: (Msat, Msat),
}

/// The incoming HTLC and what its onion asks of us.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// The incoming HTLC's `amount_msat`.
    pub incoming_amount: Msat,
    /// The incoming HTLC's `cltv_expiry`.
    pub incoming_cltv: CltvExpiry,
    /// The onion's `amt_to_forward`.
    pub amt_to_forward: Msat,
    /// The onion's `outgoing_cltv_value`.
    pub outgoing_cltv: CltvExpiry,
    /// Our chain tip.
    pub height: u32,
}

/// Why we do not forward: the failure for the sender, and a line for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The failure message (BOLT 4), to wrap in an onion.
    pub message: FailureMessage,
    /// Why, for the log and `listforwards`.
    pub why: String,
}

fn refuse(name: &str, fields: Vec<(&'static str, FailureValue)>, why: String) -> Refusal {
    Refusal {
        message: FailureMessage::named(name, fields),
        why,
    }
}

/// BOLT 4: failures with the UPDATE flag carry a `channel_update`; nodes
/// "are expected to transition away from including it" (it fingerprints
/// the channel) and set its `len` to zero, as we do.
fn no_update() -> (&'static str, FailureValue) {
    ("channel_update", FailureValue::Bytes(vec![]))
}

/// `temporary_channel_failure` (BOLT 4: the outgoing channel cannot take
/// the HTLC now), with an empty `channel_update`.
pub fn temporary_channel_failure() -> FailureMessage {
    FailureMessage::named("temporary_channel_failure", vec![no_update()])
}

/// The channels that may carry the HTLC, best first, or the failure to
/// return. Checks run in BOLT 4's order, against the named channel's policy
/// (the failure reports it), and each other candidate must meet its own.
pub fn check(req: &Request, candidates: &[Candidate]) -> Result<Vec<ChannelId>, Refusal> {
    let Some(named) = candidates
        .iter()
        .find(|c| c.named)
        .or_else(|| candidates.first())
    else {
        return Err(refuse(
            "unknown_next_peer",
            vec![],
            "the onion names a channel we do not have".into(),
        ));
    };
    if candidates.iter().all(|c| c.closing) {
        return Err(refuse(
            "permanent_channel_failure",
            vec![],
            "the next channel is closing".into(),
        ));
    }
    let amount = req.amt_to_forward;
    if amount < named.htlc_limits.0 {
        return Err(refuse(
            "amount_below_minimum",
            vec![("htlc_msat", FailureValue::Uint(amount.0)), no_update()],
            format!(
                "{} is below the next channel's htlc_minimum_msat of {}",
                amount, named.htlc_limits.0
            ),
        ));
    }
    if let Err(fee) = fee_paid(req, named) {
        return Err(refuse(
            "fee_insufficient",
            vec![
                ("htlc_msat", FailureValue::Uint(req.incoming_amount.0)),
                no_update(),
            ],
            format!(
                "{} in for {} out pays {} in fees; our policy asks {}",
                req.incoming_amount,
                amount,
                Msat(req.incoming_amount.0.saturating_sub(amount.0)),
                fee
            ),
        ));
    }
    if let Err(delta) = cltv_kept(req, named) {
        return Err(refuse(
            "incorrect_cltv_expiry",
            vec![
                (
                    "cltv_expiry",
                    FailureValue::Uint(u64::from(req.outgoing_cltv.0)),
                ),
                no_update(),
            ],
            format!(
                "cltv_expiry {} in for {} out leaves less than our cltv_expiry_delta of {delta}",
                req.incoming_cltv.0, req.outgoing_cltv.0
            ),
        ));
    }
    if req.outgoing_cltv.0 <= req.height + EXPIRY_TOO_SOON_BLOCKS {
        return Err(refuse(
            "expiry_too_soon",
            vec![no_update()],
            format!(
                "the outgoing cltv_expiry {} is within {EXPIRY_TOO_SOON_BLOCKS} blocks of our height {}",
                req.outgoing_cltv.0, req.height
            ),
        ));
    }
    if req.incoming_cltv.0 > req.height + EXPIRY_TOO_FAR_BLOCKS {
        return Err(refuse(
            "expiry_too_far",
            vec![],
            format!(
                "cltv_expiry {} is more than {EXPIRY_TOO_FAR_BLOCKS} blocks past our height {}",
                req.incoming_cltv.0, req.height
            ),
        ));
    }
    if candidates.iter().all(|c| !c.usable) {
        // Not a question of liquidity (which temporary_channel_failure tells
        // a learning sender): the peer is away, and we will say so in gossip.
        return Err(refuse(
            "channel_disabled",
            vec![("disabled_flags", FailureValue::Uint(0)), no_update()],
            "the next peer is disconnected or its channel is not ready".into(),
        ));
    }
    let mut fit: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.usable && c.spendable >= amount && amount <= c.htlc_limits.1)
        .filter(|c| c.htlc_limits.0 <= amount)
        .filter(|c| fee_paid(req, c).is_ok() && cltv_kept(req, c).is_ok())
        .collect();
    if fit.is_empty() {
        return Err(refuse(
            "temporary_channel_failure",
            vec![no_update()],
            format!(
                "no channel to the next peer can carry {amount} now (the named one can send {}, up to {} per HTLC)",
                named.spendable, named.htlc_limits.1
            ),
        ));
    }
    // The named channel first, then the one with the most room.
    fit.sort_by_key(|c| (!c.named, std::cmp::Reverse(c.spendable)));
    Ok(fit.into_iter().map(|c| c.id).collect())
}

/// `Ok` when the fee meets one of the channel's policies, else the fee the current one asks.
fn fee_paid(req: &Request, c: &Candidate) -> Result<(), Msat> {
    let paid = req.incoming_amount.0.checked_sub(req.amt_to_forward.0);
    let asks = |p: &RelayPolicy| p.fee(req.amt_to_forward);
    match paid {
        Some(paid) if c.policies.iter().any(|p| asks(p).0 <= paid) => Ok(()),
        _ => Err(c.policies.first().map(asks).unwrap_or_default()),
    }
}

/// `Ok` when `cltv_expiry - cltv_expiry_delta >= outgoing_cltv_value` for
/// one of the channel's policies (BOLT 4), else the current delta.
fn cltv_kept(req: &Request, c: &Candidate) -> Result<(), u16> {
    let kept = |p: &RelayPolicy| {
        u64::from(req.incoming_cltv.0)
            >= u64::from(req.outgoing_cltv.0) + u64::from(p.cltv_expiry_delta)
    };
    if c.policies.iter().any(kept) {
        Ok(())
    } else {
        Err(c.policies.first().map_or(0, |p| p.cltv_expiry_delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(n: u8, named: bool, spendable: u64) -> Candidate {
        Candidate {
            id: ChannelId([n; 32]),
            named,
            usable: true,
            closing: false,
            spendable: Msat(spendable),
            policies: vec![RelayPolicy::default()],
            htlc_limits: (Msat(1_000), Msat(500_000_000)),
        }
    }

    /// 1,000,000 msat out at height 100 with Core Lightning's default policy
    /// (1000 msat + 10 ppm: 1,010 msat; delta 34).
    fn request() -> Request {
        Request {
            incoming_amount: Msat(1_001_010),
            incoming_cltv: CltvExpiry(200 + 34),
            amt_to_forward: Msat(1_000_000),
            outgoing_cltv: CltvExpiry(200),
            height: 100,
        }
    }

    fn refused(req: &Request, cs: &[Candidate]) -> &'static str {
        check(req, cs).unwrap_err().message.name().unwrap()
    }

    #[test]
    fn an_htlc_paying_the_policy_goes_out_on_the_named_channel_first() {
        let cs = [channel(1, false, 9_000_000), channel(2, true, 2_000_000)];
        assert_eq!(
            check(&request(), &cs).unwrap(),
            vec![ChannelId([2; 32]), ChannelId([1; 32])]
        );
    }

    #[test]
    fn non_strict_forwarding_takes_another_channel_to_the_peer() {
        let cs = [channel(1, true, 10), channel(2, false, 2_000_000)];
        assert_eq!(check(&request(), &cs).unwrap(), vec![ChannelId([2; 32])]);
    }

    #[test]
    fn each_rejection_names_its_bolt_4_failure() {
        assert_eq!(refused(&request(), &[]), "unknown_next_peer");
        let cs = [channel(1, true, 9_000_000)];
        let mut r = request();
        r.incoming_amount = Msat(1_001_009);
        assert_eq!(refused(&r, &cs), "fee_insufficient");
        let mut r = request();
        r.incoming_cltv = CltvExpiry(233);
        assert_eq!(refused(&r, &cs), "incorrect_cltv_expiry");
        let mut r = request();
        r.amt_to_forward = Msat(999);
        r.incoming_amount = Msat(999 + 1_000);
        assert_eq!(refused(&r, &cs), "amount_below_minimum");
        let mut r = request();
        r.height = 197;
        assert_eq!(refused(&r, &cs), "expiry_too_soon");
        r.height = 196;
        assert!(check(&r, &cs).is_ok(), "four blocks left is enough");
        let mut r = request();
        r.incoming_cltv = CltvExpiry(100 + 2017);
        r.outgoing_cltv = CltvExpiry(100 + 2017 - 34);
        assert_eq!(refused(&r, &cs), "expiry_too_far");
        let mut off = channel(1, true, 9_000_000);
        off.usable = false;
        assert_eq!(refused(&request(), &[off]), "channel_disabled");
        let mut closing = channel(1, true, 9_000_000);
        closing.closing = true;
        assert_eq!(refused(&request(), &[closing]), "permanent_channel_failure");
        assert_eq!(
            refused(&request(), &[channel(1, true, 999_999)]),
            "temporary_channel_failure",
            "not enough to send"
        );
    }

    #[test]
    fn the_previous_policy_is_honoured_while_it_lasts() {
        let mut c = channel(1, true, 9_000_000);
        let dearer = RelayPolicy {
            fee_base_msat: 5_000,
            ..RelayPolicy::default()
        };
        c.policies = vec![dearer];
        assert_eq!(refused(&request(), &[c.clone()]), "fee_insufficient");
        c.policies.push(RelayPolicy::default());
        assert!(check(&request(), &[c]).is_ok());
    }

    #[test]
    fn an_amount_above_what_came_in_is_fee_insufficient_not_an_overflow() {
        let mut r = request();
        r.incoming_amount = Msat(10);
        assert_eq!(
            refused(&r, &[channel(1, true, 9_000_000)]),
            "fee_insufficient"
        );
    }
}
