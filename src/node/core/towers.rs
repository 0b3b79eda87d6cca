//! The node's side of the watchtower (BOLT 13 draft): for every commitment a
//! peer revokes, the penalty that takes all of it (built by the toolkit's
//! sweep builder, paying our wallet), encrypted into an appointment for each
//! `--tower`, stored pending with the step that learned the revocation, and
//! handed over by the tower's task (`node::watchtower`).

use super::*;
use crate::channel::onchain::{FundingSpend, Role};
use crate::message_signing;
use crate::node::watchtower::{self, Job, Report};
use crate::tower::appointment::Appointment;

/// What the core keeps of its towers.
#[derive(Default)]
pub(super) struct Towers {
    /// Each tower's task, by URL.
    links: BTreeMap<String, mpsc::UnboundedSender<Job>>,
    /// What each last said.
    status: BTreeMap<String, Status>,
    /// The key we are known by to towers.
    user: Option<SecretKey>,
    /// The wallet script each channel's penalties pay (one per channel and run).
    destinations: HashMap<ChannelId, ScriptBuf>,
}

/// One appointment made for one tower: stored pending, then handed over.
pub(super) struct Made {
    /// The tower's URL.
    pub tower: String,
    /// The locator.
    pub locator: Vec<u8>,
    /// The request body, `{appointment, signature}`.
    pub body: String,
}

#[derive(Default, Clone)]
struct Status {
    tower_id: Option<PublicKey>,
    reachable: Option<bool>,
    last_error: Option<String>,
    available_slots: Option<u32>,
    subscription_expiry: Option<u32>,
}

impl Core {
    /// Start a task per tower, and hand each what is still pending for it.
    pub(super) fn start_towers(&mut self) {
        if self.opts.towers.is_empty() {
            return;
        }
        self.towers.user = Some(self.seed.tower_user_key());
        for url in self.opts.towers.clone() {
            let inputs = self.inputs.clone();
            let link = watchtower::spawn(url.clone(), self.seed.tower_user_key(), move |r| {
                inputs.send(Input::Tower(r)).is_ok()
            });
            match self.store.tower_appointments(&url, 0) {
                Ok(pending) => {
                    for (locator, body) in pending {
                        if let Ok(body) = serde_json::from_str(&body) {
                            let _ = link.send(Job {
                                locator: hex::encode(locator),
                                body,
                            });
                        }
                    }
                }
                Err(e) => warn!(tower = %url, "cannot read its pending appointments: {e}"),
            }
            self.towers.links.insert(url.clone(), link);
            self.towers.status.insert(url, Status::default());
        }
    }

    /// The appointments for commitment `number` of `ch`, which the peer just
    /// revoked: `(tower, locator, body)` for every tower. None when the
    /// commitment was not stored whole (signed before towers were
    /// configured) or nothing in it is worth its own fee.
    pub(super) fn tower_appointments(
        &mut self,
        ch: &Channel,
        signer: &ChannelSigner,
        number: u64,
    ) -> Vec<Made> {
        let Some(user) = self.towers.user else {
            return vec![];
        };
        let (tx, htlcs) = match self.store.remote_commitment_tx(&ch.id, number) {
            Ok(Some(found)) => found,
            Ok(None) => {
                warn!(channel = %ch.id, number, "revoked commitment not stored whole: no appointment for it");
                return vec![];
            }
            Err(e) => {
                warn!(channel = %ch.id, number, "cannot read the revoked commitment: {e}");
                return vec![];
            }
        };
        // The same resolution the node would run were it online: every
        // output the revocation key takes (BOLT 5 "Revoked Transaction Close").
        let r = ch.resolution(signer, &tx, &htlcs);
        if !matches!(r.spend, FundingSpend::Revoked { .. }) {
            warn!(channel = %ch.id, number, kind = r.spend.name(), "not a revoked commitment: no appointment");
            return vec![];
        }
        let claims: Vec<_> = r
            .outputs
            .iter()
            .filter(|w| w.role == Role::Penalty)
            .filter_map(|w| w.claim.clone())
            .collect();
        if claims.is_empty() {
            return vec![];
        }
        let destination = match self.towers.destinations.get(&ch.id) {
            Some(d) => d.clone(),
            None => match self.wallet.new_address(false) {
                Ok(a) => {
                    let d = a.script_pubkey();
                    self.towers.destinations.insert(ch.id, d.clone());
                    d
                }
                Err(e) => {
                    warn!("no wallet address for a penalty: {e}");
                    return vec![];
                }
            },
        };
        let penalty = match signer.sign_claims(&claims, &destination, self.opts.tower_feerate) {
            Ok(p) => p,
            Err(e) => {
                debug!(channel = %ch.id, number, "no penalty worth handing to a tower: {e}");
                return vec![];
            }
        };
        let a = Appointment::new(
            &penalty,
            &tx.compute_txid(),
            u32::from(ch.ours.to_self_delay),
        );
        let body = serde_json::json!({
            "appointment": &a,
            "signature": message_signing::sign(&self.secp, &a.signed_bytes(), &user),
        })
        .to_string();
        debug!(channel = %ch.id, number, locator = %a.locator, penalty = %penalty.compute_txid(), "appointment made");
        self.opts
            .towers
            .iter()
            .map(|t| Made {
                tower: t.clone(),
                locator: a.locator.0.to_vec(),
                body: body.clone(),
            })
            .collect()
    }

    /// Hand stored appointments to their towers' tasks.
    pub(super) fn hand_to_towers(&mut self, made: Vec<Made>) {
        for m in made {
            if let (Some(link), Ok(body)) = (
                self.towers.links.get(&m.tower),
                serde_json::from_str(&m.body),
            ) {
                let _ = link.send(Job {
                    locator: hex::encode(m.locator),
                    body,
                });
            }
        }
    }

    pub(super) fn on_tower_report(&mut self, r: Report) {
        let (url, state, locator, error) = match r {
            Report::Registered {
                url,
                tower_id,
                available_slots,
                subscription_expiry,
            } => {
                info!(tower = %url, %tower_id, available_slots, subscription_expiry, "registered with the tower");
                let s = self.towers.status.entry(url).or_default();
                s.tower_id = Some(tower_id);
                s.reachable = Some(true);
                s.available_slots = Some(available_slots);
                s.subscription_expiry = Some(subscription_expiry);
                return;
            }
            Report::Unreachable { url, error } => {
                debug!(tower = %url, "tower unreachable: {error}");
                let s = self.towers.status.entry(url).or_default();
                s.reachable = Some(false);
                s.last_error = Some(error);
                return;
            }
            Report::Accepted { url, locator } => (url, 1, locator, None),
            Report::Refused {
                url,
                locator,
                error,
            } => {
                warn!(tower = %url, %locator, "the tower refused an appointment: {error}");
                (url, 2, locator, Some(error))
            }
        };
        let s = self.towers.status.entry(url.clone()).or_default();
        s.reachable = Some(true);
        if error.is_some() {
            s.last_error = error.clone();
        }
        let Ok(bytes) = hex::decode(&locator) else {
            return;
        };
        if let Err(e) = self
            .store
            .set_tower_appointment(&url, &bytes, state, error.as_deref())
        {
            warn!(tower = %url, "cannot record the tower's answer: {e}");
        }
    }

    pub(super) fn listtowers(&self, _: rpc::ListtowersRequest) -> Result<Value, RpcError> {
        let mut towers = vec![];
        for url in &self.opts.towers {
            let [pending, appointments, refused] =
                self.store.tower_counts(url).map_err(RpcError::failed)?;
            let s = self.towers.status.get(url).cloned().unwrap_or_default();
            towers.push(rpc::TowerInfo {
                url: url.clone(),
                tower_id: s.tower_id.map(|k| k.to_string()),
                appointments,
                pending,
                refused,
                reachable: s.reachable,
                last_error: s.last_error,
                available_slots: s.available_slots,
                subscription_expiry: s.subscription_expiry,
            });
        }
        to_value(rpc::ListtowersResponse { towers })
    }
}
