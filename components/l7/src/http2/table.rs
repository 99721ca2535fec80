//! A connection's HPACK dynamic table as far as the captures show it.
//!
//! The probe sees each request's first bytes only, so a header block is often cut: the entries
//! its unseen tail adds are unknown, in number and content. Dynamic indexes count from the
//! newest entry, so every entry from before the cut then sits at an unknown distance: the table
//! keeps them behind a *gap* of between `min` and `max` unknown entries, and entries added after
//! the cut in front of it, exactly placed. A later block that reaches past the gap settles its
//! size when exactly one size makes that block well-formed HTTP/2 (pseudo-header fields first,
//! each once, `:method` present) — the fields a client repeats on every request make this the
//! common case. Until then, what lies past the gap reads as unknown, never as a guess. The gap
//! and all before it fall away for good once entries added since fill the table.

use std::collections::VecDeque;

use super::hpack::{Block, Literal, Name, Rep, STATIC};

/// The table size a connection starts with (SETTINGS_HEADER_TABLE_SIZE's default).
pub(super) const DEFAULT_SIZE: usize = 4096;
/// The largest size update believed: servers rarely allow more than the default.
pub(super) const MAX_SIZE: usize = 64 * 1024;
/// What an entry costs beyond its name and value (RFC 7541 4.1).
const OVERHEAD: usize = 32;
/// The most gap sizes tried on one block (each is a pass over it): a wider gap stays unknown.
const MAX_HYPOTHESES: usize = DEFAULT_SIZE / OVERHEAD;
/// Pseudo-header fields a request may carry (RFC 9113 8.3.1, RFC 8441).
const REQUEST_PSEUDO: [&[u8]; 5] = [
    b":method",
    b":scheme",
    b":path",
    b":authority",
    b":protocol",
];

/// What a header block may hold (RFC 9113 8.3): a request's pseudo-header fields, a response's
/// `:status`, or none (a trailer section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockKind {
    Request,
    Response,
    Trailers,
}

#[derive(Clone, Debug)]
enum Slot {
    Known(Box<[u8]>, Box<[u8]>),
    /// An entry whose content the captures missed: a pseudo-header field, perhaps.
    Unknown(bool),
}

impl Slot {
    /// The least the entry may weigh.
    fn size(&self) -> usize {
        match self {
            Slot::Known(name, value) => name.len() + value.len() + OVERHEAD,
            Slot::Unknown(_) => OVERHEAD,
        }
    }

    fn look(&self) -> Look<'_> {
        match self {
            Slot::Known(name, value) => Look::Field(name, value),
            Slot::Unknown(may_pseudo) => Look::Unknown(*may_pseudo),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Gap {
    min: usize,
    max: usize,
    may_pseudo: bool,
}

#[derive(Clone, Copy, Debug)]
enum Look<'a> {
    Field(&'a [u8], &'a [u8]),
    Unknown(bool),
}

/// A field of a block: its name (or whether the unknown one may be a pseudo-header field), its
/// value if known, and whether the capture holds the value whole.
#[derive(Clone, Copy, Debug)]
pub(super) struct Field<'a> {
    pub(super) name: Result<&'a [u8], bool>,
    pub(super) value: Option<&'a [u8]>,
    pub(super) whole: bool,
}

/// A block read against the table: its fields, the entries it adds (oldest first), the table
/// size it leaves, and whether it emptied the table.
struct Walk<'a> {
    fields: Vec<Field<'a>>,
    added: Vec<Look<'a>>,
    capacity: usize,
    cleared: bool,
    gap_touched: bool,
}

#[derive(Debug)]
pub(crate) struct Table {
    capacity: usize,
    /// Newest first: the entries added since the gap, or all of them when there is none.
    front: VecDeque<Slot>,
    gap: Option<Gap>,
    /// Newest first: the entries from before the gap.
    back: VecDeque<Slot>,
    /// Entries never seen may lie past the last one (requests before the capture began).
    tail_unknown: bool,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            capacity: DEFAULT_SIZE,
            front: VecDeque::new(),
            gap: None,
            back: VecDeque::new(),
            tail_unknown: false,
        }
    }
}

/// Wanted fields of a block, owned: name, value if known, whether the capture holds it whole.
pub(super) type Fields = Vec<(Vec<u8>, Option<Vec<u8>>, bool)>;

/// A block's string literals decoded once, by representation: name, value.
pub(super) type Decoded = Vec<(Option<Vec<u8>>, Option<Vec<u8>>)>;

/// The literals of `block` decoded; `None` when one is not valid Huffman code.
pub(super) fn decode_literals(block: &Block) -> Option<Decoded> {
    let literal = |l: &Literal| l.decode().map(Some);
    block
        .reps
        .iter()
        .map(|rep| match rep {
            Rep::Literal { name, value, .. } => {
                let name = match name {
                    Name::Literal(l) => literal(l)?,
                    Name::Indexed(_) => None,
                };
                Some((name, literal(value)?))
            }
            _ => Some((None, None)),
        })
        .collect()
}

impl Table {
    /// Whether the table may hold entries it cannot place (for tests).
    #[cfg(test)]
    pub(super) fn uncertain(&self) -> bool {
        self.gap.is_some() || self.tail_unknown
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.front.len() + self.back.len()
    }

    /// Requests before this one went unseen: whatever they added is unknown.
    pub(super) fn joined_late(&mut self) {
        self.tail_unknown = true;
    }

    /// A block went unseen: it may have added any number of entries, or emptied the table with a
    /// size update, so nothing from before it can be placed.
    pub(super) fn lost_block(&mut self) {
        self.front.clear();
        self.gap = None;
        self.back.clear();
        self.tail_unknown = true;
    }

    fn open_gap(&mut self, min: usize, max: usize, may_pseudo: bool) {
        if self.gap.is_some() {
            // a gap behind a gap cannot be measured: what lies past the newer one is lost
            self.back.clear();
            self.tail_unknown = true;
        }
        self.back = std::mem::take(&mut self.front);
        self.gap = Some(Gap {
            min,
            max: max.max(min),
            may_pseudo,
        });
        self.evict();
    }

    fn lookup<'a>(&'a self, index: usize, w: &Walk<'a>, u: Option<usize>) -> Option<Look<'a>> {
        if let Some(&(name, value)) = index.checked_sub(1).and_then(|i| STATIC.get(i)) {
            return Some(Look::Field(name.as_bytes(), value.as_bytes()));
        }
        let mut p = index.checked_sub(STATIC.len() + 1)?;
        if let Some(i) = w.added.len().checked_sub(p + 1) {
            return Some(w.added[i]);
        }
        p -= w.added.len();
        if w.cleared {
            return None;
        }
        if let Some(slot) = self.front.get(p) {
            return Some(slot.look());
        }
        p -= self.front.len();
        if let Some(gap) = self.gap {
            let Some(u) = u else {
                return Some(Look::Unknown(true));
            };
            if p < u {
                return Some(Look::Unknown(gap.may_pseudo));
            }
            p -= u;
            if let Some(slot) = self.back.get(p) {
                return Some(slot.look());
            }
        }
        self.tail_unknown.then_some(Look::Unknown(true))
    }

    /// `block` read with the gap holding `u` entries; `None` if it names what cannot be.
    fn walk<'a>(&'a self, block: &Block, dec: &'a Decoded, u: Option<usize>) -> Option<Walk<'a>> {
        let mut w = Walk {
            fields: Vec::with_capacity(block.reps.len()),
            added: Vec::new(),
            capacity: self.capacity,
            cleared: false,
            gap_touched: false,
        };
        for (rep, (name_lit, value_lit)) in block.reps.iter().zip(dec) {
            let touches = |index: usize| index > STATIC.len() + w.added.len() + self.front.len();
            let (name, value, whole, insert) = match *rep {
                Rep::SizeUpdate(size) => {
                    // only at a block's start (RFC 7541 4.2)
                    if size > MAX_SIZE || !w.fields.is_empty() {
                        return None;
                    }
                    w.capacity = size;
                    w.cleared |= size == 0;
                    continue;
                }
                Rep::Indexed(index) => {
                    w.gap_touched |= touches(index);
                    match self.lookup(index, &w, u)? {
                        Look::Field(name, value) => (Ok(name), Some(value), true, false),
                        Look::Unknown(p) => (Err(p), None, true, false),
                    }
                }
                Rep::Literal {
                    name,
                    value,
                    insert,
                } => {
                    let name = match (name, name_lit) {
                        (Name::Literal(_), Some(lit)) => Ok(lit.as_slice()),
                        (Name::Indexed(index), _) => {
                            w.gap_touched |= touches(index);
                            match self.lookup(index, &w, u)? {
                                Look::Field(name, _) => Ok(name),
                                Look::Unknown(p) => Err(p),
                            }
                        }
                        (Name::Literal(_), None) => return None,
                    };
                    (name, value_lit.as_deref(), value.whole, insert)
                }
            };
            w.fields.push(Field { name, value, whole });
            // a value the capture cut is added past the cut: it belongs to the gap
            if insert && whole {
                let added = match (name, value) {
                    (Ok(name), Some(value)) => Look::Field(name, value),
                    (Err(p), _) => Look::Unknown(p),
                    (Ok(name), None) => Look::Unknown(name.first() == Some(&b':')),
                };
                let size = match added {
                    Look::Field(n, v) => n.len() + v.len() + OVERHEAD,
                    Look::Unknown(_) => OVERHEAD,
                };
                // an entry larger than the table empties it (RFC 7541 4.4)
                if size > w.capacity {
                    w.added.clear();
                    w.cleared = true;
                } else {
                    w.added.push(added);
                }
            }
        }
        Some(w)
    }

    /// Whether `fields` can be a header block of this `kind`.
    fn well_formed(fields: &[Field], kind: BlockKind) -> bool {
        let pseudo: &[&[u8]] = match kind {
            BlockKind::Request => &REQUEST_PSEUDO,
            BlockKind::Response => &[b":status"],
            BlockKind::Trailers => &[],
        };
        let (mut regular, mut seen, mut maybe_method) = (false, 0u8, false);
        for f in fields {
            match f.name {
                Ok(name) if name.first() == Some(&b':') => {
                    let Some(i) = pseudo.iter().position(|&p| p == name) else {
                        return false;
                    };
                    if regular || seen & (1 << i) != 0 {
                        return false;
                    }
                    seen |= 1 << i;
                }
                Ok(name) => {
                    if name.iter().any(u8::is_ascii_uppercase) {
                        return false;
                    }
                    regular = true;
                }
                Err(true) => maybe_method = true,
                Err(false) => regular = true,
            }
        }
        // a request names its method; a response's status may be what the capture cut
        kind != BlockKind::Request || fields.is_empty() || seen & 1 != 0 || maybe_method
    }

    /// Reads `block` (`missing`: if the capture cut it, how many of its bytes it missed, or
    /// `usize::MAX` when that is unknown) and applies
    /// what it adds; the fields whose names `wanted` accepts, first of each, owned.
    pub(super) fn decode(
        &mut self,
        block: &Block,
        dec: &Decoded,
        missing: Option<usize>,
        kind: BlockKind,
        wanted: impl Fn(&[u8]) -> bool,
    ) -> Option<Fields> {
        let first = self.walk(block, dec, None);
        if let Some(gap) = self.gap
            && first.as_ref().is_some_and(|w| w.gap_touched)
            && gap.max - gap.min <= MAX_HYPOTHESES
        {
            let mut fits = (gap.min..=gap.max).filter(|&u| {
                self.walk(block, dec, Some(u))
                    .is_some_and(|w| Self::well_formed(&w.fields, kind))
            });
            match (fits.next(), fits.next()) {
                (Some(u), None) => {
                    let unknown = std::iter::repeat_n(Slot::Unknown(gap.may_pseudo), u);
                    self.front.extend(unknown);
                    self.front.append(&mut self.back);
                    self.gap = None;
                }
                (None, _) => {
                    // no size fits: the gap is not what was thought; keep only what is sure
                    self.gap = None;
                    self.back.clear();
                    self.tail_unknown = true;
                }
                (Some(_), Some(_)) => {}
            }
        }
        let Some(w) = self.walk(block, dec, None) else {
            // a block that names what no table holds: nothing of it can be trusted
            self.lost_block();
            return None;
        };
        let mut out = Fields::new();
        for f in &w.fields {
            if let Ok(name) = f.name
                && wanted(name)
                && !out.iter().any(|(n, ..)| n == name)
            {
                out.push((name.to_vec(), f.value.map(<[u8]>::to_vec), f.whole));
            }
        }
        let regular = w.fields.iter().any(|f| match f.name {
            Ok(name) => name.first() != Some(&b':'),
            Err(may_pseudo) => !may_pseudo,
        });
        let added: Vec<Slot> = w
            .added
            .iter()
            .map(|look| match *look {
                Look::Field(n, v) => Slot::Known(n.into(), v.into()),
                Look::Unknown(p) => Slot::Unknown(p),
            })
            .collect();
        let (capacity, cleared) = (w.capacity, w.cleared);
        if cleared {
            *self = Table::default();
        }
        self.capacity = capacity;
        for slot in added {
            self.front.push_front(slot);
        }
        self.evict();
        if let Some(missing) = missing.or(block.cut.then_some(usize::MAX)) {
            // each further entry takes two bytes at least; the table holds capacity/32 at most
            let max = (1 + missing / 2).min(self.capacity / OVERHEAD);
            self.open_gap(usize::from(block.cut_inserts), max, !regular);
        }
        Some(out)
    }

    /// Drops what the table surely no longer holds, counting each unknown entry at its least.
    fn evict(&mut self) {
        let mut size: usize = self.front.iter().map(Slot::size).sum();
        while size > self.capacity {
            size -= self.front.pop_back().map_or(0, |s| s.size());
        }
        let older = self.gap.is_some() || !self.back.is_empty() || self.tail_unknown;
        if older && size + OVERHEAD > self.capacity {
            // the entries added since fill the table: nothing older can remain
            self.gap = None;
            self.back.clear();
            self.tail_unknown = false;
            return;
        }
        size += self.gap.map_or(0, |g| g.min * OVERHEAD);
        size += self.back.iter().map(Slot::size).sum::<usize>();
        while size > self.capacity {
            size -= self.back.pop_back().map_or(0, |s| s.size());
        }
    }
}
