//! Suggestions for error messages: the known names closest to a misspelt one.

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `names`, the closest to `wanted` first, for an error message.
pub(crate) fn candidates<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_by_key(|n| {
        (
            edit_distance(&n.to_uppercase(), &wanted.to_uppercase()),
            n.to_string(),
        )
    });
    names.dedup();
    names.join(", ")
}
