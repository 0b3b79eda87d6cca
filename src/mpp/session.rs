//! One payment's loop, sans I/O: plan parts for what is still to send,
//! within what is left of the fee budget, then take each part's outcome
//! (BOLT 4 "Basic Multi-Part Payments": the writer SHOULD retry and/or
//! re-divide HTLCs which fail). `simulate` drives it against hidden
//! balances; the node drives it against the network.
//!
//! The invariants a payer must keep: what is delivered and in flight never
//! exceeds the amount, and the fees of what is delivered and in flight never
//! exceed the budget. Every plan is made from what is left of both.

use std::collections::HashMap;

use super::{split, SplitError, SplitRequest};
use crate::graph::Graph;
use crate::route::{find_route, Route, RouteError, RouteRequest};

/// How parts are planned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// Always split by min-cost flow (`amp-split`), one part or many.
    Split,
    /// One path (`route`) when its success probability is at least this;
    /// else split, when the payee takes multi-part payments.
    SinglePathFirst {
        /// The probability below which a single path is not worth trying alone.
        min_probability: f64,
        /// Whether the payee accepts several parts (`basic_mpp`).
        mpp: bool,
    },
}

/// Why no more parts can be planned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Out of attempts.
    #[error("out of attempts ({0})")]
    Attempts(usize),
    /// Nothing to plan: the amount is delivered or in flight.
    #[error("nothing left to send")]
    NothingLeft,
    /// The cheapest way found costs more than what is left of the budget.
    #[error("the cheapest route found pays {cheapest_fee_msat} msat in fees, above the {budget_msat} msat left of the fee budget")]
    FeeBudget {
        /// The cheapest fee found.
        cheapest_fee_msat: u64,
        /// What was left of the budget.
        budget_msat: u64,
    },
    /// No route or split reaches the payee with what is known.
    #[error("{0}")]
    Unreachable(String),
}

/// A payment under way.
#[derive(Clone, Debug)]
pub struct PaymentSession {
    /// The request every plan starts from (amount and fee budget are the whole payment's).
    pub request: SplitRequest,
    /// How parts are planned.
    pub strategy: Strategy,
    /// At most this many plans.
    pub max_attempts: usize,
    /// Plans made.
    pub attempts: usize,
    /// Delivered by settled parts, msat.
    pub delivered_msat: u64,
    /// Fees of settled parts.
    pub fee_paid_msat: u64,
    /// In flight, msat (what the payee is to get).
    pub in_flight_msat: u64,
    /// Fees of the parts in flight.
    pub in_flight_fee_msat: u64,
    /// Parts sent.
    pub parts_tried: usize,
    /// Parts that failed.
    pub parts_failed: usize,
    /// Each plan's solve time, µs (splits only).
    pub solve_us: Vec<u64>,
}

impl PaymentSession {
    /// A payment of `request.amount_msat` within `request.max_fee_msat`.
    pub fn new(request: SplitRequest, strategy: Strategy, max_attempts: usize) -> Self {
        PaymentSession {
            request,
            strategy,
            max_attempts,
            attempts: 0,
            delivered_msat: 0,
            fee_paid_msat: 0,
            in_flight_msat: 0,
            in_flight_fee_msat: 0,
            parts_tried: 0,
            parts_failed: 0,
            solve_us: vec![],
        }
    }

    /// Still to be sent: neither delivered nor in flight.
    pub fn remaining_msat(&self) -> u64 {
        self.request.amount_msat - self.delivered_msat - self.in_flight_msat
    }

    /// What is left of the fee budget for new parts.
    pub fn fee_budget_left_msat(&self) -> u64 {
        self.request.max_fee_msat - self.fee_paid_msat - self.in_flight_fee_msat
    }

    /// Every msat delivered.
    pub fn is_complete(&self) -> bool {
        self.delivered_msat == self.request.amount_msat
    }

    /// No part is in flight.
    pub fn is_idle(&self) -> bool {
        self.in_flight_msat == 0
    }

    /// Plan parts for what remains, against `g` with `liquidity` known;
    /// the parts are counted in flight until their outcome is given.
    pub fn plan(
        &mut self,
        g: &Graph,
        liquidity: HashMap<u32, (u64, u64)>,
    ) -> Result<Vec<Route>, PlanError> {
        let amount = self.remaining_msat();
        if amount == 0 {
            return Err(PlanError::NothingLeft);
        }
        if self.attempts >= self.max_attempts {
            return Err(PlanError::Attempts(self.max_attempts));
        }
        self.attempts += 1;
        let budget = self.fee_budget_left_msat();
        let mut req = self.request.clone();
        req.amount_msat = amount;
        req.max_fee_msat = budget;
        req.liquidity = liquidity;
        let parts = match self.strategy {
            Strategy::Split => self.split(g, &req)?,
            Strategy::SinglePathFirst {
                min_probability,
                mpp,
            } => match find_route(g, &route_request(&req)) {
                Ok(r) if r.probability >= min_probability || !mpp => vec![r],
                Ok(r) => match self.split(g, &req) {
                    Ok(parts) => parts,
                    // The flow found nothing better: the one path it is.
                    Err(_) => vec![r],
                },
                Err(_) if mpp => self.split(g, &req)?,
                Err(e) => return Err(self.no_single_route(g, &req, e)),
            },
        };
        for p in &parts {
            self.in_flight_msat += p.hops.last().map_or(0, |h| h.amount_msat);
            self.in_flight_fee_msat += p.total_fee_msat;
            self.parts_tried += 1;
        }
        Ok(parts)
    }

    fn split(&mut self, g: &Graph, req: &SplitRequest) -> Result<Vec<Route>, PlanError> {
        match split(g, req) {
            Ok(s) => {
                self.solve_us.push(s.solver.time_us);
                Ok(s.parts)
            }
            Err(SplitError::FeeBudget { min_fee_msat, .. }) => Err(PlanError::FeeBudget {
                cheapest_fee_msat: min_fee_msat,
                budget_msat: req.max_fee_msat,
            }),
            Err(e) => Err(PlanError::Unreachable(e.to_string())),
        }
    }

    /// Why one path does not do: the fee budget, when a route exists without it.
    fn no_single_route(&self, g: &Graph, req: &SplitRequest, e: RouteError) -> PlanError {
        let mut unbounded = route_request(req);
        unbounded.max_fee_msat = u64::MAX;
        match find_route(g, &unbounded) {
            Ok(r) if r.total_fee_msat > req.max_fee_msat => PlanError::FeeBudget {
                cheapest_fee_msat: r.total_fee_msat,
                budget_msat: req.max_fee_msat,
            },
            _ => PlanError::Unreachable(e.to_string()),
        }
    }

    /// A part arrived.
    pub fn part_settled(&mut self, part: &Route) {
        let (amount, fee) = (Self::delivers(part), part.total_fee_msat);
        self.in_flight_msat -= amount;
        self.in_flight_fee_msat -= fee;
        self.delivered_msat += amount;
        self.fee_paid_msat += fee;
    }

    /// A part failed: its amount and fee are free to plan again.
    pub fn part_failed(&mut self, part: &Route) {
        self.in_flight_msat -= Self::delivers(part);
        self.in_flight_fee_msat -= part.total_fee_msat;
        self.parts_failed += 1;
    }

    fn delivers(part: &Route) -> u64 {
        part.hops.last().map_or(0, |h| h.amount_msat)
    }
}

/// The single-path request matching a split request.
pub fn route_request(req: &SplitRequest) -> RouteRequest {
    let mut r = RouteRequest::new(req.source, req.destination, req.amount_msat);
    r.final_cltv_expiry_delta = req.final_cltv_expiry_delta;
    r.max_fee_msat = req.max_fee_msat;
    r.max_total_cltv_expiry_delta = req.max_total_cltv_expiry_delta;
    r.max_hops = req.max_hops;
    r.liquidity = req.liquidity.clone();
    r.probability_weight = req.probability_weight;
    r
}
