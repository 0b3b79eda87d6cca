//! The factory's transactions: the hook, the kickoff, allocations, and the
//! cooperative close. Every transaction but the hook spends an N-of-N
//! Taproot output by its key path, signed by all parties together (MuSig2,
//! [`Group`]); each pays the factory's feerate on its predicted size.

use bitcoin::hashes::Hash;
use bitcoin::key::TweakedPublicKey;
use bitcoin::secp256k1::{Secp256k1, SecretKey, Signing};
use bitcoin::sighash::{Prevouts, SighashCache};
use bitcoin::transaction::{predict_weight, InputWeightPrediction, Version};
use bitcoin::{
    absolute, Amount, FeeRate, OutPoint, ScriptBuf, Sequence, TapSighashType, Transaction, TxIn,
    TxOut, Weight, Witness,
};

use super::{split_evenly, Allocation, Channel, Factory, FactoryError, Layer, Party};
use crate::swap::musig::Group;
use crate::tx::funding::{self, FundingInput};

/// A P2TR or P2WSH output script is 34 bytes.
const SCRIPT_34: usize = 34;

/// What `create` needs: the parties and their coins.
#[derive(Clone, Debug)]
pub struct HookRequest {
    /// The members; `amount` is each one's contribution.
    pub parties: Vec<Party>,
    /// Each party's coins (P2WPKH), signed here where a key is given.
    pub inputs: Vec<Vec<FundingInput>>,
    /// The feerate of the hook and of every pre-signed transaction.
    pub feerate: FeeRate,
    /// The invalidation layer.
    pub layer: Layer,
}

/// The hook and the factory it opens.
#[derive(Clone, Debug)]
pub struct Hook {
    /// The factory, before its first allocation.
    pub factory: Factory,
    /// The hook transaction: output 0 is the factory, then each party's change.
    pub tx: Transaction,
    /// Its fee.
    pub fee: Amount,
    /// The outputs it spends, in input order (`None` for an input with neither key nor script).
    pub spent_outputs: Vec<Option<TxOut>>,
    /// Which inputs were signed here.
    pub signed: Vec<bool>,
    /// Each party's change, if it has an output.
    pub changes: Vec<Option<Amount>>,
}

/// The N-of-N key of these parties.
pub fn group(keys: &[bitcoin::secp256k1::PublicKey]) -> Result<Group, FactoryError> {
    Group::new(keys).ok_or_else(|| FactoryError::Signing("the keys do not aggregate".into()))
}

/// The factory's output script: P2TR of the group's tweaked key.
pub fn factory_script(group: &Group) -> ScriptBuf {
    let (x, _) = group.output_key().x_only_public_key();
    ScriptBuf::new_p2tr_tweaked(TweakedPublicKey::dangerous_assume_tweaked(x))
}

/// Weight of a transaction spending one key-path input to outputs with
/// scripts of these lengths.
fn key_path_weight(output_script_lens: impl IntoIterator<Item = usize>) -> Weight {
    predict_weight(
        [InputWeightPrediction::P2TR_KEY_DEFAULT_SIGHASH],
        output_script_lens,
    )
}

/// The fee at `feerate` on `weight`, charged on whole vbytes as Core does.
fn fee_for(feerate: FeeRate, weight: Weight) -> Amount {
    feerate
        .fee_vb(weight.to_vbytes_ceil())
        .unwrap_or(Amount::MAX)
}

fn unsigned(input: OutPoint, sequence: Sequence, output: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: input,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        }],
        output,
    }
}

/// Build the hook: every party's coins in, the factory output and each
/// party's change out. The fee is shared evenly; each party's change pays
/// its share.
pub fn create<C: Signing>(secp: &Secp256k1<C>, req: &HookRequest) -> Result<Hook, FactoryError> {
    let n = req.parties.len();
    if n < 2 {
        return Err(FactoryError::TooFewParties(n));
    }
    for (second, p) in req.parties.iter().enumerate() {
        if let Some(first) = req.parties[..second]
            .iter()
            .position(|q| q.pubkey == p.pubkey)
        {
            return Err(FactoryError::DuplicateKey { first, second });
        }
    }
    if req.inputs.len() != n {
        return Err(FactoryError::Length {
            field: "inputs",
            expected: n,
            per: "party",
            got: req.inputs.len(),
        });
    }
    let group = group(&req.parties.iter().map(|p| p.pubkey).collect::<Vec<_>>())?;
    let script = factory_script(&group);

    let mut all_inputs = Vec::new();
    let mut spent = Vec::new();
    let mut available = Vec::with_capacity(n);
    for (party, inputs) in req.inputs.iter().enumerate() {
        if inputs.is_empty() {
            return Err(FactoryError::NoInputs { party });
        }
        let (sum, outs) =
            funding::spent_outputs(secp, inputs).map_err(|e| FactoryError::Input {
                party,
                reason: e.to_string(),
            })?;
        available.push(sum);
        all_inputs.extend(inputs.iter().cloned());
        spent.extend(outs);
    }
    let mut lens = vec![SCRIPT_34];
    lens.extend(req.parties.iter().map(|p| p.payout_script.len()));
    let fee = fee_for(req.feerate, funding::predicted_weight(&all_inputs, &lens));
    let shares = split_evenly(fee, n);

    let hook_amount = req
        .parties
        .iter()
        .try_fold(Amount::ZERO, |s, p| s.checked_add(p.amount))
        .filter(|a| *a <= Amount::MAX_MONEY)
        .ok_or(FactoryError::Overflow("parties[].amount_sat"))?;
    let mut output = vec![TxOut {
        value: hook_amount,
        script_pubkey: script,
    }];
    let mut changes = Vec::with_capacity(n);
    for (party, p) in req.parties.iter().enumerate() {
        let needed = p.amount + shares[party];
        let change = available[party]
            .checked_sub(needed)
            .ok_or(FactoryError::Insufficient {
                party,
                available: available[party].to_sat(),
                needed: needed.to_sat(),
            })?;
        // Change below dust goes to the fee, as a wallet does.
        let kept = (change >= p.payout_script.minimal_non_dust()).then_some(change);
        if let Some(value) = kept {
            output.push(TxOut {
                value,
                script_pubkey: p.payout_script.clone(),
            });
        }
        changes.push(kept);
    }
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: funding::unsigned_inputs(&all_inputs),
        output,
    };
    let signed = funding::sign_inputs(secp, &mut tx, &all_inputs, &spent).map_err(|e| {
        FactoryError::Input {
            party: 0,
            reason: e.to_string(),
        }
    })?;
    let paid: Amount = tx.output.iter().map(|o| o.value).sum();
    let fee = available.iter().copied().sum::<Amount>() - paid;

    let mut factory = Factory {
        parties: req.parties.clone(),
        hook_txid: tx.compute_txid(),
        hook_vout: 0,
        hook_amount,
        layer: req.layer,
        feerate_sat_per_vb: req.feerate.to_sat_per_vb_ceil(),
        claims: vec![],
        kickoff: None,
        allocation: None,
    };
    let kickoff_shares = split_evenly(kickoff_fee(&factory), n);
    factory.claims = req
        .parties
        .iter()
        .zip(kickoff_shares)
        .enumerate()
        .map(|(party, (p, fee))| {
            p.amount.checked_sub(fee).ok_or(FactoryError::Overdrawn {
                party,
                allocated: fee.to_sat(),
                owned: p.amount.to_sat(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Hook {
        factory,
        tx,
        fee,
        spent_outputs: spent,
        signed,
        changes,
    })
}

/// The hook output.
pub fn hook_outpoint(f: &Factory) -> OutPoint {
    OutPoint::new(f.hook_txid, f.hook_vout)
}

/// The hook output as a `TxOut`, for signing and verifying its spends.
pub fn hook_output(f: &Factory) -> Result<TxOut, FactoryError> {
    Ok(TxOut {
        value: f.hook_amount,
        script_pubkey: factory_script(&group(&f.keys())?),
    })
}

/// The kickoff's fee.
pub fn kickoff_fee(f: &Factory) -> Amount {
    fee_for(f.feerate(), key_path_weight([SCRIPT_34]))
}

/// The kickoff, unsigned: the hook output to one output of the same key.
pub fn kickoff_unsigned(f: &Factory) -> Result<Transaction, FactoryError> {
    let value = f
        .hook_amount
        .checked_sub(kickoff_fee(f))
        .ok_or(FactoryError::Overflow("hook_amount_sat"))?;
    Ok(unsigned(
        hook_outpoint(f),
        Sequence::ENABLE_RBF_NO_LOCKTIME,
        vec![TxOut {
            value,
            script_pubkey: factory_script(&group(&f.keys())?),
        }],
    ))
}

/// Sign input 0 of `tx`, which spends `prevout` by the group's key path.
pub fn sign_key_path<C: Signing>(
    secp: &Secp256k1<C>,
    group: &Group,
    tx: &mut Transaction,
    prevout: &TxOut,
    keys: &[SecretKey],
    seed: &mut dyn FnMut(usize) -> [u8; 32],
) -> Result<(), FactoryError> {
    let digest = SighashCache::new(&*tx)
        .taproot_key_spend_signature_hash(0, &Prevouts::All(&[prevout]), TapSighashType::Default)
        .expect("input 0 exists and its one prevout is given")
        .to_byte_array();
    let sig = group
        .sign_all(secp, keys, digest, &mut *seed)
        .map_err(|e| FactoryError::Signing(e.to_string()))?;
    let sig = bitcoin::taproot::Signature {
        signature: sig,
        sighash_type: TapSighashType::Default,
    };
    tx.input[0].witness = Witness::p2tr_key_spend(&sig);
    Ok(())
}

/// What the parties agree an allocation holds.
#[derive(Clone, Debug)]
pub struct AllocationRequest {
    /// The channels.
    pub channels: Vec<Channel>,
    /// Each party's unallocated share; `None` works them out from what each
    /// party owns, less its channels and its share of the fee.
    pub shares: Option<Vec<Amount>>,
}

fn check_channels(f: &Factory, channels: &[Channel]) -> Result<Vec<Amount>, FactoryError> {
    let n = f.parties.len();
    let mut sides = vec![Amount::ZERO; n];
    let dust = ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::all_zeros()).minimal_non_dust();
    for (channel, c) in channels.iter().enumerate() {
        for &party in &c.parties {
            if party >= n {
                return Err(FactoryError::UnknownParty {
                    channel,
                    party,
                    count: n,
                });
            }
        }
        if c.parties[0] == c.parties[1] {
            return Err(FactoryError::SelfChannel { channel });
        }
        let capacity = c.amounts[0]
            .checked_add(c.amounts[1])
            .ok_or(FactoryError::Overflow("channels[].amounts_sat"))?;
        if capacity < dust {
            return Err(FactoryError::ChannelDust {
                channel,
                capacity: capacity.to_sat(),
                dust: dust.to_sat(),
            });
        }
        for side in 0..2 {
            let p = c.parties[side];
            sides[p] = sides[p]
                .checked_add(c.amounts[side])
                .ok_or(FactoryError::Overflow("channels[].amounts_sat"))?;
        }
    }
    Ok(sides)
}

/// The outputs of an allocation: the channels, then the non-zero shares.
fn allocation_outputs(f: &Factory, channels: &[Channel], shares: &[Amount]) -> Vec<TxOut> {
    let mut out: Vec<TxOut> = channels
        .iter()
        .map(|c| TxOut {
            value: c.capacity(),
            script_pubkey: c.funding_script().to_p2wsh(),
        })
        .collect();
    for (p, share) in f.parties.iter().zip(shares) {
        if *share > Amount::ZERO {
            out.push(TxOut {
                value: *share,
                script_pubkey: p.payout_script.clone(),
            });
        }
    }
    out
}

fn allocation_fee(f: &Factory, channels: &[Channel], with_share: &[bool]) -> Amount {
    let lens = channels.iter().map(|_| SCRIPT_34).chain(
        f.parties
            .iter()
            .zip(with_share)
            .filter(|(_, s)| **s)
            .map(|(p, _)| p.payout_script.len()),
    );
    fee_for(f.feerate(), key_path_weight(lens))
}

/// The fee split over the parties marked `payers` (all of them if none is).
fn fee_shares(fee: Amount, payers: &[bool]) -> Vec<Amount> {
    let count = payers.iter().filter(|p| **p).count();
    let all = count == 0;
    let mut split = split_evenly(fee, if all { payers.len() } else { count }).into_iter();
    payers
        .iter()
        .map(|p| {
            if all || *p {
                split.next().unwrap_or(Amount::ZERO)
            } else {
                Amount::ZERO
            }
        })
        .collect()
}

fn check_shares_dust(f: &Factory, shares: &[Amount]) -> Result<(), FactoryError> {
    for (party, (p, share)) in f.parties.iter().zip(shares).enumerate() {
        let dust = p.payout_script.minimal_non_dust();
        if *share > Amount::ZERO && *share < dust {
            return Err(FactoryError::ShareDust {
                party,
                amount: share.to_sat(),
                dust: dust.to_sat(),
            });
        }
    }
    Ok(())
}

/// The next allocation: checked against what each party owns, built at the
/// next lower timelock, and signed by all (with the kickoff, the first time).
pub fn allocate<C: Signing>(
    secp: &Secp256k1<C>,
    f: &Factory,
    req: AllocationRequest,
    keys: &[SecretKey],
    seed: &mut dyn FnMut(usize) -> [u8; 32],
) -> Result<Factory, FactoryError> {
    f.validate()?;
    let number = f.allocation.as_ref().map_or(0, |a| a.number + 1);
    let delay = f
        .layer
        .delay(number)
        .map_err(|_| FactoryError::OutOfSteps {
            number,
            steps: f.layer.steps,
            left: f.layer.left_after(number.saturating_sub(1)),
        })?;
    let n = f.parties.len();
    let sides = check_channels(f, &req.channels)?;
    let kickoff = kickoff_unsigned(f)?;
    let pool = kickoff.output[0].value;

    let (shares, claims) = match req.shares {
        Some(shares) => {
            if shares.len() != n {
                return Err(FactoryError::Length {
                    field: "shares_sat",
                    expected: n,
                    per: "party",
                    got: shares.len(),
                });
            }
            let payers: Vec<bool> = shares.iter().map(|s| *s > Amount::ZERO).collect();
            let fee = allocation_fee(f, &req.channels, &payers);
            let sum = |v: &[Amount]| {
                v.iter()
                    .try_fold(Amount::ZERO, |s, a| s.checked_add(*a))
                    .ok_or(FactoryError::Overflow("shares_sat"))
            };
            let (channels, shared) = (sum(&sides)?, sum(&shares)?);
            let allocated = channels
                .checked_add(shared)
                .ok_or(FactoryError::Overflow("shares_sat"))?;
            let available = pool.checked_sub(fee).unwrap_or(Amount::ZERO);
            if allocated != available {
                let difference = if allocated < available {
                    format!("{} sat short", (available - allocated).to_sat())
                } else {
                    format!("{} sat too many", (allocated - available).to_sat())
                };
                return Err(FactoryError::Mismatch {
                    allocated: allocated.to_sat(),
                    channels: channels.to_sat(),
                    shares: shared.to_sat(),
                    hook: f.hook_amount.to_sat(),
                    kickoff_fee: (f.hook_amount - pool).to_sat(),
                    allocation_fee: fee.to_sat(),
                    available: available.to_sat(),
                    difference,
                });
            }
            let fees = fee_shares(fee, &payers);
            let claims = (0..n).map(|i| shares[i] + sides[i] + fees[i]).collect();
            (shares, claims)
        }
        None => {
            let before_fee = f
                .claims
                .iter()
                .zip(&sides)
                .enumerate()
                .map(|(party, (claim, side))| {
                    claim.checked_sub(*side).ok_or(FactoryError::Overdrawn {
                        party,
                        allocated: side.to_sat(),
                        owned: claim.to_sat(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let payers: Vec<bool> = before_fee.iter().map(|s| *s > Amount::ZERO).collect();
            let fees = fee_shares(allocation_fee(f, &req.channels, &payers), &payers);
            let mut shares = Vec::with_capacity(n);
            for party in 0..n {
                shares.push(before_fee[party].checked_sub(fees[party]).ok_or(
                    FactoryError::Overdrawn {
                        party,
                        allocated: (sides[party] + fees[party]).to_sat(),
                        owned: f.claims[party].to_sat(),
                    },
                )?);
            }
            (shares, f.claims.clone())
        }
    };
    check_shares_dust(f, &shares)?;

    let group = group(&f.keys())?;
    let signed_kickoff = match &f.kickoff {
        Some(k) => k.clone(),
        None => {
            let mut k = kickoff;
            sign_key_path(secp, &group, &mut k, &hook_output(f)?, keys, seed)?;
            k
        }
    };
    let mut tx = unsigned(
        OutPoint::new(signed_kickoff.compute_txid(), 0),
        Sequence::from_height(delay),
        allocation_outputs(f, &req.channels, &shares),
    );
    sign_key_path(secp, &group, &mut tx, &signed_kickoff.output[0], keys, seed)?;

    let mut next = f.clone();
    next.claims = claims;
    next.kickoff = Some(signed_kickoff);
    next.allocation = Some(Allocation {
        number,
        delay_blocks: delay,
        channels: req.channels,
        shares,
        tx,
    });
    Ok(next)
}

/// Move the channels' balances to where their payments left them:
/// `balances[k]` is channel k's new split, in the order of its parties.
pub fn settle(f: &Factory, balances: &[Option<[Amount; 2]>]) -> Result<Factory, FactoryError> {
    f.validate()?;
    let alloc = f.allocation.as_ref().ok_or(FactoryError::NoAllocation)?;
    if balances.len() > alloc.channels.len() {
        return Err(FactoryError::Length {
            field: "balances",
            expected: alloc.channels.len(),
            per: "channel of the allocation",
            got: balances.len(),
        });
    }
    let mut next = f.clone();
    for (channel, new) in balances.iter().enumerate() {
        let Some(new) = new else { continue };
        let c = &alloc.channels[channel];
        let given = new[0]
            .checked_add(new[1])
            .ok_or(FactoryError::Overflow("balances"))?;
        if given != c.capacity() {
            return Err(FactoryError::BalanceMismatch {
                channel,
                given: given.to_sat(),
                capacity: c.capacity().to_sat(),
            });
        }
        for ((p, old), new) in c.parties.iter().zip(c.amounts).zip(new) {
            // The side's claim moves by what its balance moved; it cannot go
            // below zero, as a balance cannot.
            next.claims[*p] = next.claims[*p]
                .checked_sub(old)
                .and_then(|rest| rest.checked_add(*new))
                .ok_or(FactoryError::Overflow("balances"))?;
        }
        if let Some(a) = next.allocation.as_mut() {
            a.channels[channel].amounts = *new;
        }
    }
    Ok(next)
}

/// The cooperative close, signed by all.
#[derive(Clone, Debug)]
pub struct Close {
    /// Spends the hook output; one output per party with a payout above dust.
    pub tx: Transaction,
    /// Each party's payout (zero where it was dust, left to the fee).
    pub payouts: Vec<Amount>,
    /// The fee.
    pub fee: Amount,
}

/// Close the factory cooperatively: everything each party owns, in one
/// transaction spending the hook output directly (the kickoff and the
/// allocations are never broadcast).
pub fn close<C: Signing>(
    secp: &Secp256k1<C>,
    f: &Factory,
    keys: &[SecretKey],
    seed: &mut dyn FnMut(usize) -> [u8; 32],
) -> Result<Close, FactoryError> {
    f.validate()?;
    let n = f.parties.len();
    // The kickoff is never paid for: its fee share goes back to each party.
    let kickoff_shares = split_evenly(kickoff_fee(f), n);
    let owned: Vec<Amount> = (0..n).map(|i| f.claims[i] + kickoff_shares[i]).collect();
    let payers: Vec<bool> = owned.iter().map(|a| *a > Amount::ZERO).collect();
    let lens = f
        .parties
        .iter()
        .zip(&payers)
        .filter(|(_, s)| **s)
        .map(|(p, _)| p.payout_script.len());
    let fee = fee_for(f.feerate(), key_path_weight(lens));
    let fees = fee_shares(fee, &payers);
    let mut payouts = Vec::with_capacity(n);
    let mut output = Vec::new();
    for (party, p) in f.parties.iter().enumerate() {
        let payout = owned[party]
            .checked_sub(fees[party])
            .unwrap_or(Amount::ZERO);
        let payout = if payout >= p.payout_script.minimal_non_dust() {
            output.push(TxOut {
                value: payout,
                script_pubkey: p.payout_script.clone(),
            });
            payout
        } else {
            Amount::ZERO
        };
        payouts.push(payout);
    }
    let mut tx = unsigned(hook_outpoint(f), Sequence::ENABLE_RBF_NO_LOCKTIME, output);
    let group = group(&f.keys())?;
    sign_key_path(secp, &group, &mut tx, &hook_output(f)?, keys, seed)?;
    let fee = f.hook_amount - payouts.iter().copied().sum::<Amount>();
    Ok(Close { tx, payouts, fee })
}
