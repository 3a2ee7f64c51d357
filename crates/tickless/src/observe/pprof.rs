//! pprof `profile.proto` export of a [`Snapshot`].
//!
//! The message types below are what `prost-build` generates from the
//! subset of `profile.proto` (github.com/google/pprof/proto/profile.proto)
//! used here, committed so no `protoc` is needed at build time. Field
//! numbers are the proto's.

use std::io::Write as _;

use super::Snapshot;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

/// Interns strings into the profile's string table (index 0 is "").
struct Strings(Vec<String>);

impl Strings {
    fn id(&mut self, s: &str) -> i64 {
        if let Some(i) = self.0.iter().position(|x| x == s) {
            return i as i64;
        }
        self.0.push(s.to_string());
        (self.0.len() - 1) as i64
    }
}

pub(super) fn build(s: &Snapshot) -> Profile {
    let mut strings = Strings(vec![String::new()]);
    let live = ValueType {
        r#type: strings.id("live_timers"),
        unit: strings.id("count"),
    };
    let created = ValueType {
        r#type: strings.id("created_timers"),
        unit: strings.id("count"),
    };
    let mut profile = Profile {
        // Clients show the last sample type unless told: live timers first.
        default_sample_type: live.r#type,
        sample_type: vec![live.clone(), created],
        period_type: Some(live),
        period: 1,
        time_nanos: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64),
        ..Profile::default()
    };
    for (i, site) in s.sites.iter().enumerate() {
        let id = i as u64 + 1;
        let name = strings.id(&format!("{}:{}:{}", site.file, site.line, site.column));
        let file = strings.id(site.file);
        profile.function.push(Function {
            id,
            name,
            system_name: name,
            filename: file,
            start_line: site.line.into(),
        });
        profile.location.push(Location {
            id,
            line: vec![Line {
                function_id: id,
                line: site.line.into(),
            }],
        });
        profile.sample.push(Sample {
            location_id: vec![id],
            value: vec![site.live as i64, site.created as i64],
        });
    }
    profile.string_table = strings.0;
    profile
}

pub(super) fn render(s: &Snapshot) -> Vec<u8> {
    use prost::Message as _;
    let bytes = build(s).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&bytes);
    gz.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use std::io::Read as _;

    #[test]
    fn round_trips_through_gzip_and_protobuf() {
        let clock = crate::clock::ManualClock::new();
        let driver = crate::Driver::builder().clock(clock).build().unwrap();
        let _timers: Vec<_> = (0..5)
            .map(|_| driver.handle().timer(std::time::Duration::from_secs(60)))
            .collect();
        let snap = driver.handle().snapshot();
        let gz = snap.to_pprof();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        let p = Profile::decode(&raw[..]).unwrap();
        assert_eq!(p.string_table[0], "");
        let types: Vec<&str> = p
            .sample_type
            .iter()
            .map(|t| p.string_table[t.r#type as usize].as_str())
            .collect();
        assert_eq!(types, ["live_timers", "created_timers"]);
        assert_eq!(
            p.string_table[p.default_sample_type as usize], "live_timers",
            "`go tool pprof -top` must show live timers by default"
        );
        assert_eq!(p.sample.len(), 1);
        assert_eq!(p.sample[0].value, vec![5, 5]);
        let f = &p.function[0];
        assert!(p.string_table[f.filename as usize].ends_with("pprof.rs"));
    }
}
