//! The decoder against the sample strings of RFC 3492, section 7.1 (all nineteen, A to S).
//! The Unicode side of each sample was checked against an independent encoder (Python's
//! `punycode` codec) and is checked here against sweep-intel's encoder too.

use sweep_content::punycode::{decode, decode_host};

const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "(A) Arabic (Egyptian)",
        "\u{0644}\u{064A}\u{0647}\u{0645}\u{0627}\u{0628}\u{062A}\u{0643}\u{0644}\u{0645}\u{0648}\u{0634}\u{0639}\u{0631}\u{0628}\u{064A}\u{061F}",
        "egbpdaj6bu4bxfgehfvwxn",
    ),
    ("(B) Chinese (simplified)", "他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),
    ("(C) Chinese (traditional)", "他們爲什麽不說中文", "ihqwctvzc91f659drss3x8bo0yb"),
    ("(D) Czech", "Pročprostěnemluvíčesky", "Proprostnemluvesky-uyb24dma41a"),
    ("(E) Hebrew", "למההםפשוטלאמדבריםעברית", "4dbcagdahymbxekheh6e0a7fei0b"),
    ("(F) Hindi (Devanagari)", "यहलोगहिन्दीक्योंनहींबोलसकतेहैं", "i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd"),
    ("(G) Japanese (kanji and hiragana)", "なぜみんな日本語を話してくれないのか", "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"),
    (
        "(H) Korean (Hangul syllables)",
        "세계의모든사람들이한국어를이해한다면얼마나좋을까",
        "989aomsvi5e83db1d2a355cv1e0vak1dwrv93d5xbh15a0dt30a5jpsd879ccm6fea98c",
    ),
    // The RFC writes this one with an upper-case `D` (a mixed-case annotation); digits are
    // case-insensitive, so it decodes to the same lower-case Cyrillic.
    ("(I) Russian (Cyrillic)", "почемужеонинеговорятпорусски", "b1abfaaepdrnnbgefbaDotcwatmq2g4l"),
    ("(J) Spanish", "PorquénopuedensimplementehablarenEspañol", "PorqunopuedensimplementehablarenEspaol-fmd56a"),
    ("(K) Vietnamese", "TạisaohọkhôngthểchỉnóitiếngViệt", "TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g"),
    ("(L) 3<nen>B<gumi><kinpachi><sensei>", "3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),
    ("(M) <amuro><namie>-with-SUPER-MONKEYS", "安室奈美恵-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),
    ("(N) Hello-Another-Way-<sorezore><no><basho>", "Hello-Another-Way-それぞれの場所", "Hello-Another-Way--fc4qua05auwb3674vfr0b"),
    ("(O) <hitotsu><yane><no><shita>2", "ひとつ屋根の下2", "2-u9tlzr9756bt3uc0v"),
    ("(P) Maji<de>Koi<suru>5<byou><mae>", "MajiでKoiする5秒前", "MajiKoi5-783gue6qz075azm5e"),
    ("(Q) <pafii>de<runba>", "パフィーdeルンバ", "de-jg4avhby1noc0d"),
    ("(R) <sono><supiido><de>", "そのスピードで", "d9juau41awczczp"),
    ("(S) -> $1.00 <-", "-> $1.00 <-", "-> $1.00 <--"),
];

#[test]
fn rfc_3492_samples_decode() {
    for (name, unicode, ascii) in SAMPLES {
        assert_eq!(decode(ascii).as_deref(), Some(*unicode), "{name}");
    }
}

#[test]
fn rfc_3492_samples_agree_with_sweep_intel_encoder() {
    // sweep-intel encodes label by label (split at '.'), so skip the sample with a dot.
    for (name, unicode, ascii) in SAMPLES.iter().filter(|s| !s.1.contains('.')) {
        let encoded = sweep_intel::psl::to_ascii(unicode).unwrap_or_else(|| panic!("{name}: no encoding"));
        let body = encoded.strip_prefix("xn--").unwrap_or(&encoded);
        assert_eq!(body.to_ascii_lowercase(), ascii.to_ascii_lowercase(), "{name}");
    }
}

#[test]
fn homograph_hosts_decode() {
    assert_eq!(decode_host("xn--pypal-4ve.com").as_deref(), Some("pаypal.com"), "Cyrillic а (U+0430)");
    assert_eq!(decode_host("xn--80ak6aa92e.com").as_deref(), Some("аррӏе.com"));
    assert_eq!(decode_host("xn--90adhhccf5aeewt7j.xn--p1ai").map(|s| s.ends_with(".рф")), Some(true));
}
