//! Look-alike characters and their ASCII skeleton: a bundled subset of the Unicode
//! confusables (UTS #39 `confusables.txt`), chosen for what appears in IDN homograph attacks
//! on Latin-script domain names. Written by hand for sweep; not the full table.
//!
//! Covered: Cyrillic and Greek letters that look like Latin ones, a few Armenian ones,
//! fullwidth ASCII (U+FF01..U+FF5E), mathematical alphanumeric letters and digits
//! (U+1D400..U+1D7FF), small Roman numerals, a few Latin look-alikes (`ı`, `ɑ`, `ɡ`, `ℓ`),
//! and Latin letters with diacritics (`é` -> `e`), which IDN registries accept and readers
//! skim over. Anything else has no skeleton and makes a name not comparable.

/// Where a look-alike character comes from, for the analyst's reason text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Ascii,
    Cyrillic,
    Greek,
    Armenian,
    Fullwidth,
    Mathematical,
    RomanNumeral,
    LatinLookalike,
    Accented,
}

impl Script {
    pub fn name(self) -> &'static str {
        match self {
            Script::Ascii => "ASCII",
            Script::Cyrillic => "Cyrillic",
            Script::Greek => "Greek",
            Script::Armenian => "Armenian",
            Script::Fullwidth => "fullwidth",
            Script::Mathematical => "mathematical",
            Script::RomanNumeral => "Roman numeral",
            Script::LatinLookalike => "Latin look-alike",
            Script::Accented => "accented",
        }
    }
}

/// The ASCII text a character reads as, with its kind; `None` when it has no ASCII look-alike
/// here. ASCII letters, digits, `-` and `.` map to themselves (letters lower-cased).
pub fn skeleton_char(c: char) -> Option<(&'static str, Script)> {
    use Script::*;
    if c.is_ascii() {
        return ascii_str(c.to_ascii_lowercase() as u8).map(|s| (s, Ascii));
    }
    let cp = c as u32;
    // Fullwidth ASCII: U+FF01..U+FF5E are U+0021..U+007E.
    if (0xFF01..=0xFF5E).contains(&cp) {
        return ascii_str(((cp - 0xFF01 + 0x21) as u8).to_ascii_lowercase()).map(|s| (s, Fullwidth));
    }
    // Mathematical alphanumeric letters: 13 styles of A-Z a-z (52 code points each) from
    // U+1D400 to U+1D6A3; holes in the block are unassigned and never occur in a name.
    if (0x1D400..=0x1D6A3).contains(&cp) {
        let i = ((cp - 0x1D400) % 52) as u8;
        let letter = if i < 26 { b'a' + i } else { b'a' + i - 26 };
        return ascii_str(letter).map(|s| (s, Mathematical));
    }
    // Mathematical digits: 5 styles of 0-9 from U+1D7CE.
    if (0x1D7CE..=0x1D7FF).contains(&cp) {
        return ascii_str(b'0' + ((cp - 0x1D7CE) % 10) as u8).map(|s| (s, Mathematical));
    }
    let (s, script) = match c {
        // Cyrillic, lower and upper case
        'а' | 'А' => ("a", Cyrillic),
        'в' | 'В' | 'ь' | 'Ь' => ("b", Cyrillic),
        'с' | 'С' | 'ϲ' => ("c", if c == 'ϲ' { Greek } else { Cyrillic }),
        'ԁ' => ("d", Cyrillic),
        'е' | 'Е' | 'ё' | 'Ё' | 'є' => ("e", Cyrillic),
        'һ' | 'Һ' | 'Н' => ("h", Cyrillic),
        'і' | 'І' | 'ї' | 'Ї' => ("i", Cyrillic),
        'ӏ' | 'Ӏ' => ("l", Cyrillic),
        'ј' | 'Ј' => ("j", Cyrillic),
        'к' | 'К' => ("k", Cyrillic),
        'м' | 'М' => ("m", Cyrillic),
        'п' => ("n", Cyrillic),
        'о' | 'О' => ("o", Cyrillic),
        'р' | 'Р' => ("p", Cyrillic),
        'ԛ' => ("q", Cyrillic),
        'г' => ("r", Cyrillic),
        'ѕ' | 'Ѕ' => ("s", Cyrillic),
        'т' | 'Т' => ("t", Cyrillic),
        'у' | 'У' | 'ү' => ("y", Cyrillic),
        'ԝ' | 'Ԝ' | 'ш' => ("w", Cyrillic),
        'х' | 'Х' => ("x", Cyrillic),
        // Greek
        'α' | 'Α' => ("a", Greek),
        'β' | 'Β' => ("b", Greek),
        'ε' | 'Ε' => ("e", Greek),
        'η' => ("n", Greek),
        'ι' | 'Ι' | 'ί' => ("i", Greek),
        'κ' | 'Κ' => ("k", Greek),
        'ν' => ("v", Greek),
        'ο' | 'Ο' | 'ό' | 'σ' => ("o", Greek),
        'ρ' | 'Ρ' => ("p", Greek),
        'τ' | 'Τ' => ("t", Greek),
        'υ' | 'ύ' => ("u", Greek),
        'χ' | 'Χ' => ("x", Greek),
        'ω' => ("w", Greek),
        'Ζ' => ("z", Greek),
        'ϳ' => ("j", Greek),
        // Armenian
        'օ' => ("o", Armenian),
        'ս' => ("u", Armenian),
        'ց' => ("g", Armenian),
        'հ' => ("h", Armenian),
        'ո' => ("n", Armenian),
        'զ' => ("q", Armenian),
        // Roman numerals (small)
        'ⅰ' => ("i", RomanNumeral),
        'ⅱ' => ("ii", RomanNumeral),
        'ⅲ' => ("iii", RomanNumeral),
        'ⅴ' => ("v", RomanNumeral),
        'ⅹ' => ("x", RomanNumeral),
        'ⅼ' => ("l", RomanNumeral),
        'ⅽ' => ("c", RomanNumeral),
        'ⅾ' => ("d", RomanNumeral),
        'ⅿ' => ("m", RomanNumeral),
        // Latin look-alikes
        'ı' | 'ɩ' | 'ǀ' => ("i", LatinLookalike),
        'ɑ' => ("a", LatinLookalike),
        'ɡ' | 'ƍ' => ("g", LatinLookalike),
        'ℓ' | 'ł' => ("l", LatinLookalike),
        'ȷ' => ("j", LatinLookalike),
        'ɴ' => ("n", LatinLookalike),
        'ʀ' => ("r", LatinLookalike),
        'ѵ' => ("v", LatinLookalike),
        'ꮃ' => ("w", LatinLookalike),
        'ƅ' => ("b", LatinLookalike),
        'ԃ' => ("d", LatinLookalike),
        // Letters with diacritics
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' | 'ạ' | 'ả' | 'ấ' | 'ầ' | 'ẩ' | 'ẫ' | 'ậ' | 'ắ' | 'ằ' | 'ẳ' | 'ẵ'
        | 'ặ' => ("a", Accented),
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => ("c", Accented),
        'ď' | 'đ' | 'ḍ' => ("d", Accented),
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ẹ' | 'ẻ' | 'ẽ' | 'ế' | 'ề' | 'ể' | 'ễ' | 'ệ' => {
            ("e", Accented)
        }
        'ĝ' | 'ğ' | 'ġ' | 'ģ' | 'ǧ' => ("g", Accented),
        'ĥ' | 'ħ' | 'ḥ' => ("h", Accented),
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ǐ' | 'ị' | 'ỉ' => ("i", Accented),
        'ĵ' | 'ǰ' => ("j", Accented),
        'ķ' | 'ǩ' => ("k", Accented),
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ḷ' => ("l", Accented),
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ṇ' => ("n", Accented),
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ǒ' | 'ọ' | 'ỏ' | 'ố' | 'ồ' | 'ổ' | 'ỗ' | 'ộ' | 'ơ' | 'ớ' | 'ờ' | 'ở'
        | 'ỡ' | 'ợ' => ("o", Accented),
        'ŕ' | 'ŗ' | 'ř' | 'ṛ' => ("r", Accented),
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' | 'ṣ' => ("s", Accented),
        'ţ' | 'ť' | 'ŧ' | 'ț' | 'ṭ' => ("t", Accented),
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ǔ' | 'ụ' | 'ủ' | 'ư' | 'ứ' | 'ừ' | 'ử' | 'ữ' | 'ự' => {
            ("u", Accented)
        }
        'ŵ' | 'ẁ' | 'ẃ' | 'ẅ' => ("w", Accented),
        'ý' | 'ÿ' | 'ŷ' | 'ỳ' | 'ỵ' | 'ỷ' | 'ỹ' => ("y", Accented),
        'ź' | 'ż' | 'ž' | 'ẓ' => ("z", Accented),
        _ => return None,
    };
    Some((s, script))
}

/// `a-z 0-9 - .` as static one-character strings; other ASCII has no skeleton.
fn ascii_str(b: u8) -> Option<&'static str> {
    const ALNUM: &str = "abcdefghijklmnopqrstuvwxyz0123456789-.";
    let i = match b {
        b'a'..=b'z' => b - b'a',
        b'0'..=b'9' => 26 + b - b'0',
        b'-' => 36,
        b'.' => 37,
        _ => return None,
    } as usize;
    Some(&ALNUM[i..i + 1])
}

/// One character of a name that is not plain ASCII but reads as some.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    pub ch: char,
    pub reads_as: &'static str,
    pub script: Script,
}

/// The ASCII skeleton of a (Unicode) label and the look-alike characters used in it, or
/// `None` when some character has no ASCII look-alike here.
pub fn skeleton(label: &str) -> Option<(String, Vec<Lookalike>)> {
    let mut out = String::with_capacity(label.len());
    let mut used = Vec::new();
    for c in label.chars() {
        let (s, script) = skeleton_char(c)?;
        if script != Script::Ascii && !used.iter().any(|l: &Lookalike| l.ch == c) {
            used.push(Lookalike { ch: c, reads_as: s, script });
        }
        out.push_str(s);
    }
    Some((out, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeletons() {
        assert_eq!(skeleton("pаypal").unwrap().0, "paypal");
        assert_eq!(skeleton("pаypal").unwrap().1, vec![Lookalike { ch: 'а', reads_as: "a", script: Script::Cyrillic }]);
        assert_eq!(skeleton("αpple").unwrap().0, "apple");
        assert_eq!(skeleton("ｇｏｏｇｌｅ").unwrap().0, "google");
        assert_eq!(skeleton("𝐠𝐨𝐨𝐠𝐥𝐞").unwrap().0, "google");
        assert_eq!(skeleton("𝟏𝟐").unwrap().0, "12");
        assert_eq!(skeleton("ⅿicrosoft").unwrap().0, "microsoft");
        assert_eq!(skeleton("bücher").unwrap().0, "bucher");
        assert_eq!(skeleton("AbC-1").unwrap(), ("abc-1".to_string(), vec![]));
        assert_eq!(skeleton("中国"), None);
        assert_eq!(skeleton("a_b"), None);
    }
}
