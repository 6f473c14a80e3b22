//! Which Prometheus a stack targets, as major.minor: the spec's `stack.prometheus.version`,
//! else the tag of `stack.prometheus.image`, else the default image's. What the generator
//! writes for Prometheus (command-line flags, scrape settings) depends on it.

use std::fmt;

use crate::images::StackImage;
use crate::model::PrometheusStack;

/// A Prometheus release line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PrometheusVersion {
    pub major: u32,
    pub minor: u32,
}

impl PrometheusVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// `3`, `3.5`, `v3.5.3` or `2.53.0`; a bare major means its first minor (`3` is 3.0).
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not a Prometheus version such as `3.5` or `2.53`");
        let trimmed = text.trim().trim_start_matches('v');
        // A pre-release or variant suffix (`3.5.0-rc.1`, `3.5.3-distroless`) names the same line.
        let (numbers, _suffix) = trimmed.split_once('-').unwrap_or((trimmed, ""));
        let mut parts = numbers.split('.');
        let mut number = || -> Result<Option<u32>, String> {
            match parts.next() {
                None => Ok(None),
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse::<u32>().map(Some).map_err(|_| invalid())
                }
                Some(_) => Err(invalid()),
            }
        };
        let major = number()?.ok_or_else(invalid)?;
        let minor = number()?.unwrap_or(0);
        number()?;
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self { major, minor })
    }

    /// The version an image's tag names (`prom/prometheus:v2.53.0` → 2.53); `None` for
    /// `latest`, a digest or a tag without a version.
    pub fn of_image(image: &str) -> Option<Self> {
        let image = image.split('@').next().unwrap_or(image);
        let (name, tag) = image.rsplit_once(':')?;
        if tag.contains('/') || name.is_empty() {
            return None;
        }
        // `v3.5.3-distroless` or `3.5.3-rc.0`: the version is what comes before the dash.
        Self::parse(tag.split('-').next().unwrap_or(tag)).ok()
    }

    /// The default image's version.
    pub fn default_target() -> Self {
        Self::of_image(StackImage::Prometheus.default_image()).expect("the default image names a version")
    }

    /// What a stack targets: the spec's version, else its image's, else the default.
    pub fn target(prometheus: &PrometheusStack) -> Self {
        prometheus
            .version
            .as_deref()
            .and_then(|v| Self::parse(v).ok())
            .or_else(|| prometheus.image.as_deref().and_then(Self::of_image))
            .unwrap_or_else(Self::default_target)
    }

    /// The image a stack runs: the spec's; else, for a `version` of another line than the
    /// default image's, that release's first image (`2.53` → `prom/prometheus:v2.53.0`);
    /// else the default image.
    pub fn image(prometheus: &PrometheusStack) -> String {
        if let Some(image) = &prometheus.image {
            return image.clone();
        }
        let default = StackImage::Prometheus.default_image();
        match prometheus.version.as_deref().and_then(|v| Self::parse(v).ok()) {
            Some(version) if version != Self::default_target() => {
                let repository = default.rsplit_once(':').map_or(default, |(name, _)| name);
                format!("{repository}:v{}.{}.0", version.major, version.minor)
            }
            _ => default.to_string(),
        }
    }

    /// 2.x expands `${VAR}` in external labels only behind a feature flag; 3.x always does.
    pub fn needs_expand_external_labels_flag(self) -> bool {
        self.major < 3
    }

    /// Native histograms are switched on by `scrape_native_histograms` (3.8 and later; the
    /// feature flag is a no-op from 3.9) rather than `--enable-feature=native-histograms`
    /// (2.40 to 3.7, where the setting does not exist and fails the config).
    pub fn native_histograms_by_setting(self) -> bool {
        self >= Self::new(3, 8)
    }

    /// The oldest release that scrapes native histograms at all.
    pub const NATIVE_HISTOGRAMS: Self = Self::new(2, 40);
    /// The oldest release that keeps a histogram's classic buckets beside its native ones
    /// (`scrape_classic_histograms`, `always_scrape_classic_histograms` from 3.0).
    pub const CLASSIC_BESIDE_NATIVE: Self = Self::new(2, 45);

    /// The per-job setting that keeps classic buckets beside native ones.
    pub fn classic_histograms_setting(self) -> &'static str {
        if self.major >= 3 {
            "always_scrape_classic_histograms"
        } else {
            "scrape_classic_histograms"
        }
    }
}

impl fmt::Display for PrometheusVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_from_settings_and_image_tags() {
        assert_eq!(PrometheusVersion::parse("3.5").unwrap(), PrometheusVersion::new(3, 5));
        assert_eq!(
            PrometheusVersion::parse("v2.53.0").unwrap(),
            PrometheusVersion::new(2, 53)
        );
        assert_eq!(PrometheusVersion::parse("3").unwrap(), PrometheusVersion::new(3, 0));
        assert!(PrometheusVersion::parse("three").is_err());
        assert!(PrometheusVersion::parse("3.5.1.2").is_err());
        assert!(PrometheusVersion::parse("3.5.3abc").is_err());
        assert!(PrometheusVersion::parse("3.x").is_err());
        assert!(PrometheusVersion::parse("3.").is_err());
        assert!(PrometheusVersion::parse("").is_err());
        assert_eq!(
            PrometheusVersion::parse("v3.5.0-rc.1").unwrap(),
            PrometheusVersion::new(3, 5)
        );
        assert_eq!(
            PrometheusVersion::of_image("prom/prometheus:v2.53.0"),
            Some(PrometheusVersion::new(2, 53))
        );
        assert_eq!(
            PrometheusVersion::of_image("registry:5000/prom/prometheus:v3.8.1-distroless"),
            Some(PrometheusVersion::new(3, 8))
        );
        assert_eq!(PrometheusVersion::of_image("prom/prometheus:latest"), None);
        assert_eq!(PrometheusVersion::of_image("registry:5000/prometheus"), None);
    }

    #[test]
    fn the_setting_wins_over_the_image_and_the_table_comes_last() {
        let mut stack = PrometheusStack::default();
        assert_eq!(PrometheusVersion::target(&stack), PrometheusVersion::default_target());
        assert_eq!(PrometheusVersion::default_target().major, 3);
        stack.image = Some("prom/prometheus:v2.53.0".into());
        assert_eq!(PrometheusVersion::target(&stack), PrometheusVersion::new(2, 53));
        stack.version = Some("2.55".into());
        assert_eq!(PrometheusVersion::target(&stack), PrometheusVersion::new(2, 55));
    }

    #[test]
    fn a_version_without_an_image_runs_that_release() {
        let mut stack = PrometheusStack {
            version: Some("2.53".into()),
            ..PrometheusStack::default()
        };
        assert_eq!(PrometheusVersion::image(&stack), "prom/prometheus:v2.53.0");
        stack.version = Some("3.5".into());
        assert_eq!(PrometheusVersion::image(&stack), StackImage::Prometheus.default_image());
        stack.image = Some("example/prometheus:v2.42.0".into());
        assert_eq!(PrometheusVersion::image(&stack), "example/prometheus:v2.42.0");
    }
}
