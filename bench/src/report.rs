//! The figures of a run: each with its samples (one per repeat), the baseline it is compared
//! with in the same run, the ratio (the median of the per-repeat ratios), and the goal.

use serde::Serialize;

/// One line of the result table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: &'static str,
    pub figure: String,
    pub unit: &'static str,
    /// Median over the repeats.
    pub value: Option<f64>,
    pub samples: Vec<f64>,
    /// What the figure is compared with (measured in the same run, interleaved).
    pub baseline_label: Option<String>,
    pub baseline: Option<f64>,
    /// Median of the per-repeat ratios value / baseline (paired, not a ratio of medians).
    pub ratio: Option<f64>,
    pub ratio_samples: Vec<f64>,
    pub goal: Option<String>,
    pub met: Option<bool>,
    /// "skipped: <reason>", caveats, error counts.
    pub note: String,
}

impl Row {
    pub fn new(section: &'static str, figure: impl Into<String>, unit: &'static str) -> Self {
        Self {
            section,
            figure: figure.into(),
            unit,
            value: None,
            samples: Vec::new(),
            baseline_label: None,
            baseline: None,
            ratio: None,
            ratio_samples: Vec::new(),
            goal: None,
            met: None,
            note: String::new(),
        }
    }

    pub fn samples(mut self, samples: Vec<f64>) -> Self {
        self.value = median(&samples);
        self.samples = samples;
        self
    }

    /// The baseline and the paired ratios (one per repeat).
    pub fn against(mut self, label: impl Into<String>, baseline: &[f64], ratios: Vec<f64>) -> Self {
        self.baseline_label = Some(label.into());
        self.baseline = median(baseline);
        self.ratio = median(&ratios);
        self.ratio_samples = ratios;
        self
    }

    /// A goal and whether the measured figure meets it (`check` sees value and ratio).
    pub fn goal(
        mut self,
        text: &str,
        check: impl Fn(Option<f64>, Option<f64>) -> Option<bool>,
    ) -> Self {
        self.goal = Some(text.to_owned());
        self.met = check(self.value, self.ratio);
        self
    }

    pub fn note(mut self, note: impl AsRef<str>) -> Self {
        let note = note.as_ref();
        if !note.is_empty() {
            if !self.note.is_empty() {
                self.note.push_str("; ");
            }
            self.note.push_str(note);
        }
        self
    }

    pub fn skipped(section: &'static str, figure: impl Into<String>, reason: &str) -> Self {
        Self::new(section, figure, "").note(format!("skipped: {reason}"))
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Element-wise a / b for paired samples.
pub fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, b)| **b != 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// Element-wise a - b for paired samples.
pub fn diffs(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a - b).collect()
}

pub fn fmt_value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else {
        return "-".into();
    };
    let n = match unit {
        "us" | "req/s" | "keys" => format!("{v:.0}"),
        "MiB" => format!("{v:.1}"),
        "ms" if v >= 100.0 => format!("{v:.0}"),
        "ms" => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    };
    if unit.is_empty() {
        n
    } else {
        format!("{n} {unit}")
    }
}

pub fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.3}x"),
    }
}

/// The table, section by section, as plain text.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let headers = ["figure", "value", "baseline", "ratio", "goal", "note"];
    let mut section = "";
    let mut lines: Vec<[String; 6]> = Vec::new();
    let mut sections: Vec<(&str, Vec<[String; 6]>)> = Vec::new();
    for r in rows {
        if r.section != section {
            if !lines.is_empty() {
                sections.push((section, std::mem::take(&mut lines)));
            }
            section = r.section;
        }
        let baseline = match (&r.baseline_label, r.baseline) {
            (Some(l), b) => format!("{l}: {}", fmt_value(b, r.unit)),
            (None, _) => String::new(),
        };
        let goal = match (&r.goal, r.met) {
            (Some(g), Some(true)) => format!("{g} (met)"),
            (Some(g), Some(false)) => format!("{g} (MISSED)"),
            (Some(g), None) => g.clone(),
            (None, _) => String::new(),
        };
        let value = if r.note.starts_with("skipped") {
            "-".into()
        } else {
            fmt_value(r.value, r.unit)
        };
        let ratio = if r.baseline_label.is_some() {
            fmt_ratio(r.ratio)
        } else {
            String::new()
        };
        lines.push([
            r.figure.clone(),
            value,
            baseline,
            ratio,
            goal,
            r.note.clone(),
        ]);
    }
    if !lines.is_empty() {
        sections.push((section, lines));
    }
    for (name, lines) in sections {
        let mut w = headers.map(str::len);
        for l in &lines {
            for (i, c) in l.iter().enumerate().take(5) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        out.push_str(&format!("\n## {name}\n\n"));
        let fmt = |cells: [&str; 6]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i < 5 {
                    s.push_str(&format!("{c:<width$}  ", width = w[i]));
                } else {
                    s.push_str(c);
                }
            }
            s.trim_end().to_owned() + "\n"
        };
        out.push_str(&fmt(headers));
        let sep: [String; 6] = [0, 1, 2, 3, 4, 5].map(|i| "-".repeat(if i < 5 { w[i] } else { 4 }));
        out.push_str(&fmt(sep.each_ref().map(String::as_str)));
        for l in &lines {
            out.push_str(&fmt(l.each_ref().map(String::as_str)));
        }
    }
    out
}

/// The same table as Markdown (for docs/benchmarks.md).
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::new();
    let mut section = "";
    for r in rows {
        if r.section != section {
            section = r.section;
            out.push_str(&format!(
                "\n**{section}**\n\n| figure | value | baseline | ratio | goal | note |\n|---|---|---|---|---|---|\n"
            ));
        }
        let baseline = match (&r.baseline_label, r.baseline) {
            (Some(l), b) => format!("{l}: {}", fmt_value(b, r.unit)),
            (None, _) => String::new(),
        };
        let goal = match (&r.goal, r.met) {
            (Some(g), Some(true)) => format!("{g} ✓"),
            (Some(g), Some(false)) => format!("{g} **missed**"),
            (Some(g), None) => g.clone(),
            (None, _) => String::new(),
        };
        let value = if r.note.starts_with("skipped") {
            "-".into()
        } else {
            fmt_value(r.value, r.unit)
        };
        let ratio = if r.baseline_label.is_some() {
            fmt_ratio(r.ratio)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.figure,
            value,
            baseline,
            ratio,
            goal.replace('|', "\\|"),
            r.note.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn paired_ratios_skip_zero_baselines() {
        assert_eq!(ratios(&[2.0, 3.0, 4.0], &[1.0, 0.0, 2.0]), vec![2.0, 2.0]);
    }
}
