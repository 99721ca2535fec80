//! HPACK's wire primitives (RFC 7541): prefixed integers, string literals (Huffman-coded or
//! not), the static table, and a header block cut into its field representations. Which entry a
//! dynamic index names is the table's business (table.rs): a block is read here without it.

/// The static table (RFC 7541 Appendix A), from index 1.
pub(super) const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// Huffman code lengths' populations: the code (RFC 7541 Appendix B) is canonical, so codes of
/// one length are consecutive numbers given to the symbols in increasing order.
const CODES_OF_LENGTH: [u16; 31] = [
    0, 0, 0, 0, 0, 10, 26, 32, 6, 0, 5, 3, 2, 6, 2, 3, 0, 0, 0, 3, 8, 13, 26, 29, 12, 4, 15, 19,
    29, 0, 4,
];

/// The symbols by increasing code; 256 is EOS.
const SYMBOLS: [u16; 257] = [
    48, 49, 50, 97, 99, 101, 105, 111, 115, 116, 32, 37, 45, 46, 47, 51, 52, 53, 54, 55, 56, 57,
    61, 65, 95, 98, 100, 102, 103, 104, 108, 109, 110, 112, 114, 117, 58, 66, 67, 68, 69, 70, 71,
    72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 89, 106, 107, 113, 118, 119,
    120, 121, 122, 38, 42, 44, 59, 88, 90, 33, 34, 40, 41, 63, 39, 43, 124, 35, 62, 0, 36, 64, 91,
    93, 126, 94, 125, 60, 96, 123, 92, 195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161,
    167, 172, 176, 177, 179, 209, 216, 217, 227, 229, 230, 129, 132, 133, 134, 136, 146, 154, 156,
    160, 163, 164, 169, 170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232, 233, 1,
    135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157, 158, 165, 166, 168, 174,
    175, 180, 182, 183, 188, 191, 197, 231, 239, 9, 142, 144, 145, 148, 159, 171, 206, 215, 225,
    236, 237, 199, 207, 234, 235, 192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242,
    243, 255, 203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252,
    253, 254, 2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28,
    29, 30, 31, 127, 220, 249, 10, 13, 22, 256,
];

/// `bytes` Huffman-decoded. A whole string must end in at most 7 bits of EOS's prefix (all ones);
/// a string the capture cut (`whole` false) keeps the symbols its bytes hold in full.
pub(super) fn huffman(bytes: &[u8], whole: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 8 / 5);
    let (mut code, mut len, mut first, mut offset) = (0u32, 0usize, 0u32, 0usize);
    for &byte in bytes {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            first <<= 1;
            let count = u32::from(*CODES_OF_LENGTH.get(len)?);
            if code.wrapping_sub(first) < count {
                let symbol = SYMBOLS[offset + (code - first) as usize];
                // EOS inside a string is an error (RFC 7541 5.2)
                out.push(u8::try_from(symbol).ok()?);
                (code, len, first, offset) = (0, 0, 0, 0);
            } else {
                first += count;
                offset += count as usize;
            }
        }
    }
    let padding_ok = len <= 7 && code.count_ones() as usize == len;
    (padding_ok || !whole).then_some(out)
}

/// The integer with an `n`-bit prefix at the start of `b` (RFC 7541 5.1), and its length.
/// `Err(true)` when `b` ends before it does, `Err(false)` when it overflows what HPACK needs.
pub(super) fn integer(b: &[u8], n: u32) -> Result<(usize, usize), bool> {
    let mask = (1usize << n) - 1;
    let first = usize::from(*b.first().ok_or(true)?) & mask;
    if first < mask {
        return Ok((first, 1));
    }
    let mut value = mask;
    for (i, &byte) in b.iter().enumerate().skip(1) {
        // no field needs more than 28 bits: longer is garbage
        if i > 4 {
            return Err(false);
        }
        value += usize::from(byte & 0x7f) << (7 * (i - 1));
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(true)
}

/// A string literal as the block holds it: `whole` is false when the capture cut it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Literal<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) huffman: bool,
    pub(super) whole: bool,
}

impl Literal<'_> {
    pub(super) fn decode(&self) -> Option<Vec<u8>> {
        if self.huffman {
            huffman(self.bytes, self.whole)
        } else {
            Some(self.bytes.to_vec())
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Name<'a> {
    Indexed(usize),
    Literal(Literal<'a>),
}

/// One field representation (RFC 7541 section 6).
#[derive(Clone, Copy, Debug)]
pub(super) enum Rep<'a> {
    Indexed(usize),
    Literal {
        name: Name<'a>,
        value: Literal<'a>,
        /// With incremental indexing: the field joins the dynamic table.
        insert: bool,
    },
    SizeUpdate(usize),
}

/// A header block's representations, as far as `block` holds them.
pub(super) struct Block<'a> {
    pub(super) reps: Vec<Rep<'a>>,
    /// The capture ended inside a representation (its literal, if readable, is the last rep).
    pub(super) cut: bool,
    /// That cut representation adds an entry to the table, which the capture does not hold in
    /// full.
    pub(super) cut_inserts: bool,
}

fn string(b: &[u8]) -> Result<(Literal<'_>, usize), bool> {
    let huffman = b.first().is_some_and(|&c| c & 0x80 != 0);
    let (len, at) = integer(b, 7)?;
    let rest = &b[at..];
    if len <= rest.len() {
        let literal = Literal {
            bytes: &rest[..len],
            huffman,
            whole: true,
        };
        return Ok((literal, at + len));
    }
    let literal = Literal {
        bytes: rest,
        huffman,
        whole: false,
    };
    Ok((literal, b.len()))
}

/// `block` cut into representations; `None` for what no encoder would send.
pub(super) fn representations(block: &[u8]) -> Option<Block<'_>> {
    let mut out = Block {
        reps: Vec::new(),
        cut: false,
        cut_inserts: false,
    };
    let mut at = 0;
    while at < block.len() {
        let b = &block[at..];
        let first = b[0];
        let (prefix, insert) = match first {
            0x80.. => (7, false),
            0x40..=0x7f => (6, true),
            0x20..=0x3f => (5, false),
            _ => (4, false),
        };
        let (index, mut used) = match integer(b, prefix) {
            Ok(v) => v,
            Err(true) => {
                out.cut = true;
                out.cut_inserts = insert;
                return Some(out);
            }
            Err(false) => return None,
        };
        if prefix == 7 || prefix == 5 {
            if prefix == 7 && index == 0 {
                return None;
            }
            out.reps.push(if prefix == 7 {
                Rep::Indexed(index)
            } else {
                Rep::SizeUpdate(index)
            });
            at += used;
            continue;
        }
        let name = if index == 0 {
            match string(&b[used..]) {
                Ok((name, n)) if name.whole => {
                    used += n;
                    Name::Literal(name)
                }
                Ok(_) | Err(true) => {
                    out.cut = true;
                    out.cut_inserts = insert;
                    return Some(out);
                }
                Err(false) => return None,
            }
        } else {
            Name::Indexed(index)
        };
        let value = match string(&b[used..]) {
            Ok((value, n)) => {
                used += n;
                value
            }
            Err(true) => Literal {
                bytes: &[],
                huffman: false,
                whole: false,
            },
            Err(false) => return None,
        };
        out.reps.push(Rep::Literal {
            name,
            value,
            insert,
        });
        if !value.whole {
            out.cut = true;
            out.cut_inserts = insert;
            return Some(out);
        }
        at += used;
    }
    Some(out)
}
