//! The markdown report: machine, versions, settings and the table.

use std::{fmt::Write as _, time::SystemTime};

use nsed_inference_worker::OnnxRuntime;

use crate::{python::Versions, stats::Latency};

/// One (model, batch size) measurement on both sides.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) model: String,
    pub(crate) batch: usize,
    pub(crate) iterations: usize,
    pub(crate) rust: Latency,
    pub(crate) python: Latency,
    pub(crate) max_probability_diff: f32,
}

/// What the numbers were measured on.
#[derive(Debug)]
pub(crate) struct Machine {
    cpus: usize,
    cpu_model: String,
    date: String,
}

impl Machine {
    pub(crate) fn detect() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let seconds =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self { cpus, cpu_model, date: utc_date_time(seconds) }
    }
}

/// The whole report as markdown.
pub(crate) fn markdown(
    machine: &Machine,
    runtime: &OnnxRuntime,
    python: &Versions,
    threads: usize,
    rounds: usize,
    rows: &[Row],
) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "### Inference latency: Rust (ort) vs Python (onnxruntime)\n");
    let _ = writeln!(
        out,
        "- machine: {} ({} CPUs available to the process), measured {}",
        machine.cpu_model, machine.cpus, machine.date
    );
    let _ = writeln!(
        out,
        "- ONNX Runtime {} on both sides, the same build (`{}`): Rust through ort 2.0.0-rc.15 \
         (`load-dynamic`, {}), Python {} with numpy {}",
        python.onnxruntime,
        runtime.build_info(),
        runtime.path().display(),
        python.python,
        python.numpy
    );
    let _ = writeln!(
        out,
        "- both sides: CPU execution provider, intra-op threads = {threads}, default graph \
         optimisation, same input rows (the first `batch` rows of the held-out split)"
    );
    let _ = writeln!(
        out,
        "- Rust times `Classifier::classify` (input checks, tensor, `Session::run`, outputs to \
         `Vec<Prediction>`); Python times `session.run` (gc off); the calls alternate between the \
         two sides in {rounds} rounds, each after a warm-up of a tenth of its calls (at least 20)"
    );
    let max_diff = rows.iter().map(|r| r.max_probability_diff).fold(0.0f32, f32::max);
    let _ = writeln!(
        out,
        "- predictions agree: identical labels on every row, max |Δ probability| = {max_diff:e}\n"
    );
    let _ = writeln!(
        out,
        "| model | batch | calls per side | rust p50 µs | rust p99 µs | rust mean µs | python p50 µs | \
         python p99 µs | python mean µs | python/rust (p50) | rust rows/s | python rows/s |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let ratio =
            if row.rust.p50_ns > 0.0 { row.python.p50_ns / row.rust.p50_ns } else { f64::NAN };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {ratio:.2}x | {} | {} |",
            row.model,
            row.batch,
            row.iterations,
            micros(row.rust.p50_ns),
            micros(row.rust.p99_ns),
            micros(row.rust.mean_ns),
            micros(row.python.p50_ns),
            micros(row.python.p99_ns),
            micros(row.python.mean_ns),
            rate(row.rust.rows_per_second(row.batch)),
            rate(row.python.rows_per_second(row.batch)),
        );
    }
    out
}

/// Nanoseconds as microseconds with one decimal.
fn micros(nanos: f64) -> String {
    format!("{:.1}", nanos / 1000.0)
}

/// A rate rounded to a whole number with thousands separators.
fn rate(per_second: f64) -> String {
    let whole = per_second.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2026-01-01 12:34 UTC` for seconds since the Unix epoch (Howard Hinnant's civil-from-days).
fn utc_date_time(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (hour, minute) = ((seconds % 86_400) / 3600, (seconds % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_date_time(1_767_225_600 + 3_661), "2026-01-01 01:01 UTC");
    }

    #[test]
    fn rates_get_thousands_separators() {
        assert_eq!(rate(0.4), "0");
        assert_eq!(rate(999.0), "999");
        assert_eq!(rate(1_234_567.0), "1,234,567");
    }
}
