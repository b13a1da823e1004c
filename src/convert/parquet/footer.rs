//! A bounded walk over a Parquet footer's thrift (compact protocol) before
//! the parquet crate decodes it: the crate skips unknown fields element by
//! element, so a crafted footer declaring a set of two billion elements in
//! a few bytes kept it busy for seconds per file (found by fuzzing). Here
//! every collection must declare no more elements than bytes remain (each
//! element takes at least one), and nesting is bounded, so the walk — and
//! then the crate's — is linear in the footer's size.

/// Nesting deeper than this is refused (Parquet's own structs nest ~6 deep).
const MAX_DEPTH: usize = 64;

pub(super) struct Walk<'a> {
    b: &'a [u8],
    i: usize,
    /// What is walked, for messages ("footer", "page header").
    what: &'static str,
}

impl<'a> Walk<'a> {
    /// A walk over `b`, the thrift bytes of a `what`.
    pub(super) fn new(b: &'a [u8], what: &'static str) -> Self {
        Walk { b, i: 0, what }
    }

    /// Bytes consumed so far.
    pub(super) fn position(&self) -> usize {
        self.i
    }

    /// Whether the walk stopped because the bytes ran out (rather than at
    /// a malformed value).
    pub(super) fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    pub(super) fn byte(&mut self) -> Result<u8, String> {
        let v = *self
            .b
            .get(self.i)
            .ok_or_else(|| format!("the {} ends inside a value", self.what))?;
        self.i += 1;
        Ok(v)
    }

    pub(super) fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("a varint in the {} is too long", self.what))
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.i.checked_add(n))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("a value in the {} runs past its end", self.what))?;
        self.i = end;
        Ok(())
    }

    fn left(&self) -> u64 {
        (self.b.len() - self.i) as u64
    }

    /// Skips one value of compact type `t`.
    pub(super) fn value(&mut self, t: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("the {} nests too deeply", self.what));
        }
        match t {
            1 | 2 => Ok(()), // a bool field: the type is the value
            3 => self.skip(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8),
            8 => {
                let n = self.varint()?;
                self.skip(n)
            }
            9 | 10 => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.elements(n, h & 0x0f, depth)
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kv = self.byte()?;
                if n > self.left() / 2 {
                    return Err(format!(
                        "a map in the {} declares {n} entries in {} bytes",
                        self.what,
                        self.left()
                    ));
                }
                for _ in 0..n {
                    self.value(kv >> 4, depth + 1)?;
                    self.value(kv & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.fields(depth + 1),
            t => Err(format!("unknown thrift type {t} in the {}", self.what)),
        }
    }

    fn elements(&mut self, n: u64, t: u8, depth: usize) -> Result<(), String> {
        if n > self.left() {
            return Err(format!(
                "a list in the {} declares {n} elements in {} bytes",
                self.what,
                self.left()
            ));
        }
        for _ in 0..n {
            match t {
                // In a collection a bool is one byte.
                1 | 2 => self.skip(1)?,
                t => self.value(t, depth + 1)?,
            }
        }
        Ok(())
    }

    /// Skips a struct's fields up to its stop byte.
    pub(super) fn fields(&mut self, depth: usize) -> Result<(), String> {
        loop {
            let h = self.byte()?;
            if h == 0 {
                return Ok(());
            }
            if h >> 4 == 0 {
                self.varint()?; // a field id that is not a small delta
            }
            self.value(h & 0x0f, depth)?;
        }
    }
}

/// Checks that `footer` (the thrift FileMetaData bytes) can be walked in
/// linear time: collections no larger than the bytes left, bounded nesting,
/// nothing past the end.
pub(crate) fn check(footer: &[u8]) -> Result<(), String> {
    Walk::new(footer, "footer").fields(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_set_larger_than_the_footer() {
        // Field 1, type set; header: size 15 (varint follows), element
        // type struct; the varint says 2^31.
        let crafted = [0x1a, 0xfc, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        assert!(check(&crafted).unwrap_err().contains("declares"));
        // A well-formed struct: field 1 i32 = 5, field 2 binary "ab", stop.
        assert!(check(&[0x15, 0x0a, 0x18, 0x02, b'a', b'b', 0x00]).is_ok());
        assert!(check(&[0x15]).is_err());
    }
}
