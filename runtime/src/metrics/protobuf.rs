//! The protobuf exposition (`io.prometheus.client.MetricFamily`, length-delimited), which
//! Prometheus asks for first when it scrapes native histograms: the only format that
//! carries them. Written by hand from the message definitions (field numbers and wire
//! types below), straight into one buffer.

/// The content type Prometheus asks for and gets back.
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// `MetricType` values.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Counter = 0,
    Gauge = 1,
    Histogram = 4,
}

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LENGTH: u64 = 2;

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn tag(out: &mut Vec<u8>, field: u64, wire: u64) {
    varint(out, (field << 3) | wire);
}

fn uint(out: &mut Vec<u8>, field: u64, value: u64) {
    tag(out, field, VARINT);
    varint(out, value);
}

/// `sint32`/`sint64`: zigzag, so small negative numbers stay short.
fn sint(out: &mut Vec<u8>, field: u64, value: i64) {
    tag(out, field, VARINT);
    varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

fn double(out: &mut Vec<u8>, field: u64, value: f64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

fn bytes(out: &mut Vec<u8>, field: u64, value: &[u8]) {
    tag(out, field, LENGTH);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Writes a nested message: `write` fills `scratch`, which is then copied in behind its
/// length (protobuf needs the length first).
fn nested(out: &mut Vec<u8>, field: u64, scratch: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    scratch.clear();
    write(scratch);
    bytes(out, field, scratch);
}

/// The value of one series.
pub enum Value<'a> {
    Counter(f64),
    Gauge(f64),
    Histogram(&'a HistogramValue),
}

/// A histogram series as the exposition carries it.
#[derive(Debug, Default)]
pub struct HistogramValue {
    pub count: u64,
    pub sum: f64,
    /// Classic buckets: upper bound and cumulative count, `+Inf` left out.
    pub classic: Vec<(f64, u64)>,
    pub native: Option<NativeValue>,
}

/// The native part of a histogram series.
#[derive(Debug, Default)]
pub struct NativeValue {
    pub schema: i8,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub positive: super::native::Buckets,
    pub negative: super::native::Buckets,
}

/// Writes one length-delimited `MetricFamily` at a time.
#[derive(Default)]
pub struct FamilyWriter {
    family: Vec<u8>,
    metric: Vec<u8>,
    inner: Vec<u8>,
    leaf: Vec<u8>,
}

impl FamilyWriter {
    /// Starts a family; add series with [`FamilyWriter::series`], then [`FamilyWriter::finish`].
    pub fn start(&mut self, name: &str, help: &str, kind: Kind) {
        self.family.clear();
        bytes(&mut self.family, 1, name.as_bytes());
        bytes(&mut self.family, 2, help.as_bytes());
        uint(&mut self.family, 3, kind as u64);
    }

    /// One series: label pairs and value.
    pub fn series<'l>(&mut self, labels: impl Iterator<Item = (&'l str, String)>, value: Value) {
        self.metric.clear();
        for (name, label_value) in labels {
            nested(&mut self.metric, 1, &mut self.inner, |pair| {
                bytes(pair, 1, name.as_bytes());
                bytes(pair, 2, label_value.as_bytes());
            });
        }
        let leaf = &mut self.leaf;
        match value {
            Value::Counter(v) => nested(&mut self.metric, 3, &mut self.inner, |m| double(m, 1, v)),
            Value::Gauge(v) => nested(&mut self.metric, 2, &mut self.inner, |m| double(m, 1, v)),
            Value::Histogram(h) => nested(&mut self.metric, 7, &mut self.inner, |m| histogram(m, leaf, h)),
        }
        bytes(&mut self.family, 4, &self.metric);
    }

    /// Appends the family, behind its length, to `out`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        varint(out, self.family.len() as u64);
        out.extend_from_slice(&self.family);
    }
}

fn histogram(out: &mut Vec<u8>, leaf: &mut Vec<u8>, h: &HistogramValue) {
    uint(out, 1, h.count);
    double(out, 2, h.sum);
    for (bound, cumulative) in &h.classic {
        nested(out, 3, leaf, |bucket| {
            uint(bucket, 1, *cumulative);
            double(bucket, 2, *bound);
        });
    }
    let Some(native) = &h.native else { return };
    sint(out, 5, i64::from(native.schema));
    double(out, 6, native.zero_threshold);
    uint(out, 7, native.zero_count);
    for (spans_field, deltas_field, side) in [(9, 10, &native.negative), (12, 13, &native.positive)] {
        for (offset, length) in &side.spans {
            nested(out, spans_field, leaf, |span| {
                sint(span, 1, i64::from(*offset));
                uint(span, 2, u64::from(*length));
            });
        }
        for delta in &side.deltas {
            sint(out, deltas_field, *delta);
        }
    }
    // No observation yet and a zero threshold of 0 would leave nothing marking the
    // histogram as native; the definition asks for an empty span then.
    if native.zero_threshold == 0.0
        && native.zero_count == 0
        && native.positive.spans.is_empty()
        && native.negative.spans.is_empty()
    {
        nested(out, 12, leaf, |span| {
            sint(span, 1, 0);
            uint(span, 2, 0);
        });
    }
}

/// Splits rendered label text (`a="x",b="y\"z"`) back into names and unescaped values.
pub fn label_pairs(rendered: &str) -> impl Iterator<Item = (&str, String)> {
    let mut rest = rendered;
    std::iter::from_fn(move || {
        let (name, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        rest = after[end..].strip_prefix(',').unwrap_or(&after[end..]);
        Some((name, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_labels_split_back_into_their_values() {
        let pairs: Vec<(&str, String)> = label_pairs(r#"a="x",b="y\"z\\w\n",c="""#).collect();
        assert_eq!(
            pairs,
            vec![("a", "x".into()), ("b", "y\"z\\w\n".into()), ("c", String::new())]
        );
        assert_eq!(label_pairs("").count(), 0);
    }

    #[test]
    fn varints_and_zigzag_match_the_wire_format() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        sint(&mut out, 1, -1);
        assert_eq!(out, [0x08, 0x01]);
        out.clear();
        sint(&mut out, 1, 2);
        assert_eq!(out, [0x08, 0x04]);
    }
}
