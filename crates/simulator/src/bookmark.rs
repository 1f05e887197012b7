//! Opaque, tamper-evident pagination bookmarks.
//!
//! A bookmark is standard base64 (with `+`, `/` and `=`, so a client must URL-encode it)
//! of a small binary cursor followed by a truncated HMAC-SHA256 tag. The tag covers the
//! list kind, the operation user and the list's context (board, section, filters), so a
//! bookmark forged, edited, or replayed on another list or by another user is refused.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const BODY_LEN: usize = 2 + 8 * 5;

/// The list a bookmark belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ListKind {
    /// `GET /boards`.
    Boards = 1,
    /// `GET /boards/{id}/pins`.
    BoardPins = 2,
    /// `GET /boards/{id}/sections`.
    Sections = 3,
    /// `GET /boards/{id}/sections/{id}/pins`.
    SectionPins = 4,
    /// `GET /pins`.
    Pins = 5,
    /// `GET /ad_accounts`.
    AdAccounts = 6,
}

/// A decoded cursor: the list's binding plus three position values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The list.
    pub kind: ListKind,
    /// The operation user's account id.
    pub user: u64,
    /// The list's context (board id, section id, filter hash).
    pub context: u64,
    /// Position values, meaning set by the list.
    pub pos: [u64; 3],
}

/// The server's signing key.
#[derive(Clone)]
pub struct BookmarkKey([u8; 32]);

impl BookmarkKey {
    /// A fresh random key.
    pub fn random() -> Self {
        Self(rand::random())
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// Encodes and signs a cursor.
    pub fn sign(&self, cursor: &Cursor) -> String {
        let mut buf = Vec::with_capacity(BODY_LEN + TAG_LEN);
        buf.push(VERSION);
        buf.push(cursor.kind as u8);
        buf.extend_from_slice(&cursor.user.to_be_bytes());
        buf.extend_from_slice(&cursor.context.to_be_bytes());
        for p in cursor.pos {
            buf.extend_from_slice(&p.to_be_bytes());
        }
        let tag = self.tag(&buf);
        buf.extend_from_slice(&tag);
        STANDARD.encode(buf)
    }

    /// Decodes a bookmark and checks that it is genuine and belongs to this list.
    pub fn verify(&self, text: &str, kind: ListKind, user: u64, context: u64) -> Option<[u64; 3]> {
        let bytes = STANDARD.decode(text).ok()?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let expected = self.tag(body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], tag)) {
            return None;
        }
        if body[0] != VERSION || body[1] != kind as u8 {
            return None;
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&body[2 + 8 * i..10 + 8 * i]);
            u64::from_be_bytes(w)
        };
        if word(0) != user || word(1) != context {
            return None;
        }
        Some([word(2), word(3), word(4)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            kind: ListKind::BoardPins,
            user: 7,
            context: 99,
            pos: [1, 2, 3],
        }
    }

    #[test]
    fn a_signed_bookmark_verifies_on_its_own_list() {
        let key = BookmarkKey::random();
        let text = key.sign(&cursor());
        assert_eq!(
            key.verify(&text, ListKind::BoardPins, 7, 99),
            Some([1, 2, 3])
        );
    }

    #[test]
    fn a_bookmark_is_refused_on_another_list_user_or_board() {
        let key = BookmarkKey::random();
        let text = key.sign(&cursor());
        assert!(key.verify(&text, ListKind::Pins, 7, 99).is_none());
        assert!(key.verify(&text, ListKind::BoardPins, 8, 99).is_none());
        assert!(key.verify(&text, ListKind::BoardPins, 7, 98).is_none());
    }

    #[test]
    fn an_edited_bookmark_is_refused() {
        let key = BookmarkKey::random();
        let mut bytes = STANDARD.decode(key.sign(&cursor())).unwrap();
        bytes[30] ^= 1;
        let forged = STANDARD.encode(bytes);
        assert!(key.verify(&forged, ListKind::BoardPins, 7, 99).is_none());
        assert!(
            key.verify("not a bookmark", ListKind::BoardPins, 7, 99)
                .is_none()
        );
    }
}
