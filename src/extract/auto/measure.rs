//! How close an extracted text is to an expected one: the shingle metric public article-extraction benchmarks use,
//! shared by `benches/extract.rs` and the automatic-extraction tests so both report the same number.
//!
//! Both texts become `\w+` tokens (case kept; with [`Tokens::Cjk`] every CJK character is a token of its own, since
//! `\w+` makes a whole Chinese clause one token), then shingles of 4 consecutive tokens (a text of fewer tokens is
//! one shingle), counted as multisets: true positives are the shingles both have, false positives those only the
//! extraction has, false negatives those only the expectation has.

use std::collections::HashMap;

/// How a text is cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokens {
    /// Runs of word characters.
    Words,
    /// Runs of word characters, with every CJK character a token of its own.
    Cjk,
}

/// Shingle counts of one extraction against its expectation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overlap {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Overlap {
    /// tp / (tp + fp); an empty extraction of an empty expectation is perfect, of a non-empty one worthless.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp, self.fn_ == 0)
    }

    /// tp / (tp + fn).
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_, self.fp == 0)
    }

    pub fn f1(&self) -> f64 {
        f1(self.precision(), self.recall())
    }
}

fn ratio(num: usize, den: usize, empty_ok: bool) -> f64 {
    if den == 0 {
        if empty_ok { 1.0 } else { 0.0 }
    } else {
        num as f64 / den as f64
    }
}

/// The harmonic mean of a precision and a recall (0 when both are 0).
pub fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// Compares an extracted text with the expected one.
pub fn overlap(extracted: &str, expected: &str, tokens: Tokens) -> Overlap {
    let got = shingles(extracted, tokens);
    let want = shingles(expected, tokens);
    let mut tp = 0;
    let mut fp = 0;
    for (shingle, &n) in &got {
        let m = want.get(shingle).copied().unwrap_or(0);
        tp += n.min(m);
        fp += n.saturating_sub(m);
    }
    let fn_ = want
        .iter()
        .map(|(shingle, &m)| m.saturating_sub(got.get(shingle).copied().unwrap_or(0)))
        .sum();
    Overlap { tp, fp, fn_ }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af | 0x20000..=0x2fa1f)
}

fn tokens(text: &str, how: Tokens) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let word = c.is_alphanumeric() || c == '_';
        if how == Tokens::Cjk && is_cjk(c) {
            if let Some(s) = start.take() {
                out.push(&text[s..i]);
            }
            out.push(&text[i..i + c.len_utf8()]);
        } else if word {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push(&text[s..i]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

fn shingles(text: &str, how: Tokens) -> HashMap<Vec<&str>, usize> {
    let tokens = tokens(text, how);
    let mut counts = HashMap::new();
    if tokens.is_empty() {
        return counts;
    }
    if tokens.len() < 4 {
        *counts.entry(tokens).or_default() += 1;
        return counts;
    }
    for window in tokens.windows(4) {
        *counts.entry(window.to_vec()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_texts_score_one_and_disjoint_texts_zero() {
        let text = "The conference opened in Wuzhen on Wednesday morning.";
        assert_eq!(overlap(text, text, Tokens::Words).f1(), 1.0);
        assert_eq!(overlap(text, "Nothing at all in common here", Tokens::Words).f1(), 0.0);
    }

    #[test]
    fn extra_text_costs_precision_and_missing_text_costs_recall() {
        let body = "one two three four five six seven eight";
        let more = "one two three four five six seven eight nine ten eleven twelve";
        let o = overlap(more, body, Tokens::Words);
        assert_eq!((o.tp, o.fp, o.fn_), (5, 4, 0));
        assert_eq!(o.recall(), 1.0);
        let o = overlap(body, more, Tokens::Words);
        assert_eq!(o.precision(), 1.0);
        assert!(o.recall() < 0.6);
    }

    #[test]
    fn chinese_counts_characters_only_when_asked() {
        let a = "世界互联网大会在乌镇开幕，来自各国的嘉宾出席。";
        let b = "世界互联网大会在乌镇开幕，来自全球的嘉宾出席。";
        // As words, each clause is one token: the two texts share nothing.
        assert_eq!(overlap(a, b, Tokens::Words).tp, 0);
        let o = overlap(a, b, Tokens::Cjk);
        assert!(o.f1() > 0.6 && o.f1() < 1.0, "{o:?}");
    }

    #[test]
    fn short_texts_are_one_shingle() {
        assert_eq!(overlap("a b", "a b", Tokens::Words).tp, 1);
        assert_eq!(overlap("", "", Tokens::Words).f1(), 1.0);
        assert_eq!(overlap("", "a b", Tokens::Words).f1(), 0.0);
    }
}
