//! BOLT 2 "Channel Establishment v1": `open_channel`, `accept_channel`,
//! `funding_created`, `funding_signed` and `channel_ready`, in both roles.

use super::*;

impl Channel {
    /// A channel as `open_channel` defines it, before anything happened.
    /// `their_point` is the peer's first per-commitment point when known.
    pub(super) fn skeleton(
        r: OpenRequest,
        opener: Side,
        ours: ChannelParams,
        their_point: PublicKey,
    ) -> Channel {
        let funding = Msat::from_sat(r.funding).expect("funding fits in msat");
        let opener_balance = Msat(funding.0 - r.push.0);
        let (local, remote) = match opener {
            Side::Local => (opener_balance, r.push),
            Side::Remote => (r.push, opener_balance),
        };
        Channel {
            id: r.temporary_id,
            temporary_id: r.temporary_id,
            key_index: r.key_index,
            peer: r.peer,
            opener,
            phase: match opener {
                Side::Local => Phase::AwaitingAccept,
                Side::Remote => Phase::AwaitingFundingCreated,
            },
            chain_hash: r.chain_hash,
            channel_type: r.channel_type,
            announce: r.announce,
            alias_only: false,
            funding_amount: r.funding,
            push: r.push,
            funding_outpoint: None,
            funding_tx: None,
            minimum_depth: r.config.minimum_depth,
            config: r.config,
            ours,
            theirs: None,
            negotiated: r.negotiated,
            ledger: Ledger::new(opener, local, remote, r.feerate),
            their_points: (their_point, None),
            local_signatures: None,
            their_secrets: shachain::Store::new(),
            last_sent: None,
            scid: None,
            our_alias: None,
            their_alias: None,
            ready_sent: false,
            their_ready: false,
            live: true,
            holding: vec![],
            unsent: 0,
            shutdown: ShutdownState::default(),
            failure: None,
            incoming: Default::default(),
            onchain: None,
            gossip: Default::default(),
        }
    }

    pub(super) fn params(
        signer: &ChannelSigner,
        config: &Config,
        reserve: Amount,
        max_in_flight: Msat,
        channel_type: ChannelType,
    ) -> ChannelParams {
        ChannelParams {
            dust_limit: config.dust_limit,
            max_htlc_value_in_flight: max_in_flight,
            channel_reserve: reserve,
            htlc_minimum: config.htlc_minimum,
            to_self_delay: config.to_self_delay,
            max_accepted_htlcs: config.max_accepted_htlcs,
            pubkeys: signer.pubkeys(),
            first_per_commitment_point: signer.per_commitment_point(CommitmentNumber(0)).0,
            upfront_shutdown_script: ScriptBuf::new(),
            channel_type: Some(channel_type_bits(channel_type)),
        }
    }

    /// Open a channel: the new channel and its `open_channel`.
    pub fn open(signer: &ChannelSigner, r: OpenRequest) -> (Channel, Vec<Action>) {
        let reserve = r.config.reserve(r.funding, Amount::ZERO);
        let max_in_flight = Msat::from_sat(r.funding).expect("funding fits in msat");
        let ours = Self::params(signer, &r.config, reserve, max_in_flight, r.channel_type);
        let open = OpenChannel {
            chain_hash: r.chain_hash,
            temporary_channel_id: r.temporary_id,
            funding: r.funding,
            push: r.push,
            feerate: r.feerate,
            channel_flags: u8::from(r.announce),
            params: ours.clone(),
        };
        // Their first per-commitment point arrives in accept_channel; until then
        // nothing signs for them, and the slot holds a stand-in.
        let ch = Channel::skeleton(r, Side::Local, ours, signer.funding_pubkey());
        (ch, vec![Action::Send(ChannelMessage::Open(Box::new(open)))])
    }

    /// Accept a peer's `open_channel`: the channel and its `accept_channel`,
    /// or the `error` that refuses it (BOLT 2 "The open_channel Message").
    pub fn accept(
        signer: &ChannelSigner,
        peer: PublicKey,
        key_index: u64,
        our_chain: BlockHash,
        open: &OpenChannel,
        negotiated: Negotiated,
        config: Config,
    ) -> Result<(Channel, Vec<Action>), Refusal> {
        let refuse = |reason: String| Refusal {
            temporary_channel_id: open.temporary_channel_id,
            reason,
        };
        let p = &open.params;
        let (channel_type, alias_only) = match &p.channel_type {
            None => return Err(refuse("open_channel: channel_type is required".into())),
            Some(bits) => match channel_type_parts(bits) {
                Some((ChannelType::AnchorsZeroFeeHtlcTx, _)) if !negotiated.anchors => {
                    return Err(refuse(
                        "open_channel: channel_type anchors was not negotiated".into(),
                    ))
                }
                // BOLT 2: a channel known by aliases only is never announced.
                Some((_, true)) if open.channel_flags & 1 == 1 => return Err(refuse(
                    "open_channel: channel_type has option_scid_alias but announce_channel is set"
                        .into(),
                )),
                Some((_, true)) if !negotiated.scid_alias => {
                    return Err(refuse(
                        "open_channel: channel_type option_scid_alias was not negotiated".into(),
                    ))
                }
                Some(parts) => parts,
                None => {
                    return Err(refuse(format!(
                        "open_channel: channel_type {} is not one we support",
                        hex::encode(bits)
                    )))
                }
            },
        };
        let funding_msat =
            Msat::from_sat(open.funding).ok_or_else(|| refuse("funding overflows".into()))?;
        let (lo, hi) = config.feerate_bounds;
        let checks: [(bool, String); 10] = [
            (open.chain_hash != our_chain, "open_channel: chain_hash is not our chain".into()),
            (open.push > funding_msat, "open_channel: push_msat is above funding_satoshis * 1000".into()),
            (open.funding > MAX_FUNDING, "open_channel: funding_satoshis must be below 2^24 without option_support_large_channel".into()),
            (p.to_self_delay > config.max_to_self_delay, format!("open_channel: to_self_delay {} is above our maximum {}", p.to_self_delay, config.max_to_self_delay)),
            (p.max_accepted_htlcs > MAX_ACCEPTED_HTLCS, "open_channel: max_accepted_htlcs is above 483".into()),
            (open.feerate < lo || open.feerate > hi, format!("open_channel: feerate_per_kw {} is outside {}..={}", open.feerate.0, lo.0, hi.0)),
            (p.dust_limit > p.channel_reserve, "open_channel: dust_limit_satoshis is above channel_reserve_satoshis".into()),
            (p.dust_limit < MIN_DUST_LIMIT, "open_channel: dust_limit_satoshis is below 354".into()),
            (p.channel_reserve < config.dust_limit, "open_channel: channel_reserve_satoshis is below our dust_limit_satoshis".into()),
            (p.max_accepted_htlcs == 0, "open_channel: max_accepted_htlcs is 0".into()),
        ];
        if let Some((_, text)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(refuse(text.clone()));
        }
        let our_reserve = config.reserve(open.funding, p.dust_limit);
        let mut ours = Self::params(signer, &config, our_reserve, funding_msat, channel_type);
        // BOLT 2: accept_channel's channel_type is open_channel's.
        ours.channel_type = Some(channel_type_bits_with(channel_type, alias_only));
        let request = OpenRequest {
            peer,
            chain_hash: open.chain_hash,
            temporary_id: open.temporary_channel_id,
            key_index,
            funding: open.funding,
            push: open.push,
            feerate: open.feerate,
            channel_type,
            announce: open.channel_flags & 1 == 1,
            negotiated,
            config,
        };
        let mut ch = Channel::skeleton(
            request,
            Side::Remote,
            ours.clone(),
            p.first_per_commitment_point,
        );
        ch.theirs = Some(p.clone());
        ch.alias_only = alias_only;
        // BOLT 2: the funder must afford the first commitment's fee, and one
        // side must have more than the reserve.
        let view = ch.ledger.view(0, 0);
        if let Err(v) = ch.check_affordable(&view, Side::Remote) {
            return Err(refuse(format!("open_channel: {}", v.text)));
        }
        let reserve_sat = |m: Msat| m.to_sat_floor();
        if reserve_sat(view.local) <= p.channel_reserve && reserve_sat(view.remote) <= our_reserve {
            return Err(refuse(
                "open_channel: both balances are at or below the reserves".into(),
            ));
        }
        let accept = AcceptChannel {
            temporary_channel_id: open.temporary_channel_id,
            minimum_depth: ch.minimum_depth,
            params: ours,
        };
        ch.phase = Phase::AwaitingFundingCreated;
        Ok((
            ch,
            vec![Action::Send(ChannelMessage::Accept(Box::new(accept)))],
        ))
    }

    pub(super) fn on_accept(&mut self, a: AcceptChannel) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::AwaitingAccept {
            return Err(warn("unexpected accept_channel"));
        }
        let p = &a.params;
        match &p.channel_type {
            None => return Err(fail("accept_channel: channel_type is required")),
            Some(t) if channel_type_parts(t) != Some((self.channel_type, self.alias_only)) => {
                return Err(fail(
                    "accept_channel: channel_type does not match open_channel's",
                ))
            }
            _ => {}
        }
        let checks: [(bool, String); 7] = [
            (
                p.channel_reserve < self.ours.dust_limit,
                "accept_channel: channel_reserve_satoshis is below our dust_limit_satoshis".into(),
            ),
            (
                self.ours.channel_reserve < p.dust_limit,
                "accept_channel: our channel_reserve_satoshis is below its dust_limit_satoshis"
                    .into(),
            ),
            (
                a.minimum_depth > self.config.max_minimum_depth,
                format!(
                    "accept_channel: minimum_depth {} is above our maximum {}",
                    a.minimum_depth, self.config.max_minimum_depth
                ),
            ),
            (
                p.to_self_delay > self.config.max_to_self_delay,
                format!(
                    "accept_channel: to_self_delay {} is above our maximum",
                    p.to_self_delay
                ),
            ),
            (
                p.max_accepted_htlcs > MAX_ACCEPTED_HTLCS,
                "accept_channel: max_accepted_htlcs is above 483".into(),
            ),
            (
                p.dust_limit < MIN_DUST_LIMIT,
                "accept_channel: dust_limit_satoshis is below 354".into(),
            ),
            (
                p.dust_limit > p.channel_reserve,
                "accept_channel: dust_limit_satoshis is above channel_reserve_satoshis".into(),
            ),
        ];
        if let Some((_, text)) = checks.into_iter().find(|(bad, _)| *bad) {
            return Err(fail(text));
        }
        self.minimum_depth = a.minimum_depth;
        self.their_points.0 = p.first_per_commitment_point;
        self.theirs = Some(a.params);
        self.phase = Phase::AwaitingFundingTx;
        Ok(vec![Action::BuildFunding {
            script: self.funding_script().to_p2wsh(),
            amount: self.funding_amount,
        }])
    }

    pub(super) fn on_funding_built(
        &mut self,
        signer: &ChannelSigner,
        tx: Transaction,
        output_index: u16,
    ) -> Result<Vec<Action>, CommandError> {
        if self.phase != Phase::AwaitingFundingTx {
            return Err(CommandError::Phase(self.phase.name()));
        }
        let ok = tx.output.get(output_index as usize).is_some_and(|o| {
            o.value == self.funding_amount && o.script_pubkey == self.funding_script().to_p2wsh()
        });
        if !ok {
            return Err(CommandError::BadFunding {
                index: output_index,
                amount: self.funding_amount,
            });
        }
        let txid = tx.compute_txid();
        self.funding_outpoint = Some(OutPoint::new(txid, u32::from(output_index)));
        let c = self.ledger.remote;
        let (sig, first) = match self.sign_remote(signer, &c, self.their_points.0) {
            Ok((ChannelMessage::CommitmentSigned { signature, .. }, tx)) => (signature, tx),
            Ok(_) => unreachable!("sign_remote gives commitment_signed"),
            Err(e) => {
                return Ok(self.fail_channel(
                    signer,
                    format!("cannot build the first commitment: {e}"),
                    true,
                ))
            }
        };
        self.funding_tx = Some(tx);
        self.phase = Phase::AwaitingFundingSigned;
        // BOLT 2: funding_signed introduces the channel_id; both sides know it from here.
        self.id = ChannelId::from_funding(&txid, output_index);
        Ok(vec![
            Action::Persist,
            Action::RemoteCommitment {
                number: c.number,
                htlcs: vec![],
                tx: Box::new(first),
            },
            Action::Send(ChannelMessage::FundingCreated {
                temporary_channel_id: self.temporary_id,
                funding_txid: txid,
                funding_output_index: output_index,
                signature: sig,
            }),
        ])
    }

    pub(super) fn on_funding_created(
        &mut self,
        signer: &ChannelSigner,
        txid: Txid,
        index: u16,
        sig: ecdsa::Signature,
    ) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::AwaitingFundingCreated {
            return Err(warn("unexpected funding_created"));
        }
        self.funding_outpoint = Some(OutPoint::new(txid, u32::from(index)));
        let c = self.ledger.local;
        self.verify_local(signer, &c, &sig, &[])
            .map_err(|v| fail(v.text.replace("commitment_signed", "funding_created")))?;
        self.local_signatures = Some((sig, vec![]));
        self.id = ChannelId::from_funding(&txid, index);
        let remote = self.ledger.remote;
        let (signature, first) = match self
            .sign_remote(signer, &remote, self.their_points.0)
            .map_err(fail)?
        {
            (ChannelMessage::CommitmentSigned { signature, .. }, tx) => (signature, tx),
            _ => unreachable!("sign_remote gives commitment_signed"),
        };
        self.phase = Phase::AwaitingReady;
        // BOLT 2: the accepter must remember the channel once funding_signed is sent.
        Ok(vec![
            Action::Persist,
            Action::RemoteCommitment {
                number: remote.number,
                htlcs: vec![],
                tx: Box::new(first),
            },
            Action::Send(ChannelMessage::FundingSigned {
                channel_id: self.id,
                signature,
            }),
        ])
    }

    pub(super) fn on_funding_signed(
        &mut self,
        signer: &ChannelSigner,
        sig: ecdsa::Signature,
    ) -> Result<Vec<Action>, Violation> {
        if self.phase != Phase::AwaitingFundingSigned {
            return Err(warn("unexpected funding_signed"));
        }
        let c = self.ledger.local;
        self.verify_local(signer, &c, &sig, &[])
            .map_err(|v| fail(v.text.replace("commitment_signed", "funding_signed")))?;
        self.local_signatures = Some((sig, vec![]));
        self.phase = Phase::AwaitingReady;
        let tx = self.funding_tx.clone().expect("kept until funding_signed");
        // Persist first: the channel must survive before the funding can confirm.
        Ok(vec![Action::Persist, Action::Broadcast(tx)])
    }

    pub(super) fn on_depth(
        &mut self,
        signer: &ChannelSigner,
        confirmations: u32,
        scid: Option<u64>,
    ) -> Vec<Action> {
        if scid.is_some() {
            self.scid = scid;
        }
        if self.phase != Phase::AwaitingReady
            || self.ready_sent
            || confirmations < self.minimum_depth.max(1)
        {
            return vec![];
        }
        self.ready_sent = true;
        let mut out = vec![Action::Persist];
        if self.live {
            out.push(Action::Send(self.ready_message(signer)));
        }
        out.extend(self.maybe_normal());
        out
    }

    pub(super) fn ready_message(&self, signer: &ChannelSigner) -> ChannelMessage {
        ChannelMessage::Ready {
            channel_id: self.id,
            second_per_commitment_point: signer.per_commitment_point(CommitmentNumber(1)).0,
            alias: self.our_alias,
        }
    }

    pub(super) fn maybe_normal(&mut self) -> Vec<Action> {
        if self.phase == Phase::AwaitingReady && self.ready_sent && self.their_ready {
            self.phase = Phase::Normal;
            return vec![Action::Persist, Action::Ready];
        }
        vec![]
    }
}
