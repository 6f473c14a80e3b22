//! The container's memory limit, read once from its cgroup (v2 `memory.max`, or v1
//! `memory.limit_in_bytes`), so `HighMemoryUsage` can compare resident memory against it.
//! No limit reads as 0, which the alert's `> 0` filter leaves out.

const CGROUP_FILES: [&str; 2] = [
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
];

/// The limit in bytes, or `None` when the process has none.
pub fn memory_limit_bytes() -> Option<u64> {
    CGROUP_FILES
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| parse_limit(&text))
}

/// `max` (v2) and the huge page-rounded number v1 uses for "unlimited" mean no limit.
fn parse_limit(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value < 1 << 60).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::parse_limit;

    #[test]
    fn reads_limits_and_knows_unlimited() {
        assert_eq!(parse_limit("536870912\n"), Some(536_870_912));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit(""), None);
    }
}
