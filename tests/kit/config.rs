//! Configurations parsed from YAML, applications built from them, and samples of their metrics.

use altgate::config::Config;
use altgate::metrics::Metrics;
use altgate::App;
use std::sync::Arc;

/// `yaml` parsed and validated; a refusal fails the test with the issues and the YAML.
pub fn parse(yaml: &str) -> Config {
    Config::parse(yaml, "test").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The application a configuration builds.
pub fn app(yaml: &str) -> Arc<App> {
    App::new(parse(yaml)).expect("build app")
}

/// Reads one sample of a metric from the text exposition, e.g.
/// `metric(&m, "altgate_forest_up{forest=\"contoso.com\"}")`.
/// Label names must be written in the exposition's (alphabetical) order, or the series would
/// silently never match; that is checked here.
pub fn metric(m: &Metrics, series: &str) -> f64 {
    if let Some((_, labels)) = series.split_once('{') {
        let names: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(
            names, sorted,
            "write the labels of {series} in alphabetical order"
        );
    }
    let text = m.render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// The sum of every series of `name` in an exposition `text` whose labels start with `labels`
/// (e.g. `domain="fabrikam.com"`; empty: every series). Series created at zero count as 0, so
/// "nothing happened" is a total of 0, not a missing series.
pub fn total(text: &str, name: &str, labels: &str) -> f64 {
    let prefix = format!("{name}{{{labels}");
    text.lines()
        .filter(|l| {
            l.starts_with(&prefix) || (labels.is_empty() && l.starts_with(&format!("{name} ")))
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// The value of one series (`name{labels}` as exposed) in an exposition `text`, if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.trim().parse::<f64>().ok())
    })
}
