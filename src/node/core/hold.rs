//! Hold invoices (LND's `addholdinvoice`, `settleinvoice`, `cancelinvoice`):
//! the node is given only a payment hash, and the HTLCs paying it wait,
//! committed but unanswered, until the preimage or a cancellation comes.
//! A held HTLC that goes on chain is claimed once the preimage arrives.

use super::*;

impl Core {
    fn hold_invoice(&self, field: &str, hash: &PaymentHash) -> Result<InvoiceRecord, RpcError> {
        let inv = self
            .store
            .invoice(&hex::encode(hash.0))
            .map_err(RpcError::failed)?
            .ok_or_else(|| RpcError::param(field, "no invoice has this payment hash"))?;
        if !inv.hold {
            return Err(RpcError::param(field, "the invoice is not a hold invoice"));
        }
        if inv.canceled {
            return Err(RpcError::param(field, "the invoice was cancelled"));
        }
        Ok(inv)
    }

    fn held(&self, hash: &PaymentHash) -> Vec<(ChannelId, channel::UpdateAddHtlc)> {
        self.channels
            .values()
            .flat_map(|c| {
                c.unresolved_incoming()
                    .into_iter()
                    .filter(|a| a.payment_hash == *hash)
                    .map(|a| (c.id, a.clone()))
            })
            .collect()
    }

    pub(super) fn settleinvoice(
        &mut self,
        r: rpc::SettleinvoiceRequest,
    ) -> Result<Value, RpcError> {
        let preimage = PaymentPreimage(rpc::hex32("preimage", &r.preimage)?);
        let hash = preimage.payment_hash();
        let mut inv = self.hold_invoice("preimage", &hash)?;
        if inv.preimage.is_empty() {
            inv.preimage = hex::encode(preimage.0);
            let b = self.store.batch().map_err(RpcError::failed)?;
            b.put_invoice(&inv).map_err(RpcError::failed)?;
            b.commit().map_err(RpcError::failed)?;
        }
        for (id, add) in self.held(&hash) {
            inv.record_htlc(id.to_string(), add.id, add.amount, now_secs());
            info!(label = %inv.label, htlc = add.id, "hold invoice settled");
            self.staged_invoices.push(inv.clone());
            // After a restart the arrival is unknown: hold time 0 ("lacks accurate timing", BOLT 4).
            let hold = self
                .held_since
                .remove(&(id, add.id))
                .map_or(0, receive::hold_time);
            let ss = pay::attribution_secret(&self.node_signer, &add);
            let ev = pay::fulfill_event(add.id, preimage, ss.as_ref(), hold);
            if let Err(e) = self.drive(id, ev) {
                debug!(channel = %id, "held HTLC not fulfilled off chain: {e}");
                self.staged_invoices.clear();
            }
        }
        // HTLCs already on chain are claimed with it (BOLT 5).
        let on_chain: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.onchain.as_ref().is_some_and(|r| !r.is_resolved()))
            .map(|c| c.id)
            .collect();
        for id in on_chain {
            self.provide_onchain_preimage(id, preimage);
        }
        to_value(rpc::EmptyResponse {})
    }

    pub(super) fn cancelinvoice(
        &mut self,
        r: rpc::CancelinvoiceRequest,
    ) -> Result<Value, RpcError> {
        let hash = PaymentHash(rpc::hex32("payment_hash", &r.payment_hash)?);
        let mut inv = self.hold_invoice("payment_hash", &hash)?;
        if !inv.preimage.is_empty() {
            return Err(RpcError::param("payment_hash", "the invoice is settled"));
        }
        inv.canceled = true;
        let b = self.store.batch().map_err(RpcError::failed)?;
        b.put_invoice(&inv).map_err(RpcError::failed)?;
        b.commit().map_err(RpcError::failed)?;
        for (channel, add) in self.held(&hash) {
            self.held_since.remove(&(channel, add.id));
            for (id, ev) in self.decide(&add) {
                let _ = self.drive(id, ev);
            }
        }
        to_value(rpc::EmptyResponse {})
    }
}
