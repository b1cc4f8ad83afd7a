//! Reading an uploaded file into a sheet: the first sheet of a workbook (`.xlsx`, `.xls`) or a
//! CSV file in UTF-8 or GB18030/GBK; what is not what it claims, too large, or unpacks to too
//! much is refused with a clear error, never half read.

use std::io::Cursor;

use shangji_core::import::{Cell, Sheet};
use time::{Date, PrimitiveDateTime, Time};

use crate::error::AppError;

/// The largest file taken.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// The most data rows a file may have (larger ones are split).
pub const MAX_ROWS: usize = 200_000;
/// The most a compressed workbook may unpack to (a zip bomb is refused before it is read).
const MAX_UNPACKED_BYTES: u64 = 400 * 1024 * 1024;

pub(super) fn file_error(code: &str, message: impl Into<String>) -> AppError {
    AppError::invalid("file", code, message)
}

/// Reads the first sheet of a workbook or a CSV file (UTF-8, with or without a byte-order
/// mark, or GB18030/GBK as Excel in China saves it): the first non-empty row is the header.
pub fn read_sheet(file_name: &str, bytes: &[u8]) -> Result<Sheet, AppError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(file_error(
            "file_too_large",
            format!(
                "the file is larger than {} MB",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        ));
    }
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let zip = bytes.starts_with(b"PK\x03\x04");
    let ole = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let rows = match ext.as_str() {
        "xlsx" | "xlsm" if zip => read_workbook(bytes, true)?,
        "xls" if ole || zip => read_workbook(bytes, zip)?,
        "xlsx" | "xlsm" | "xls" => {
            return Err(file_error(
                "not_a_workbook",
                format!("the file is called .{ext} but is not an Excel workbook"),
            ))
        }
        "csv" | "txt" if !zip && !ole => read_csv(bytes)?,
        "csv" | "txt" => {
            return Err(file_error(
                "not_csv",
                "the file is called .csv but is a workbook; save it as .xlsx or as CSV",
            ))
        }
        _ => {
            return Err(file_error(
                "unknown_format",
                "only .xlsx, .xls and .csv files can be imported",
            ))
        }
    };
    let mut rows = rows.into_iter();
    let headers: Vec<String> = rows
        .by_ref()
        .find(|r| r.iter().any(|c| *c != Cell::Empty))
        .ok_or_else(|| file_error("empty_file", "the file has no rows"))?
        .iter()
        .map(Cell::text)
        .collect();
    let rows: Vec<Vec<Cell>> = rows.collect();
    if rows.len() > MAX_ROWS {
        return Err(file_error(
            "too_many_rows",
            format!(
                "the file has {} rows; at most {MAX_ROWS} are imported at once — split it",
                rows.len()
            ),
        ));
    }
    Ok(Sheet { headers, rows })
}

fn read_workbook(bytes: &[u8], zip: bool) -> Result<Vec<Vec<Cell>>, AppError> {
    use calamine::{Data, Reader};
    if zip {
        // What the archive says it unpacks to, before anything is unpacked.
        let archive = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|_| file_error("corrupt_file", "the workbook cannot be read (corrupt)"))?;
        let unpacked: u64 = archive.decompressed_size().map_or(u64::MAX, |n| n as u64);
        if unpacked > MAX_UNPACKED_BYTES {
            return Err(file_error(
                "file_too_large",
                "the workbook unpacks to more than 400 MB",
            ));
        }
    }
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|_| file_error("corrupt_file", "the workbook cannot be read (corrupt)"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| file_error("empty_file", "the workbook has no sheet"))?
        .map_err(|_| file_error("corrupt_file", "the first sheet cannot be read"))?;
    if range.height() > MAX_ROWS + 10 {
        return Err(file_error(
            "too_many_rows",
            format!(
                "the file has {} rows; at most {MAX_ROWS} are imported at once — split it",
                range.height()
            ),
        ));
    }
    Ok(range
        .rows()
        .map(|r| {
            r.iter()
                .map(|d| match d {
                    Data::Empty | Data::Error(_) => Cell::Empty,
                    Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                        Cell::Text(s.clone())
                    }
                    Data::Int(i) => Cell::Number(*i as f64),
                    Data::Float(f) => Cell::Number(*f),
                    Data::Bool(b) => Cell::Bool(*b),
                    // Formatted as a date (or a duration, which nobody imports).
                    Data::DateTime(d) => {
                        excel_date(d.as_f64()).map_or(Cell::Number(d.as_f64()), Cell::DateTime)
                    }
                })
                .collect()
        })
        .collect())
}

/// An Excel date serial number (days since 1899-12-30, the fraction the time of day).
fn excel_date(serial: f64) -> Option<PrimitiveDateTime> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
    let days = serial.trunc() as i64;
    let secs = ((serial - serial.trunc()) * 86_400.0).round() as i64;
    let date = epoch.checked_add(time::Duration::days(days))?;
    let time = Time::MIDNIGHT + time::Duration::seconds(secs.min(86_399));
    Some(PrimitiveDateTime::new(date, time))
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Vec<Cell>>, AppError> {
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(t) => t.to_string(),
        Err(_) => {
            let (t, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(file_error(
                    "unknown_encoding",
                    "the CSV file is neither UTF-8 nor GB18030/GBK",
                ));
            }
            t.into_owned()
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.map_err(|e| file_error("corrupt_file", format!("row {}: {e}", i + 1)))?;
        if rows.len() > MAX_ROWS + 10 {
            return Err(file_error(
                "too_many_rows",
                format!("the file has more than {MAX_ROWS} rows — split it"),
            ));
        }
        rows.push(
            r.iter()
                .map(|c| {
                    if c.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(c.to_string())
                    }
                })
                .collect(),
        );
    }
    Ok(rows)
}
