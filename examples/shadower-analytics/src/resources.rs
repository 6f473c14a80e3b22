//! The memory the service may use, read once at start-up: its container's cgroup limit (v2
//! `memory.max`, or v1 `memory.limit_in_bytes`), or the machine's memory (`MemTotal`) when
//! the container has no limit, so `HighMemoryUsage` can compare resident memory against it.

const CGROUP_FILES: [&str; 2] = [
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
];

/// The limit in bytes: the cgroup's, else the machine's; `None` when neither can be read.
pub fn memory_limit_bytes() -> Option<u64> {
    CGROUP_FILES
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| parse_limit(&text))
        .or_else(|| {
            std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|m| mem_total(&m))
        })
}

/// `MemTotal:  16384256 kB` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// `max` (v2) and the huge page-rounded number v1 uses for "unlimited" mean no limit.
fn parse_limit(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value < 1 << 60).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::{mem_total, parse_limit};

    #[test]
    fn reads_limits_and_knows_unlimited() {
        assert_eq!(parse_limit("536870912\n"), Some(536_870_912));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit(""), None);
    }

    #[test]
    fn reads_the_machine_memory_in_bytes() {
        let meminfo = "MemTotal:       16384256 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(16_384_256 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }
}
