//! A BOLT 8 connection over any byte stream: the three acts, then framed,
//! encrypted messages. Generic over `Read + Write` so the same code runs on a
//! TCP socket, in a test over loopback, or on an in-memory pipe.

use std::io::{Read, Write};

use bitcoin::secp256k1::{PublicKey, Secp256k1, SecretKey};

use super::noise::{
    self, HandshakeError, Transport, TransportError, ACT_ONE_LEN, ACT_THREE_LEN, ACT_TWO_LEN,
};

/// A connection failure.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A message failed to decrypt.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
}

/// An authenticated, encrypted connection.
pub struct Peer<S> {
    stream: S,
    transport: Transport,
}

impl<S: Read + Write> Peer<S> {
    /// Connect as the initiator to the node whose static key is `remote`.
    pub fn connect(
        mut stream: S,
        local: &SecretKey,
        remote: &PublicKey,
        ephemeral: &SecretKey,
    ) -> Result<Self, PeerError> {
        let secp = Secp256k1::new();
        let (act1, st) = noise::initiator_act1(&secp, local, remote, ephemeral);
        stream.write_all(&act1)?;
        let mut act2 = [0u8; ACT_TWO_LEN];
        stream.read_exact(&mut act2)?;
        let (act3, transport) = noise::initiator_act2_act3(&secp, &st, &act2, remote)?;
        stream.write_all(&act3)?;
        stream.flush()?;
        Ok(Peer { stream, transport })
    }

    /// Accept a connection as the responder; the initiator's static key is then known.
    pub fn accept(
        mut stream: S,
        local: &SecretKey,
        ephemeral: &SecretKey,
    ) -> Result<Self, PeerError> {
        let secp = Secp256k1::new();
        let mut act1 = [0u8; ACT_ONE_LEN];
        stream.read_exact(&mut act1)?;
        let st = noise::responder_act1(&secp, local, &act1)?;
        let (act2, st) = noise::responder_act2(&secp, &st, ephemeral);
        stream.write_all(&act2)?;
        stream.flush()?;
        let mut act3 = [0u8; ACT_THREE_LEN];
        stream.read_exact(&mut act3)?;
        let transport = noise::responder_act3(&st, &act3)?;
        Ok(Peer { stream, transport })
    }

    /// The other side's static key.
    pub fn remote_static(&self) -> PublicKey {
        self.transport.remote_static
    }

    /// Send one message (its type included).
    pub fn send(&mut self, message: &[u8]) -> Result<(), PeerError> {
        let framed = self.transport.encrypt(message)?;
        self.stream.write_all(&framed)?;
        self.stream.flush()?;
        Ok(())
    }

    /// Receive one message.
    pub fn recv(&mut self) -> Result<Vec<u8>, PeerError> {
        let mut header = [0u8; 18];
        self.stream.read_exact(&mut header)?;
        let len = self.transport.decrypt_length(&header)?;
        let mut body = vec![0u8; len + 16];
        self.stream.read_exact(&mut body)?;
        Ok(self.transport.decrypt_body(&body, len)?)
    }

    /// The underlying stream (to set timeouts).
    pub fn stream(&self) -> &S {
        &self.stream
    }
}
