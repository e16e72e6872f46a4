//! `-o table|json|yaml`: tables for people, JSON and YAML for programs.

use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// Something that prints as table rows.
pub trait Tabular {
    const HEADERS: &'static [&'static str];
    fn row(&self) -> Vec<String>;
}

pub fn list<T: Serialize + Tabular>(format: Format, items: &[T]) {
    match format {
        Format::Table => table(T::HEADERS, items.iter().map(Tabular::row).collect()),
        _ => structured(format, items),
    }
}

pub fn one<T: Serialize + Tabular>(format: Format, item: &T) {
    match format {
        Format::Table => table(T::HEADERS, vec![item.row()]),
        _ => structured(format, item),
    }
}

/// JSON or YAML of anything serializable; a table request prints JSON, as no columns are known.
pub fn structured<T: Serialize + ?Sized>(format: Format, item: &T) {
    match format {
        Format::Yaml => print!("{}", serde_yaml::to_string(item).expect("serializable")),
        _ => println!(
            "{}",
            serde_json::to_string_pretty(item).expect("serializable")
        ),
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

pub fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

pub fn bytes(v: Option<u64>) -> String {
    or_dash(v.map(nubes::units::format_bytes))
}

pub fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    or_dash(t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()))
}

/// The first columns of anything a tenant owns: id, name, organization, owner, then `rest`.
pub fn owned(id: &str, name: &str, org_id: &str, owner_id: &str, rest: &[String]) -> Vec<String> {
    let mut row = vec![id.into(), name.into(), org_id.into(), owner_id.into()];
    row.extend_from_slice(rest);
    row
}

/// Seconds since the epoch, as `time` shows them.
pub fn epoch(t: i64) -> String {
    time(chrono::DateTime::from_timestamp(t, 0))
}
