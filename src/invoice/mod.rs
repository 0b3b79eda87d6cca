//! BOLT 11 "Invoice Protocol for Lightning Payments": the bech32 invoice
//! string, its tagged fields, and its recoverable signature.
//!
//! `ln` + currency prefix + optional amount is the human-readable part; the
//! data part is a 35-bit timestamp, tagged fields (5-bit type, 10-bit length,
//! data), and a 65-byte signature (r || s || recovery id) over
//! SHA256(hrp bytes || data words regrouped into bytes).

pub mod json;

use bitcoin::bech32::primitives::checksum::Checksum;
use bitcoin::bech32::primitives::decode::CheckedHrpstring;
use bitcoin::bech32::primitives::iter::Fe32IterExt;
use bitcoin::bech32::{Fe32, Hrp};
use bitcoin::secp256k1::ecdsa::{RecoverableSignature, RecoveryId, Signature};
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey, Signing, Verification};
use sha2::{Digest, Sha256};

use crate::wire::features;

/// BIP 173's checksum, without its 90-character limit: invoices are longer.
/// (bech32's own extension point for custom lengths.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bolt11Bech32 {}

impl Checksum for Bolt11Bech32 {
    type MidstateRepr = u32;
    const CODE_LENGTH: usize = 7089;
    const CHECKSUM_LENGTH: usize = 6;
    // BIP 173's generator and residue (the same as `bech32::Bech32`).
    const GENERATOR_SH: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    const TARGET_RESIDUE: u32 = 1;
}

/// The currency prefixes BOLT 11 defines.
pub const CURRENCIES: [&str; 4] = ["bcrt", "tbs", "bc", "tb"];

/// A route hint hop (`r` field): 51 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteHop {
    /// The node.
    pub pubkey: PublicKey,
    /// The channel out of it.
    pub short_channel_id: u64,
    /// `fee_base_msat`.
    pub fee_base_msat: u32,
    /// `fee_proportional_millionths`.
    pub fee_proportional_millionths: u32,
    /// `cltv_expiry_delta`.
    pub cltv_expiry_delta: u16,
}

/// A tagged field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// `p` (1): the payment hash.
    PaymentHash([u8; 32]),
    /// `s` (16): the payment secret.
    PaymentSecret([u8; 32]),
    /// `d` (13): a UTF-8 description.
    Description(String),
    /// `h` (23): SHA256 of a longer description.
    DescriptionHash([u8; 32]),
    /// `n` (19): the payee's pubkey.
    PayeePubkey(PublicKey),
    /// `x` (6): expiry, seconds.
    Expiry(u64),
    /// `c` (24): `min_final_cltv_expiry_delta`.
    MinFinalCltvExpiryDelta(u64),
    /// `f` (9): an on-chain fallback: version (17 P2PKH, 18 P2SH, 0-16 witness) and program.
    Fallback {
        /// The 5-bit version.
        version: u8,
        /// The hash or witness program.
        program: Vec<u8>,
    },
    /// `r` (3): one route hint.
    RouteHint(Vec<RouteHop>),
    /// `9` (5): feature bits.
    Features(Vec<u16>),
    /// `m` (27): payment metadata.
    Metadata(Vec<u8>),
    /// A field a reader skips: an unknown tag, or a known one with the wrong length.
    Skipped {
        /// The 5-bit tag.
        tag: u8,
        /// Its 5-bit words.
        words: Vec<u8>,
    },
}

/// Tag letters, by 5-bit value (the bech32 alphabet).
pub fn tag_char(tag: u8) -> char {
    Fe32::try_from(tag).map(|f| f.to_char()).unwrap_or('?')
}

/// An invoice: what is signed, and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invoice {
    /// `bc`, `tb`, `tbs` or `bcrt`.
    pub currency: String,
    /// The amount, if any.
    pub amount_msat: Option<u64>,
    /// Seconds since 1970.
    pub timestamp: u64,
    /// Tagged fields, in order.
    pub fields: Vec<Field>,
}

/// A decoded, checked invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The invoice.
    pub invoice: Invoice,
    /// The payee: from `n`, or recovered from the signature.
    pub payee: PublicKey,
    /// Whether the payee came from an `n` field.
    pub payee_from_n: bool,
    /// r || s.
    pub signature: [u8; 64],
    /// The recovery id.
    pub recovery_id: u8,
    /// The signed preimage: hrp bytes || data regrouped into bytes.
    pub signing_data: Vec<u8>,
}

/// Why a string is not a valid invoice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// The bech32 layer: checksum, mixed case, no separator, bad characters.
    #[error("bech32: {0}")]
    Bech32(String),
    /// The human-readable part must start with `ln` and a known currency.
    #[error("unknown network prefix in {0:?} (expected lnbc, lntb, lntbs or lnbcrt)")]
    Prefix(String),
    /// The amount is malformed.
    #[error("amount {0:?}: {1}")]
    Amount(String, &'static str),
    /// Too short for a timestamp and a signature.
    #[error("too short: {0} data words, at least 111 needed (timestamp and signature)")]
    TooShort(usize),
    /// A field runs past the data.
    #[error("tagged field {0} runs past the end of the data")]
    FieldTruncated(char),
    /// A required field is absent.
    #[error("required field {0} is missing")]
    Missing(&'static str),
    /// An unknown required feature.
    #[error("unknown required feature bit {0}")]
    UnknownFeature(u16),
    /// The signature does not verify against `n`, or does not recover.
    #[error("signature: {0}")]
    Signature(&'static str),
    /// A value that does not fit its field when encoding.
    #[error("cannot encode field: {0}")]
    Encode(&'static str),
}

/// Regroup 5-bit words into bytes, dropping the incomplete last bits.
pub fn words_to_bytes(words: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(words.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0);
    for w in words {
        acc = (acc << 5) | u32::from(*w);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Regroup bytes into 5-bit words, zero-padding the last.
pub fn bytes_to_words(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(((acc >> bits) & 31) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(((acc << (5 - bits)) & 31) as u8);
    }
    out
}

fn words_to_int(words: &[u8]) -> u64 {
    words.iter().fold(0u64, |a, w| (a << 5) | u64::from(*w))
}

fn int_to_words(mut v: u64, min_len: usize) -> Vec<u8> {
    let mut out = vec![];
    while v > 0 || out.len() < min_len {
        out.push((v & 31) as u8);
        v >>= 5;
    }
    out.reverse();
    out
}

/// msat per unit of each multiplier (1 BTC = 10^11 msat; `p` is a tenth of a msat).
fn parse_amount(s: &str) -> Result<Option<u64>, InvoiceError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = |why| InvoiceError::Amount(s.to_string(), why);
    let (digits, mult) = match s.chars().last() {
        Some(c @ ('m' | 'u' | 'n' | 'p')) => (&s[..s.len() - 1], Some(c)),
        Some(c) if c.is_ascii_digit() => (s, None),
        _ => return Err(bad("invalid multiplier (expected m, u, n or p)")),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("expected digits before the multiplier"));
    }
    // u128: a pico-BTC amount has one digit more than the msat it stands for.
    let n: u128 = digits.parse().map_err(|_| bad("too large"))?;
    let msat = match mult {
        None => n.checked_mul(100_000_000_000),
        Some('m') => n.checked_mul(100_000_000),
        Some('u') => n.checked_mul(100_000),
        Some('n') => n.checked_mul(100),
        _ => {
            if !n.is_multiple_of(10) {
                return Err(bad(
                    "sub-millisatoshi precision: a pico-BTC amount must be a multiple of 10",
                ));
            }
            Some(n / 10)
        }
    };
    let msat = msat.and_then(|m| u64::try_from(m).ok());
    msat.map(Some).ok_or_else(|| bad("too large"))
}

/// The shortest amount string for `msat`.
pub fn amount_string(msat: u64) -> String {
    for (mult, unit) in [
        ("", 100_000_000_000u64),
        ("m", 100_000_000),
        ("u", 100_000),
        ("n", 100),
    ] {
        if msat.is_multiple_of(unit) {
            return format!("{}{mult}", msat / unit);
        }
    }
    // msat * 10 pico-BTC, written as a string so it cannot overflow.
    format!("{msat}0p")
}

fn bytes32(words: &[u8]) -> [u8; 32] {
    words_to_bytes(words)[..32]
        .try_into()
        .expect("52 words hold 32 bytes")
}

/// BOLT 11 "Tagged Fields", reader side: a known field with the wrong length
/// (or an unknown fallback version) is skipped, not rejected.
fn parse_field(tag: u8, w: &[u8]) -> Result<Field, InvoiceError> {
    let skip = || Field::Skipped {
        tag,
        words: w.to_vec(),
    };
    Ok(match tag {
        1 if w.len() == 52 => Field::PaymentHash(bytes32(w)),
        16 if w.len() == 52 => Field::PaymentSecret(bytes32(w)),
        23 if w.len() == 52 => Field::DescriptionHash(bytes32(w)),
        19 if w.len() == 53 => match PublicKey::from_slice(&words_to_bytes(w)) {
            Ok(p) => Field::PayeePubkey(p),
            Err(_) => skip(),
        },
        13 => match String::from_utf8(words_to_bytes(w)) {
            Ok(d) => Field::Description(d),
            Err(_) => skip(),
        },
        6 if w.len() <= 12 => Field::Expiry(words_to_int(w)),
        24 if w.len() <= 12 => Field::MinFinalCltvExpiryDelta(words_to_int(w)),
        9 if !w.is_empty() && matches!(w[0], 0..=18) => Field::Fallback {
            version: w[0],
            program: words_to_bytes(&w[1..]),
        },
        3 => {
            let b = words_to_bytes(w);
            if b.is_empty() || !b.len().is_multiple_of(51) {
                return Ok(skip());
            }
            let mut hops = vec![];
            for h in b.chunks(51) {
                let Ok(pubkey) = PublicKey::from_slice(&h[..33]) else {
                    return Ok(skip());
                };
                hops.push(RouteHop {
                    pubkey,
                    short_channel_id: u64::from_be_bytes(h[33..41].try_into().expect("8")),
                    fee_base_msat: u32::from_be_bytes(h[41..45].try_into().expect("4")),
                    fee_proportional_millionths: u32::from_be_bytes(
                        h[45..49].try_into().expect("4"),
                    ),
                    cltv_expiry_delta: u16::from_be_bytes(h[49..51].try_into().expect("2")),
                });
            }
            Field::RouteHint(hops)
        }
        5 => {
            let n = w.len();
            Field::Features(
                (0..(n * 5) as u16)
                    .filter(|b| w[n - 1 - (*b as usize / 5)] & (1 << (b % 5)) != 0)
                    .collect(),
            )
        }
        27 => Field::Metadata(words_to_bytes(w)),
        _ => skip(),
    })
}

fn field_words(f: &Field) -> Result<(u8, Vec<u8>), InvoiceError> {
    Ok(match f {
        Field::PaymentHash(h) => (1, bytes_to_words(h)),
        Field::PaymentSecret(s) => (16, bytes_to_words(s)),
        Field::DescriptionHash(h) => (23, bytes_to_words(h)),
        Field::PayeePubkey(p) => (19, bytes_to_words(&p.serialize())),
        Field::Description(d) => (13, bytes_to_words(d.as_bytes())),
        Field::Expiry(x) => (6, int_to_words(*x, 1)),
        Field::MinFinalCltvExpiryDelta(c) => (24, int_to_words(*c, 1)),
        Field::Fallback { version, program } => {
            let mut w = vec![*version];
            w.extend(bytes_to_words(program));
            (9, w)
        }
        Field::RouteHint(hops) => {
            let mut b = vec![];
            for h in hops {
                b.extend(h.pubkey.serialize());
                b.extend(h.short_channel_id.to_be_bytes());
                b.extend(h.fee_base_msat.to_be_bytes());
                b.extend(h.fee_proportional_millionths.to_be_bytes());
                b.extend(h.cltv_expiry_delta.to_be_bytes());
            }
            (3, bytes_to_words(&b))
        }
        Field::Features(bits) => {
            let n = bits.iter().max().map(|m| *m as usize / 5 + 1).unwrap_or(0);
            let mut w = vec![0u8; n];
            for b in bits {
                w[n - 1 - (*b as usize / 5)] |= 1 << (b % 5);
            }
            (5, w)
        }
        Field::Metadata(m) => (27, bytes_to_words(m)),
        Field::Skipped { tag, words } => (*tag, words.clone()),
    })
}

/// BOLT 11 `x`: the expiry when the field is absent, in seconds.
pub const DEFAULT_EXPIRY_SECS: u64 = 3600;
/// BOLT 11 `c`: `min_final_cltv_expiry_delta` when the field is absent.
pub const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA: u64 = 18;

impl Invoice {
    /// The payment hash: the first `p` field (a reader skips later ones).
    pub fn payment_hash(&self) -> Option<[u8; 32]> {
        self.fields.iter().find_map(|f| match f {
            Field::PaymentHash(h) => Some(*h),
            _ => None,
        })
    }

    /// Seconds from `timestamp` until it expires (`x`, default 3600).
    pub fn expiry_secs(&self) -> u64 {
        self.fields
            .iter()
            .rev()
            .find_map(|f| match f {
                Field::Expiry(x) => Some(*x),
                _ => None,
            })
            .unwrap_or(DEFAULT_EXPIRY_SECS)
    }

    /// When it expires, UNIX seconds.
    pub fn expires_at(&self) -> u64 {
        self.timestamp.saturating_add(self.expiry_secs())
    }

    /// `min_final_cltv_expiry_delta` (`c`, default 18).
    pub fn min_final_cltv_expiry_delta(&self) -> u64 {
        self.fields
            .iter()
            .rev()
            .find_map(|f| match f {
                Field::MinFinalCltvExpiryDelta(c) => Some(*c),
                _ => None,
            })
            .unwrap_or(DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA)
    }

    /// The human-readable part: `ln` + currency + amount.
    pub fn hrp(&self) -> String {
        format!(
            "ln{}{}",
            self.currency,
            self.amount_msat.map(amount_string).unwrap_or_default()
        )
    }

    /// The data words before the signature: timestamp (35 bits), then each tagged field.
    pub fn data_words(&self) -> Result<Vec<u8>, InvoiceError> {
        if self.timestamp >= 1 << 35 {
            return Err(InvoiceError::Encode("timestamp is above 2^35"));
        }
        let mut w = int_to_words(self.timestamp, 7);
        for f in &self.fields {
            let (tag, data) = field_words(f)?;
            if data.len() >= 1024 {
                return Err(InvoiceError::Encode("a field is longer than 1023 words"));
            }
            w.push(tag);
            w.push((data.len() >> 5) as u8);
            w.push((data.len() & 31) as u8);
            w.extend(data);
        }
        Ok(w)
    }

    /// SHA256 of the signed preimage: hrp bytes || data words regrouped into bytes.
    pub fn signing_data(hrp: &str, words: &[u8]) -> Vec<u8> {
        let mut d = hrp.as_bytes().to_vec();
        // Regrouped into bytes, the last one zero-padded: ceil(5 * words / 8) bytes.
        let mut padded = words.to_vec();
        padded.extend([0u8; 2]);
        let mut bytes = words_to_bytes(&padded);
        bytes.truncate((words.len() * 5).div_ceil(8));
        d.extend(bytes);
        d
    }

    /// Sign (RFC 6979, deterministic) and encode the invoice string.
    pub fn sign<C: Signing>(
        &self,
        secp: &Secp256k1<C>,
        key: &SecretKey,
    ) -> Result<String, InvoiceError> {
        let hrp = self.hrp();
        let mut words = self.data_words()?;
        let digest: [u8; 32] = Sha256::digest(Self::signing_data(&hrp, &words)).into();
        let (rid, sig) = secp
            .sign_ecdsa_recoverable(&Message::from_digest(digest), key)
            .serialize_compact();
        let mut sig65 = sig.to_vec();
        sig65.push(rid.to_i32() as u8);
        words.extend(bytes_to_words(&sig65));
        let hrp = Hrp::parse(&hrp).map_err(|_| InvoiceError::Encode("human-readable part"))?;
        let fes = words
            .into_iter()
            .map(|w| Fe32::try_from(w).expect("5-bit words"));
        Ok(fes.with_checksum::<Bolt11Bech32>(&hrp).chars().collect())
    }
}

/// Decode and check an invoice string (any case, but not mixed).
pub fn decode<C: Verification>(secp: &Secp256k1<C>, s: &str) -> Result<Decoded, InvoiceError> {
    let checked = CheckedHrpstring::new::<Bolt11Bech32>(s)
        .map_err(|e| InvoiceError::Bech32(e.to_string()))?;
    let hrp = checked.hrp().to_lowercase();
    let rest = hrp
        .strip_prefix("ln")
        .ok_or_else(|| InvoiceError::Prefix(hrp.clone()))?;
    let currency = CURRENCIES
        .iter()
        .find(|c| rest.starts_with(**c))
        .ok_or_else(|| InvoiceError::Prefix(hrp.clone()))?;
    let amount_msat = parse_amount(&rest[currency.len()..])?;
    let words: Vec<u8> = checked
        .fe32_iter::<std::iter::Empty<u8>>()
        .map(|f| f.to_u8())
        .collect();
    if words.len() < 7 + 104 {
        return Err(InvoiceError::TooShort(words.len()));
    }
    let (data, sig_words) = words.split_at(words.len() - 104);
    let timestamp = words_to_int(&data[..7]);
    let mut fields = vec![];
    let mut pos = 7;
    while pos < data.len() {
        let tag = data[pos];
        if pos + 3 > data.len() {
            return Err(InvoiceError::FieldTruncated(tag_char(tag)));
        }
        let len = (usize::from(data[pos + 1]) << 5) | usize::from(data[pos + 2]);
        let body = data
            .get(pos + 3..pos + 3 + len)
            .ok_or(InvoiceError::FieldTruncated(tag_char(tag)))?;
        fields.push(parse_field(tag, body)?);
        pos += 3 + len;
    }
    let sig_bytes = words_to_bytes(sig_words);
    let (sig, rid) = (
        <[u8; 64]>::try_from(&sig_bytes[..64]).expect("64"),
        sig_bytes[64],
    );
    let signing_data = Invoice::signing_data(&hrp, data);
    let msg = Message::from_digest(Sha256::digest(&signing_data).into());
    let n = fields.iter().find_map(|f| match f {
        Field::PayeePubkey(p) => Some(*p),
        _ => None,
    });
    let payee = match n {
        Some(p) => {
            // With `n`, the signature must verify as it is: a high-S one does not (libsecp refuses it).
            let sig = Signature::from_compact(&sig)
                .map_err(|_| InvoiceError::Signature("not a valid signature encoding"))?;
            secp.verify_ecdsa(&msg, &sig, &p).map_err(|_| {
                InvoiceError::Signature(
                    "does not verify against the n field (a high-S signature is refused)",
                )
            })?;
            p
        }
        None => {
            // BOLT 11: normalise a high-S signature to low-S before recovering.
            let mut norm = Signature::from_compact(&sig)
                .map_err(|_| InvoiceError::Signature("not a valid signature encoding"))?;
            norm.normalize_s();
            let rid = RecoveryId::from_i32(i32::from(rid))
                .map_err(|_| InvoiceError::Signature("recovery id is not 0-3"))?;
            let rec = RecoverableSignature::from_compact(&norm.serialize_compact(), rid)
                .map_err(|_| InvoiceError::Signature("not recoverable"))?;
            secp.recover_ecdsa(&msg, &rec)
                .map_err(|_| InvoiceError::Signature("not recoverable"))?
        }
    };
    let invoice = Invoice {
        currency: currency.to_string(),
        amount_msat,
        timestamp,
        fields,
    };
    // BOLT 11 reader: a valid `p` and `s` are required, and no unknown even feature.
    if !invoice
        .fields
        .iter()
        .any(|f| matches!(f, Field::PaymentHash(_)))
    {
        return Err(InvoiceError::Missing("p (payment_hash)"));
    }
    if !invoice
        .fields
        .iter()
        .any(|f| matches!(f, Field::PaymentSecret(_)))
    {
        return Err(InvoiceError::Missing("s (payment_secret)"));
    }
    for f in &invoice.fields {
        if let Field::Features(bits) = f {
            if let Some(b) = bits
                .iter()
                .find(|b| **b % 2 == 0 && !features::FEATURES.iter().any(|(even, _)| even == *b))
            {
                return Err(InvoiceError::UnknownFeature(*b));
            }
        }
    }
    Ok(Decoded {
        invoice,
        payee,
        payee_from_n: n.is_some(),
        signature: sig,
        recovery_id: rid,
        signing_data,
    })
}

/// The network of a currency prefix.
pub fn network(currency: &str) -> bitcoin::Network {
    match currency {
        "bc" => bitcoin::Network::Bitcoin,
        "tbs" => bitcoin::Network::Signet,
        "bcrt" => bitcoin::Network::Regtest,
        _ => bitcoin::Network::Testnet,
    }
}

/// A fallback (`f` field) as an address: 17 P2PKH, 18 P2SH, 0-16 a witness program.
pub fn fallback_address(
    version: u8,
    program: &[u8],
    network: bitcoin::Network,
) -> Option<bitcoin::Address> {
    use bitcoin::hashes::Hash;
    match version {
        17 => Some(bitcoin::Address::p2pkh(
            bitcoin::PubkeyHash::from_slice(program).ok()?,
            network,
        )),
        18 => bitcoin::Address::p2sh_from_hash(
            bitcoin::ScriptHash::from_slice(program).ok()?,
            network,
        )
        .into(),
        v => {
            let wv = bitcoin::WitnessVersion::try_from(v).ok()?;
            let wp = bitcoin::WitnessProgram::new(wv, program).ok()?;
            Some(bitcoin::Address::from_witness_program(wp, network))
        }
    }
}

/// A fallback address as an `f` field.
pub fn fallback_field(address: &bitcoin::Address) -> Option<Field> {
    use bitcoin::address::AddressData;
    use bitcoin::hashes::Hash;
    match address.to_address_data() {
        AddressData::P2pkh { pubkey_hash } => Some(Field::Fallback {
            version: 17,
            program: pubkey_hash.to_byte_array().to_vec(),
        }),
        AddressData::P2sh { script_hash } => Some(Field::Fallback {
            version: 18,
            program: script_hash.to_byte_array().to_vec(),
        }),
        AddressData::Segwit { witness_program } => Some(Field::Fallback {
            version: witness_program.version().to_num(),
            program: witness_program.program().as_bytes().to_vec(),
        }),
        _ => None,
    }
}
