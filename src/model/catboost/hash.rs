//! CatBoost's hash of a categorical value: the low 32 bits of CityHash64 **v1.0** of the
//! value's UTF-8 bytes (`CalcCatFeatureHash`).
//!
//! Why it is here: a model saved with `save_model(..., format="json")` but without `pool=`
//! stores its one-hot splits as bare hashes (`"value": -1242798403`) and no hash → string map,
//! so the only way to route a data cell holding the word `red` is to hash it as CatBoost does.
//! CatBoost vendors the original 2011 CityHash 1.0, whose results differ from the mainline
//! 1.1 (and from the `cityhash` crates) for every length class; this is a fresh implementation
//! of 1.0, checked against the hashes catboost 1.2.10 writes into `cat_features_hash` for
//! strings of 0–250 bytes, including multi-byte UTF-8 (see `tests/catboost.rs`).

const K0: u64 = 0xc3a5_c85c_97cb_3127;
const K1: u64 = 0xb492_b66f_be98_f273;
const K2: u64 = 0x9ae1_6a3b_2f90_404f;
const K3: u64 = 0xc949_d7c7_509e_6557;

/// The hash CatBoost compares one-hot split values against.
pub fn cat_feature_hash(value: &str) -> u32 {
    city_hash64(value.as_bytes()) as u32
}

fn fetch64(s: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(b)
}

fn fetch32(s: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&s[i..i + 4]);
    u32::from_le_bytes(b) as u64
}

fn rotate(v: u64, shift: u32) -> u64 {
    v.rotate_right(shift)
}

fn shift_mix(v: u64) -> u64 {
    v ^ (v >> 47)
}

/// CityHash's `Hash128to64` (a Murmur-inspired mix of two words).
fn hash16(u: u64, v: u64) -> u64 {
    const MUL: u64 = 0x9ddf_ea08_eb38_2d69;
    let mut a = (u ^ v).wrapping_mul(MUL);
    a ^= a >> 47;
    let mut b = (v ^ a).wrapping_mul(MUL);
    b ^= b >> 47;
    b.wrapping_mul(MUL)
}

fn len_0_to_16(s: &[u8]) -> u64 {
    let n = s.len();
    if n > 8 {
        let a = fetch64(s, 0);
        let b = fetch64(s, n - 8);
        // 1.0 rotates by the length itself (never 0 here, so a plain rotation).
        return hash16(a, rotate(b.wrapping_add(n as u64), n as u32)) ^ b;
    }
    if n >= 4 {
        let a = fetch32(s, 0);
        return hash16((n as u64).wrapping_add(a << 3), fetch32(s, n - 4));
    }
    if n > 0 {
        let (a, b, c) = (s[0] as u32, s[n >> 1] as u32, s[n - 1] as u32);
        let y = a.wrapping_add(b << 8);
        let z = (n as u32).wrapping_add(c << 2);
        return shift_mix((y as u64).wrapping_mul(K2) ^ (z as u64).wrapping_mul(K3))
            .wrapping_mul(K2);
    }
    K2
}

fn len_17_to_32(s: &[u8]) -> u64 {
    let n = s.len();
    let a = fetch64(s, 0).wrapping_mul(K1);
    let b = fetch64(s, 8);
    let c = fetch64(s, n - 8).wrapping_mul(K2);
    let d = fetch64(s, n - 16).wrapping_mul(K0);
    hash16(
        rotate(a.wrapping_sub(b), 43)
            .wrapping_add(rotate(c, 30))
            .wrapping_add(d),
        a.wrapping_add(rotate(b ^ K3, 20))
            .wrapping_sub(c)
            .wrapping_add(n as u64),
    )
}

/// Two words of state from 32 bytes and two seeds.
fn weak_hash32(s: &[u8], i: usize, a: u64, b: u64) -> (u64, u64) {
    let (w, x, y, z) = (
        fetch64(s, i),
        fetch64(s, i + 8),
        fetch64(s, i + 16),
        fetch64(s, i + 24),
    );
    let mut a = a.wrapping_add(w);
    let mut b = rotate(b.wrapping_add(a).wrapping_add(z), 21);
    let c = a;
    a = a.wrapping_add(x).wrapping_add(y);
    b = b.wrapping_add(rotate(a, 44));
    (a.wrapping_add(z), b.wrapping_add(c))
}

fn len_33_to_64(s: &[u8]) -> u64 {
    let n = s.len();
    let mut z = fetch64(s, 24);
    let mut a =
        fetch64(s, 0).wrapping_add((n as u64).wrapping_add(fetch64(s, n - 16)).wrapping_mul(K0));
    let mut b = rotate(a.wrapping_add(z), 52);
    let mut c = rotate(a, 37);
    a = a.wrapping_add(fetch64(s, 8));
    c = c.wrapping_add(rotate(a, 7));
    a = a.wrapping_add(fetch64(s, 16));
    let vf = a.wrapping_add(z);
    let vs = b.wrapping_add(rotate(a, 31)).wrapping_add(c);
    a = fetch64(s, 16).wrapping_add(fetch64(s, n - 32));
    z = fetch64(s, n - 8);
    b = rotate(a.wrapping_add(z), 52);
    c = rotate(a, 37);
    a = a.wrapping_add(fetch64(s, n - 24));
    c = c.wrapping_add(rotate(a, 7));
    a = a.wrapping_add(fetch64(s, n - 16));
    let wf = a.wrapping_add(z);
    let ws = b.wrapping_add(rotate(a, 31)).wrapping_add(c);
    let r = shift_mix(
        vf.wrapping_add(ws)
            .wrapping_mul(K2)
            .wrapping_add(wf.wrapping_add(vs).wrapping_mul(K0)),
    );
    shift_mix(r.wrapping_mul(K0).wrapping_add(vs)).wrapping_mul(K2)
}

/// CityHash64 as released in version 1.0.
pub fn city_hash64(s: &[u8]) -> u64 {
    let len = s.len();
    if len <= 16 {
        return len_0_to_16(s);
    }
    if len <= 32 {
        return len_17_to_32(s);
    }
    if len <= 64 {
        return len_33_to_64(s);
    }
    // Longer strings: hash the last 64 bytes into the state first, then every 64-byte block
    // from the front (the last block overlaps the tail when the length is not a multiple).
    let mut x = fetch64(s, 0);
    let mut y = fetch64(s, len - 16) ^ K1;
    let mut z = fetch64(s, len - 56) ^ K0;
    let mut v = weak_hash32(s, len - 64, len as u64, y);
    let mut w = weak_hash32(s, len - 32, (len as u64).wrapping_mul(K1), K0);
    z = z.wrapping_add(shift_mix(v.1).wrapping_mul(K1));
    x = rotate(z.wrapping_add(x), 39).wrapping_mul(K1);
    y = rotate(y, 33).wrapping_mul(K1);
    let blocks = (len - 1) / 64;
    for block in 0..blocks {
        let p = block * 64;
        x = rotate(
            x.wrapping_add(y)
                .wrapping_add(v.0)
                .wrapping_add(fetch64(s, p + 16)),
            37,
        )
        .wrapping_mul(K1);
        y = rotate(y.wrapping_add(v.1).wrapping_add(fetch64(s, p + 48)), 42).wrapping_mul(K1);
        x ^= w.1;
        y ^= v.0;
        z = rotate(z ^ w.0, 33);
        v = weak_hash32(s, p, v.1.wrapping_mul(K1), x.wrapping_add(w.0));
        w = weak_hash32(s, p + 32, z.wrapping_add(w.1), y);
        std::mem::swap(&mut z, &mut x);
    }
    hash16(
        hash16(v.0, w.0)
            .wrapping_add(shift_mix(y).wrapping_mul(K1))
            .wrapping_add(z),
        hash16(v.1, w.1).wrapping_add(x),
    )
}

#[cfg(test)]
mod tests {
    use super::cat_feature_hash;

    /// Hashes catboost 1.2.10 wrote into `cat_features_hash`, one per CityHash length class.
    #[test]
    fn hashes_equal_the_ones_catboost_writes() {
        let long = "long ".repeat(50);
        for (s, h) in [
            ("", 797982799u32),
            ("3", 593172586),
            ("zz", 4294064537),
            ("red", 3052168893),
            ("abcd", 345588365),
            ("abcdefgh", 4270775063),
            ("abcdefghi", 3019552977),
            ("ünïcødé", 1647788759),
            (&"x".repeat(16), 2067776764),
            (&"y".repeat(17), 782355611),
            ("日本語カテゴリ", 2178384199),
            (&"z".repeat(32), 2596478485),
            (&"w".repeat(33), 2216240726),
            (&"q".repeat(64), 2229749267),
            (&"r".repeat(65), 1172359415),
            (&"s".repeat(128), 616771141),
            (&"t".repeat(129), 3617445775),
            (&long, 3169281427),
        ] {
            assert_eq!(cat_feature_hash(s), h, "{s:?}");
        }
    }
}
