//! htpasswd entries and how each kind of hash is checked, as Apache's `htpasswd` and otelcol's
//! go-htpasswd read them: bcrypt (`$2y$`, `$2a$`, `$2b$`), MD5-crypt (`$apr1$`, `$1$`), SHA-1
//! (`{SHA}`), salted SHA-1 (`{SSHA}`), and anything else as a plaintext password. Every comparison
//! of secret material is constant-time.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// One user's stored password.
#[derive(Clone)]
pub enum Entry {
    Bcrypt(String),
    /// `$apr1$` or `$1$`: the magic, the salt and the whole stored string.
    Md5Crypt {
        magic: &'static str,
        salt: String,
        stored: String,
    },
    Sha1(Vec<u8>),
    SaltedSha1 {
        digest: Vec<u8>,
        salt: Vec<u8>,
    },
    Plain(String),
    /// A format ferrotel cannot check (SHA-crypt `$5$`/`$6$`): it never matches.
    Unsupported,
}

impl Entry {
    pub fn parse(hash: &str) -> Entry {
        if ["$2y$", "$2a$", "$2b$", "$2x$"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            return Entry::Bcrypt(hash.to_owned());
        }
        for magic in ["$apr1$", "$1$"] {
            if let Some(rest) = hash.strip_prefix(magic) {
                let salt = rest.split('$').next().unwrap_or("");
                return Entry::Md5Crypt {
                    magic,
                    salt: salt.chars().take(8).collect(),
                    stored: hash.to_owned(),
                };
            }
        }
        if let Some(encoded) = hash.strip_prefix("{SHA}") {
            return match STANDARD.decode(encoded) {
                Ok(digest) if digest.len() == 20 => Entry::Sha1(digest),
                _ => Entry::Unsupported,
            };
        }
        if let Some(encoded) = hash.strip_prefix("{SSHA}") {
            return match STANDARD.decode(encoded) {
                Ok(mut digest) if digest.len() > 20 => {
                    let salt = digest.split_off(20);
                    Entry::SaltedSha1 { digest, salt }
                }
                _ => Entry::Unsupported,
            };
        }
        if hash.starts_with("$5$") || hash.starts_with("$6$") {
            return Entry::Unsupported;
        }
        Entry::Plain(hash.to_owned())
    }

    /// True for the formats that cost real CPU to check (worth remembering a success).
    pub fn is_slow(&self) -> bool {
        matches!(self, Entry::Bcrypt(_))
    }

    pub fn matches(&self, password: &str) -> bool {
        match self {
            Entry::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Entry::Md5Crypt {
                magic,
                salt,
                stored,
            } => {
                let computed = md5_crypt(password.as_bytes(), salt.as_bytes(), magic);
                bool::from(computed.as_bytes().ct_eq(stored.as_bytes()))
            }
            Entry::Sha1(digest) => bool::from(sha1(&[password.as_bytes()]).ct_eq(digest)),
            Entry::SaltedSha1 { digest, salt } => {
                bool::from(sha1(&[password.as_bytes(), salt]).ct_eq(digest))
            }
            Entry::Plain(stored) => bool::from(password.as_bytes().ct_eq(stored.as_bytes())),
            Entry::Unsupported => false,
        }
    }
}

fn sha1(parts: &[&[u8]]) -> Vec<u8> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    for part in parts {
        context.update(part);
    }
    context.finish().as_ref().to_vec()
}

/// Users and their entries; later lines win over earlier ones for the same user.
pub fn parse(text: &str, source: &str, users: &mut HashMap<String, Entry>) {
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, hash)) = line.split_once(':') else {
            // The line may hold a password: only its place is named.
            tracing::warn!(
                source,
                line = number + 1,
                "htpasswd line without ':' is skipped"
            );
            continue;
        };
        let entry = Entry::parse(hash);
        if matches!(entry, Entry::Unsupported) {
            tracing::warn!(
                source,
                line = number + 1,
                user,
                "htpasswd entry uses a hash ferrotel cannot check (SHA-crypt or malformed); this user cannot log in"
            );
        }
        users.insert(user.to_owned(), entry);
    }
}

const CRYPT_ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn to64(out: &mut String, mut value: u32, count: usize) {
    for _ in 0..count {
        out.push(CRYPT_ALPHABET[(value & 0x3f) as usize] as char);
        value >>= 6;
    }
}

/// Poul-Henning Kamp's MD5-crypt (`$1$`), which Apache's `$apr1$` runs with its own magic.
pub fn md5_crypt(password: &[u8], salt: &[u8], magic: &str) -> String {
    let mut alternate = Md5::new();
    alternate.update(password);
    alternate.update(salt);
    alternate.update(password);
    let alternate = alternate.finalize();

    let mut context = Md5::new();
    context.update(password);
    context.update(magic.as_bytes());
    context.update(salt);
    let mut left = password.len();
    while left > 0 {
        let take = left.min(16);
        context.update(&alternate[..take]);
        left -= take;
    }
    let mut bits = password.len();
    while bits != 0 {
        if bits & 1 == 1 {
            context.update([0u8]);
        } else {
            context.update(&password[..1]);
        }
        bits >>= 1;
    }
    let mut digest = context.finalize();

    for round in 0..1000 {
        let mut context = Md5::new();
        if round & 1 == 1 {
            context.update(password);
        } else {
            context.update(digest);
        }
        if round % 3 != 0 {
            context.update(salt);
        }
        if round % 7 != 0 {
            context.update(password);
        }
        if round & 1 == 1 {
            context.update(digest);
        } else {
            context.update(password);
        }
        digest = context.finalize();
    }

    let d = |i: usize| u32::from(digest[i]);
    let mut out = format!("{magic}{}$", String::from_utf8_lossy(salt));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(&mut out, (d(a) << 16) | (d(b) << 8) | d(c), 4);
    }
    to64(&mut out, d(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Users whose password is their own name, hashed by the tools named (go-htpasswd's and
    /// otelcol's test vectors).
    const VECTORS: &[(&str, &str)] = &[
        ("htpasswd-md5", "$apr1$FVVioVP7$ZdIWPG1p4E/ErujO7kA2n0"),
        ("openssl-apr1", "$apr1$peiE49Vv$lo.z77Z.6.a.Lm7GMjzQh0"),
        ("openssl-md5", "$1$mvmz31IB$U9KpHBLegga2doA0e3s3N0"),
        ("htpasswd-sha", "{SHA}vFznddje0Ht4+pmO0FaxwrUKN/M="),
        (
            "htpasswd-bcrypt",
            "$2y$10$Q6GeMFPd0dAxhQULPDdAn.DFy6NDmLaU0A7e2XoJz7PFYAEADFKbC",
        ),
        (
            "a",
            "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe",
        ),
    ];

    #[test]
    fn known_hashes_match_their_password_only() {
        for (user, hash) in VECTORS {
            let entry = Entry::parse(hash);
            assert!(entry.matches(user), "{user}: {hash}");
            assert!(!entry.matches(&format!("{user}x")), "{user}: {hash}");
            assert!(!entry.matches(""), "{user}: {hash}");
        }
    }

    #[test]
    fn bcrypt_made_here_and_salted_sha_and_plain() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let entry = Entry::parse(&hash.replacen("$2b$", "$2y$", 1));
        assert!(entry.is_slow());
        assert!(entry.matches("s3cret") && !entry.matches("s3cre"));

        let salt = b"saltsalt";
        let mut ssha = sha1(&[b"pw", salt]);
        ssha.extend_from_slice(salt);
        let entry = Entry::parse(&format!("{{SSHA}}{}", STANDARD.encode(ssha)));
        assert!(entry.matches("pw") && !entry.matches("pw2"));

        let plain = Entry::parse("password");
        assert!(plain.matches("password") && !plain.matches("Password"));
        assert!(!Entry::parse("$6$salt$whatever").matches("$6$salt$whatever"));
    }

    #[test]
    fn files_parse_with_comments_and_later_lines_winning() {
        let mut users = HashMap::new();
        parse(
            "# comment\n\nalice:first\nbroken line\nbob:{SHA}vFznddje0Ht4+pmO0FaxwrUKN/M=\n",
            "file",
            &mut users,
        );
        parse("alice:second\n", "inline", &mut users);
        assert_eq!(users.len(), 2);
        assert!(users["alice"].matches("second") && !users["alice"].matches("first"));
        assert!(users["bob"].matches("htpasswd-sha"));
    }
}
