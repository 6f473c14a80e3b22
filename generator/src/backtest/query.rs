//! Asks a Prometheus for an expression's value at every evaluation time of a range
//! (`/api/v1/query_range`), in pieces that respect Prometheus's limit of 11,000 points per
//! series, and says plainly why when it cannot.

use std::time::Duration;

use super::evaluate::Labels;

/// Prometheus refuses a range query of more points than this per series.
pub const MAX_POINTS: i64 = 11_000;

/// Why a query gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("cannot reach Prometheus at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("Prometheus refused `{expr}`: {message}")]
    Refused { expr: String, message: String },
    #[error("Prometheus answered `{expr}` with something that is not a range result: {message}")]
    Unreadable { expr: String, message: String },
}

/// Every evaluation time of `[from, to]` at `step` (all in ms), cut into pieces of at
/// most `MAX_POINTS` times each.
pub fn pieces(from: i64, to: i64, step: i64) -> Vec<(i64, i64)> {
    let step = step.max(1);
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + (MAX_POINTS - 1) * step).min(to);
        // Keep the piece on the grid of `from`, so that pieces join without a gap.
        let end = start + (end - start) / step * step;
        out.push((start, end));
        start = end + step;
    }
    out
}

/// The evaluation times `from, from + step, …` up to `to`.
pub fn times(from: i64, to: i64, step: i64) -> Vec<i64> {
    let step = step.max(1);
    (0..).map(|i| from + i * step).take_while(|t| *t <= to).collect()
}

/// A Prometheus HTTP API client for range queries.
pub struct RangeClient {
    base: String,
    client: reqwest::Client,
}

fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

impl RangeClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, QueryError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| QueryError::Unreachable {
                url: base.to_string(),
                message: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The label sets the expression returned at each of `times(from, to, step)`. A point
    /// is placed in the nearest evaluation slot (a server that rounds the range to its own
    /// grid still lands each answer once).
    pub async fn presence(&self, expr: &str, from: i64, to: i64, step: i64) -> Result<Vec<Vec<Labels>>, QueryError> {
        let step = step.max(1);
        let slots = times(from, to, step).len();
        let mut present: Vec<Vec<Labels>> = vec![Vec::new(); slots];
        for (start, end) in pieces(from, to, step) {
            for (labels, stamps) in self.range(expr, start, end, step).await? {
                for stamp in stamps {
                    let slot = (stamp - from + step / 2).div_euclid(step);
                    if let Some(here) = usize::try_from(slot).ok().and_then(|i| present.get_mut(i)) {
                        if !here.contains(&labels) {
                            here.push(labels.clone());
                        }
                    }
                }
            }
        }
        Ok(present)
    }

    /// One range query: each series' labels (`__name__` dropped) and the times it has a value.
    async fn range(&self, expr: &str, start: i64, end: i64, step: i64) -> Result<Vec<(Labels, Vec<i64>)>, QueryError> {
        let url = format!("{}/api/v1/query_range", self.base);
        let step_text = seconds(step);
        let form = [
            ("query", expr.to_string()),
            ("start", seconds(start)),
            ("end", seconds(end)),
            ("step", step_text),
            // VictoriaMetrics otherwise aligns the range to its cache's grid.
            ("nocache", "1".to_string()),
        ];
        let response = self
            .client
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| QueryError::Unreachable {
                url: self.base.clone(),
                message: crate::error_chain(&e),
            })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| QueryError::Unreadable {
            expr: expr.to_string(),
            message: format!("HTTP {status}: {e}"),
        })?;
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| QueryError::Unreadable {
            expr: expr.to_string(),
            message: format!(
                "HTTP {status}, not JSON ({e}): {}",
                text.chars().take(200).collect::<String>()
            ),
        })?;
        if body["status"] != "success" {
            return Err(QueryError::Refused {
                expr: expr.to_string(),
                message: format!(
                    "HTTP {status}, {}: {}",
                    body["errorType"].as_str().unwrap_or("error"),
                    body["error"].as_str().unwrap_or("no reason given")
                ),
            });
        }
        let unreadable = |message: &str| QueryError::Unreadable {
            expr: expr.to_string(),
            message: message.to_string(),
        };
        if body["data"]["resultType"] != "matrix" {
            return Err(unreadable(&format!("result type {}", body["data"]["resultType"])));
        }
        let series = body["data"]["result"]
            .as_array()
            .ok_or_else(|| unreadable("no result"))?;
        series
            .iter()
            .map(|s| {
                let labels: Labels = s["metric"]
                    .as_object()
                    .ok_or_else(|| unreadable("a series has no labels"))?
                    .iter()
                    .filter(|(name, _)| name.as_str() != "__name__")
                    .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_string()))
                    .collect();
                let stamps = s["values"]
                    .as_array()
                    .ok_or_else(|| unreadable("a series has no values"))?
                    .iter()
                    .filter_map(|point| point[0].as_f64())
                    .map(|t| (t * 1000.0).round() as i64)
                    .collect();
                Ok((labels, stamps))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ranges_are_cut_on_the_grid_within_the_point_limit() {
        let step = 15_000;
        let to = 30 * 86_400_000; // 30 days at 15 s: 172,801 evaluations
        let pieces = pieces(0, to, step);
        let mut covered = 0;
        let mut next = 0;
        for (start, end) in &pieces {
            assert_eq!(*start, next, "pieces join without a gap or an overlap");
            assert_eq!((end - start) % step, 0);
            let points = (end - start) / step + 1;
            assert!(points <= MAX_POINTS, "{points}");
            covered += points;
            next = end + step;
        }
        assert_eq!(covered as usize, times(0, to, step).len());
        assert_eq!(pieces.len(), 16);
    }

    #[test]
    fn a_short_range_is_one_piece() {
        assert_eq!(pieces(1_000, 61_000, 1_000), [(1_000, 61_000)]);
        assert_eq!(times(0, 25, 10), [0, 10, 20]);
        assert_eq!(seconds(1_500), "1.500");
    }
}
