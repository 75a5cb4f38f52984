//! [`Aligned`]: a growable buffer of f64 or u64 whose start is on a 64-byte boundary.
//!
//! Why: the batch kernels load and store one whole cache line per lane group (eight rows, one
//! AVX-512 register) at offsets that are multiples of eight values. From a `Vec` (16-byte
//! aligned by the allocator) every such access straddles two lines; from here none does.

use std::ops::{Deref, DerefMut};

/// Eight values, one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line<T>([T; 8]);

/// A `Vec`-like buffer of `len` values starting on a cache line.
#[derive(Clone)]
pub struct Aligned<T: Copy> {
    lines: Vec<Line<T>>,
    len: usize,
}

impl<T: Copy> Aligned<T> {
    pub fn new() -> Self {
        Aligned {
            lines: Vec::new(),
            len: 0,
        }
    }

    /// `len` copies of `value`.
    pub fn filled(len: usize, value: T) -> Self {
        let mut a = Aligned::new();
        a.resize(len, value);
        a
    }

    /// As `Vec::resize`: values kept up to `len`, new ones set to `value`.
    pub fn resize(&mut self, len: usize, value: T) {
        self.lines.resize(len.div_ceil(8), Line([value; 8]));
        let old = self.len.min(len);
        self.len = len;
        self[old..].fill(value);
    }
}

impl<T: Copy> Default for Aligned<T> {
    fn default() -> Self {
        Aligned::new()
    }
}

impl<T: Copy> Deref for Aligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `Line<T>` is `repr(C)` around `[T; 8]` with no padding for the 8-byte `T`s
        // used here (8 × 8 = 64 bytes = its alignment), so `lines` is `8 × lines.len() ≥ len`
        // initialised `T`s in a row.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl<T: Copy> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_starts_on_a_cache_line_and_resizes_like_a_vec() {
        let mut a = Aligned::filled(3, 1.5f64);
        assert_eq!(&a[..], &[1.5; 3]);
        a[1] = 2.0;
        a.resize(20, 0.0);
        assert_eq!(a.len(), 20);
        assert_eq!(&a[..3], &[1.5, 2.0, 1.5]);
        assert!(a[3..].iter().all(|&v| v == 0.0));
        assert_eq!(a.as_ptr() as usize % 64, 0);
        a.resize(2, 9.0);
        assert_eq!(&a[..], &[1.5, 2.0]);
        let b: Aligned<u64> = Aligned::filled(9, 7);
        assert_eq!(b.as_ptr() as usize % 64, 0);
        assert_eq!(&b[..], &[7; 9]);
    }
}
