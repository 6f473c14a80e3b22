//! "Did you mean" suggestions for misspelt names, shared by loading and validation.

/// The closest candidate within a third of the name's length (at least two edits), by
/// Levenshtein distance; the first of equally close candidates wins.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("websocket_mesages_total", ["websocket_messages_total", "up"]),
            Some("websocket_messages_total")
        );
        assert_eq!(closest("completely_else", ["websocket_messages_total"]), None);
        assert_eq!(closest("prot", ["name", "port"]), Some("port"));
    }
}
