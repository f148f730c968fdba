//! Look-alike characters and the ASCII skeleton of a Unicode label.
//!
//! A character is read the way a person skims it in an address bar:
//! 1. canonical decomposition (NFD) with the combining marks dropped, so `é`, `ȧ`, `ṗ` read as
//!    `e`, `a`, `p`;
//! 2. the Unicode confusables table of UTS #39 (the skeleton of the `unicode-security` crate),
//!    so Cyrillic `а`, Greek `ο`, fullwidth `ｇ`, mathematical `𝐠`, `ⅿ` read as `a`, `o`, `g`,
//!    `g`, `m`; marks the skeleton leaves (`đ` is `d` with a stroke) are dropped again;
//! 3. a short list of Latin small capitals and hooked letters whose UTS #39 prototype is not
//!    ASCII (`ʙ`, `ᴍ`, `ʀ`, `ƈ`, Cyrillic `м` and `т`...), listed below as [`READS_AS`].
//!
//! Anything that still is not ASCII (`中`, `ə`) has no skeleton: the name is not comparable.
//! ASCII characters are kept as they are (lower-cased); ASCII tricks (`rn` for `m`, `1` for
//! `l`) are the typosquat matcher's.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_script::{Script, UnicodeScript};

/// UTS #39 prototypes (after marks are dropped) that are not ASCII but read as an ASCII
/// letter in a host name: Latin small capitals, hooked and barred letters, and the Greek and
/// Cyrillic letters whose prototype is one of those.
pub const READS_AS: &[(char, char)] = &[
    ('ʙ', 'b'),
    ('ƅ', 'b'),
    ('ß', 'b'),
    ('ƈ', 'c'),
    ('ꞓ', 'e'),
    ('ɢ', 'g'),
    ('ⱨ', 'h'),
    ('ʝ', 'j'),
    ('ĸ', 'k'),
    ('ⱪ', 'k'),
    ('ʍ', 'm'),
    ('ꞑ', 'n'),
    ('ʀ', 'r'),
    ('ɾ', 'r'),
    ('ᴛ', 't'),
    ('ʉ', 'u'),
    ('ⱴ', 'v'),
    ('ⱱ', 'v'),
    ('ⱳ', 'w'),
    ('ω', 'w'),
    ('χ', 'x'),
    ('ȝ', '3'),
];

/// One character of a name that is not plain ASCII but reads as some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    pub ch: char,
    pub reads_as: String,
    /// How an analyst would name the character: "Cyrillic", "Greek", "accented",
    /// "Latin look-alike", "look-alike" (symbols and mathematical letters).
    pub kind: &'static str,
}

fn push_without_marks(c: char, out: &mut String) {
    decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            out.push(d)
        }
    });
}

/// What one non-ASCII character reads as (lower-case ASCII letters or digits), and how to
/// name it; `None` if it reads as nothing in ASCII.
pub fn skeleton_char(c: char) -> Option<(String, &'static str)> {
    let mut base = String::new();
    push_without_marks(c, &mut base);
    let accented = base.chars().count() == 1 && base.is_ascii();
    let mut reads = String::new();
    for p in unicode_security::confusable_detection::skeleton(&base) {
        let mut bare = String::new();
        push_without_marks(p, &mut bare);
        for b in bare.chars() {
            let b = READS_AS.iter().find(|(from, _)| *from == b).map_or(b, |&(_, to)| to);
            reads.extend(b.to_lowercase());
        }
    }
    if reads.is_empty() || !reads.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let kind = if accented {
        "accented"
    } else {
        match c.script() {
            Script::Latin => "Latin look-alike",
            Script::Common | Script::Inherited => "look-alike",
            s => s.full_name(),
        }
    };
    Some((reads, kind))
}

/// The ASCII skeleton of a (Unicode) label and the look-alike characters used in it, or
/// `None` when some character reads as nothing in ASCII. `a-z 0-9 -` map to themselves (letters
/// lower-cased); other ASCII has no skeleton.
pub fn skeleton(label: &str) -> Option<(String, Vec<Lookalike>)> {
    let mut out = String::with_capacity(label.len());
    let mut used: Vec<Lookalike> = Vec::new();
    for c in label.chars() {
        if c.is_ascii() {
            if !(c.is_ascii_alphanumeric() || c == '-') {
                return None;
            }
            out.push(c.to_ascii_lowercase());
            continue;
        }
        let (reads, kind) = skeleton_char(c)?;
        out.push_str(&reads);
        if !used.iter().any(|l| l.ch == c) {
            used.push(Lookalike { ch: c, reads_as: reads, kind });
        }
    }
    Some((out, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeletons() {
        assert_eq!(skeleton("pаypal").unwrap().0, "paypal");
        assert_eq!(skeleton("pаypal").unwrap().1, vec![Lookalike { ch: 'а', reads_as: "a".into(), kind: "Cyrillic" }]);
        assert_eq!(skeleton("αpple").unwrap().0, "apple");
        assert_eq!(skeleton("ｇｏｏｇｌｅ").unwrap().0, "google");
        assert_eq!(skeleton("𝐠𝐨𝐨𝐠𝐥𝐞").unwrap().0, "google");
        assert_eq!(skeleton("𝟏𝟐").unwrap().0, "l2", "UTS #39 reads the digit one as the letter l");
        assert_eq!(skeleton("ⅿicrosoft").unwrap().0, "rnicrosoft", "UTS #39 reads m as rn");
        assert_eq!(
            skeleton("bücher").unwrap(),
            ("bucher".to_string(), vec![Lookalike { ch: 'ü', reads_as: "u".into(), kind: "accented" }])
        );
        assert_eq!(skeleton("AbC-1").unwrap(), ("abc-1".to_string(), vec![]));
        assert_eq!(skeleton("中国"), None);
        assert_eq!(skeleton("a_b"), None);
    }

    /// The homoglyphs the first version's hand-written table missed (issue: content precision).
    #[test]
    fn letters_outside_the_old_table_read_as_ascii() {
        for (glyph, ascii) in [('ȧ', "a"), ('ɫ', "l"), ('ṗ', "p"), ('ƒ', "f"), ('ƈ', "c"), ('ɼ', "r"), ('ᴏ', "o"), ('ƿ', "p"), ('đ', "d")]
        {
            assert_eq!(skeleton_char(glyph).map(|(r, _)| r).as_deref(), Some(ascii), "{glyph}");
        }
        assert_eq!(skeleton("ṁicrosoft").unwrap().0, "rnicrosoft", "UTS #39 reads m as rn; the typosquat keys undo it");
        assert_eq!(skeleton_char('м').unwrap().0, "m");
    }
}
