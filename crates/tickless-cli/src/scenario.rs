//! A bench suite's results: scenarios with a value per implementation,
//! printed as markdown tables (a column per implementation) and written as
//! JSON; and the flags every suite shares.

use std::process::ExitCode;

use clap::Args;

/// The flags every bench suite takes, before or after the suite's name.
#[derive(Args, Debug, Clone)]
pub(crate) struct Common {
    /// Small sizes and short runs (seconds): for smoke tests.
    #[arg(long, global = true)]
    pub(crate) quick: bool,
    #[arg(long, global = true, value_name = "FILE", value_parser = crate::out::json_to,
          help = crate::out::JSON_HELP)]
    pub(crate) json: Option<crate::out::JsonTo>,
}

/// An `--only` parser: `text` must be part of one of `keys`.
pub(crate) fn only_of(keys: &[&str], text: &str) -> Result<String, String> {
    if !text.is_empty() && keys.iter().any(|k| k.contains(text)) {
        Ok(text.to_string())
    } else {
        Err(format!("matches no scenario (one of: {})", keys.join(", ")))
    }
}

/// One scenario: a value per implementation (`None` where it does not apply).
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) lower_is_better: bool,
    pub(crate) columns: Vec<(&'static str, Option<f64>)>,
}

/// Writes the JSON if `--json` asked for it: an array of
/// `{"scenario", "unit", "lower_is_better", "results": {implementation: value}}`
/// (`null` where a value does not apply or was not measured).
pub(crate) fn finish_json(common: &Common, results: &[Scenario]) -> ExitCode {
    let Some(to) = &common.json else {
        return ExitCode::SUCCESS;
    };
    match crate::out::write_json(to, &json(results)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::note(format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Markdown tables, one column per implementation with its ratio to the
/// first; consecutive scenarios with the same implementations share a table.
pub(crate) fn print_table(results: &[Scenario]) {
    for line in table(results) {
        crate::say(line);
    }
}

fn table(results: &[Scenario]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut previous: Option<Vec<&str>> = None;
    for s in results {
        let names: Vec<&str> = s.columns.iter().map(|c| c.0).collect();
        if previous.as_ref() != Some(&names) {
            if previous.is_some() {
                lines.push(String::new());
            }
            lines.push(format!(
                "| scenario | unit | better | {} |",
                names.join(" | ")
            ));
            lines.push(format!("|---|---|---|{}", "---:|".repeat(names.len())));
            previous = Some(names);
        }
        let base = s.columns.first().and_then(|c| c.1).unwrap_or(f64::NAN);
        let cells: Vec<String> = s
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, v))| match v {
                None => "n/a".to_string(),
                Some(v) if i == 0 => format!("{v:.1}"),
                // No ratio to a zero (e.g. no early closes).
                Some(v) if base == 0.0 => format!("{v:.1}"),
                Some(v) => format!("{v:.1} ({:.2}×)", v / base),
            })
            .collect();
        let better = if s.lower_is_better { "lower" } else { "higher" };
        lines.push(format!(
            "| {} | {} | {better} | {} |",
            s.name,
            s.unit,
            cells.join(" | ")
        ));
    }
    lines
}

fn json(results: &[Scenario]) -> serde_json::Value {
    results
        .iter()
        .map(|s| {
            let values: serde_json::Map<String, serde_json::Value> = s
                .columns
                .iter()
                .map(|(name, v)| {
                    let value = v.map_or(serde_json::Value::Null, crate::out::number);
                    ((*name).to_string(), value)
                })
                .collect();
            serde_json::json!({
                "scenario": s.name,
                "unit": s.unit,
                "lower_is_better": s.lower_is_better,
                "results": values,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &'static str, columns: &[(&'static str, Option<f64>)]) -> Scenario {
        Scenario {
            name,
            unit: "ns/op",
            lower_is_better: true,
            columns: columns.to_vec(),
        }
    }

    #[test]
    fn a_column_per_implementation_and_a_table_per_column_set() {
        let lines = table(&[
            scenario("a", &[("x", Some(2.0)), ("y", Some(3.0))]),
            scenario("b", &[("x", Some(0.0)), ("y", None)]),
            scenario("c", &[("x", Some(1.0)), ("z", Some(4.0))]),
        ]);
        assert_eq!(
            lines,
            [
                "| scenario | unit | better | x | y |",
                "|---|---|---|---:|---:|",
                "| a | ns/op | lower | 2.0 | 3.0 (1.50×) |",
                "| b | ns/op | lower | 0.0 | n/a |",
                "",
                "| scenario | unit | better | x | z |",
                "|---|---|---|---:|---:|",
                "| c | ns/op | lower | 1.0 | 4.0 (4.00×) |",
            ]
        );
    }

    #[test]
    fn json_escapes_names_and_keeps_the_column_order() {
        let doc = json(&[scenario(
            "quote \" and \\ backslash",
            &[
                ("z \"peer\"", Some(1.5)),
                ("a", Some(f64::NAN)),
                ("m", None),
            ],
        )]);
        let text = doc.to_string();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back[0]["scenario"], "quote \" and \\ backslash");
        let results = back[0]["results"].as_object().unwrap();
        let keys: Vec<&str> = results.keys().map(String::as_str).collect();
        assert_eq!(keys, ["z \"peer\"", "a", "m"]);
        assert_eq!(results["z \"peer\""], 1.5);
        assert!(results["a"].is_null() && results["m"].is_null());
    }

    #[test]
    fn only_must_match_a_scenario() {
        assert_eq!(only_of(&["churn", "reset"], "chu"), Ok("chu".into()));
        assert!(only_of(&["churn"], "nope").is_err());
        assert!(only_of(&["churn"], "").is_err());
    }
}
