//! The node's watchtower client: one task per tower (`--tower URL`) that
//! hands it the node's appointments in order, over teos's HTTP API.
//!
//! The appointments themselves are made by the node's core when a peer
//! revokes a commitment, and stored (pending) with that step. This task
//! only carries them: it registers the node's tower key when the tower does
//! not know it (or its subscription ran out), checks the tower's signed
//! receipt, and, while the tower is unreachable, retries the same
//! appointment with a growing pause — nothing is skipped, and a restart
//! starts again from the store's pending rows.

use std::collections::VecDeque;
use std::time::Duration;

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::message_signing;
use crate::tower::http::{post, status_text};
use crate::tower::service::codes;

/// One appointment to hand over: its locator (hex) and the request body.
#[derive(Clone, Debug)]
pub struct Job {
    /// The locator, hex.
    pub locator: String,
    /// `{appointment, signature}`.
    pub body: Value,
}

/// What a tower task reports to the core.
#[derive(Clone, Debug)]
pub enum Report {
    /// The tower registered us: its key, our slots and expiry.
    Registered {
        /// The tower.
        url: String,
        /// Its key, recovered from its receipt.
        tower_id: PublicKey,
        /// Slots we have there.
        available_slots: u32,
        /// The height our subscription ends at.
        subscription_expiry: u32,
    },
    /// It took an appointment, with a receipt signed by its key.
    Accepted {
        /// The tower.
        url: String,
        /// The appointment's locator.
        locator: String,
    },
    /// It refused one for good (its error), or its receipt did not verify.
    Refused {
        /// The tower.
        url: String,
        /// The appointment's locator.
        locator: String,
        /// Why.
        error: String,
    },
    /// It could not be reached, or asked us to come back later.
    Unreachable {
        /// The tower.
        url: String,
        /// What happened.
        error: String,
    },
}

/// The longest pause between two attempts while a tower is down.
const MAX_BACKOFF: Duration = Duration::from_secs(16);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Start the task for the tower at `url`; jobs go in through the sender.
/// `report` says whether anyone still listens: the task ends when not.
pub fn spawn(
    url: String,
    user: SecretKey,
    report: impl Fn(Report) -> bool + Send + 'static,
) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(url, user, rx, report));
    tx
}

enum Step {
    Done,
    Retry(String),
    Reregister,
}

async fn run(
    url: String,
    user: SecretKey,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    report: impl Fn(Report) -> bool + Send + 'static,
) {
    let secp = Secp256k1::new();
    let user_id = PublicKey::from_secret_key(&secp, &user);
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut tower_id: Option<PublicKey> = None;
    let mut backoff = Duration::from_millis(250);
    // A 401 right after registering is the tower's final word on that job.
    let mut fresh_registration = false;
    loop {
        if queue.is_empty() {
            match jobs.recv().await {
                Some(j) => queue.push_back(j),
                None => return,
            }
        }
        while let Ok(j) = jobs.try_recv() {
            queue.push_back(j);
        }
        let step = match tower_id {
            None => match register(&url, &user_id).await {
                Ok(r) => {
                    if let Report::Registered { tower_id: id, .. } = &r {
                        tower_id = Some(*id);
                    }
                    fresh_registration = true;
                    if !report(r) {
                        return;
                    }
                    continue;
                }
                Err(e) => Step::Retry(e),
            },
            Some(id) => {
                let job = queue.front().expect("not empty");
                match post(&url, "add_appointment", &job.body, REQUEST_TIMEOUT).await {
                    Err(e) => Step::Retry(e.to_string()),
                    Ok((200, v)) => {
                        if !report(receipt(&url, job, &v, &id, &secp)) {
                            return;
                        }
                        Step::Done
                    }
                    Ok((401, _)) if !fresh_registration => Step::Reregister,
                    Ok((429, v)) | Ok((503, v)) => Step::Retry(error_of(&v)),
                    Ok((s, v)) if s >= 500 => {
                        Step::Retry(format!("{}: {}", status_text(s), error_of(&v)))
                    }
                    Ok((_, v)) => {
                        if !report(Report::Refused {
                            url: url.clone(),
                            locator: job.locator.clone(),
                            error: error_of(&v),
                        }) {
                            return;
                        }
                        Step::Done
                    }
                }
            }
        };
        match step {
            Step::Done => {
                queue.pop_front();
                backoff = Duration::from_millis(250);
                fresh_registration = false;
            }
            Step::Reregister => tower_id = None,
            Step::Retry(error) => {
                if !report(Report::Unreachable {
                    url: url.clone(),
                    error,
                }) {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn error_of(v: &Value) -> String {
    match (v["error"].as_str(), v["error_code"].as_u64()) {
        (Some(e), Some(c)) => format!("{e} (error_code {c})"),
        _ => v.to_string(),
    }
}

/// `register`, and the tower's key from its signed receipt.
async fn register(url: &str, user_id: &PublicKey) -> Result<Report, String> {
    let (status, v) = post(
        url,
        "register",
        &json!({"user_id": user_id.to_string()}),
        REQUEST_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!(
            "register: {}: {}",
            status_text(status),
            error_of(&v)
        ));
    }
    let field = |f: &str| v[f].as_u64().and_then(|n| u32::try_from(n).ok());
    let (Some(slots), Some(start), Some(expiry), Some(sig)) = (
        field("available_slots"),
        field("subscription_start"),
        field("subscription_expiry"),
        v["subscription_signature"].as_str(),
    ) else {
        return Err(format!("register: an answer without its receipt: {v}"));
    };
    // teos's registration receipt: user_id || slots || start || expiry, big-endian.
    let mut signed = user_id.serialize().to_vec();
    for n in [slots, start, expiry] {
        signed.extend(n.to_be_bytes());
    }
    let tower_id = message_signing::recover(&Secp256k1::verification_only(), &signed, sig)
        .map_err(|e| format!("register: the receipt's signature: {e}"))?;
    Ok(Report::Registered {
        url: url.to_string(),
        tower_id,
        available_slots: slots,
        subscription_expiry: expiry,
    })
}

/// An `add_appointment` answer: accepted only with a receipt the tower signed
/// (teos: our signature's text || start_block), so it cannot deny it later.
fn receipt(
    url: &str,
    job: &Job,
    v: &Value,
    tower_id: &PublicKey,
    secp: &Secp256k1<bitcoin::secp256k1::All>,
) -> Report {
    let refused = |error: String| Report::Refused {
        url: url.to_string(),
        locator: job.locator.clone(),
        error,
    };
    let (Some(start), Some(sig), Some(ours)) = (
        v["start_block"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok()),
        v["signature"].as_str(),
        job.body["signature"].as_str(),
    ) else {
        return refused(format!("an answer without a receipt: {v}"));
    };
    let mut signed = ours.as_bytes().to_vec();
    signed.extend(start.to_be_bytes());
    if !message_signing::verify(secp, &signed, sig, tower_id) {
        return refused(format!(
            "the receipt is not signed by the tower's key {tower_id} (error_code {})",
            codes::INVALID_SIGNATURE_OR_SUBSCRIPTION_ERROR
        ));
    }
    Report::Accepted {
        url: url.to_string(),
        locator: job.locator.clone(),
    }
}
