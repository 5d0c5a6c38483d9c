//! XML and CSV bodies. Both escape every value; CSV cells that a spreadsheet would run as
//! a formula are neutralised.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::record::{Record, FIELDS};

/// Characters XML 1.0 cannot carry at all, even escaped.
fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

fn element(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> std::io::Result<()> {
    if value.is_empty() {
        w.write_event(Event::Empty(BytesStart::new(name)))?;
    } else {
        w.write_event(Event::Start(BytesStart::new(name)))?;
        w.write_event(Event::Text(BytesText::new(&xml_safe(value))))?;
        w.write_event(Event::End(BytesEnd::new(name)))?;
    }
    Ok(())
}

/// `<recordings><file>...</file></recordings>`, what the seed's sample means to show.
pub fn xml(records: &[Record]) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 0);
    let mut write = || -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(BytesStart::new("recordings")))?;
        for r in records {
            w.write_event(Event::Start(BytesStart::new("file")))?;
            for (name, value) in FIELDS.iter().zip(&r.values) {
                element(&mut w, name, value)?;
            }
            w.write_event(Event::End(BytesEnd::new("file")))?;
        }
        w.write_event(Event::End(BytesEnd::new("recordings")))
    };
    write().expect("writing XML to memory cannot fail");
    let mut out = w.into_inner();
    out.push(b'\n');
    out
}

/// `<error>` for requests that asked for XML.
pub fn xml_error(status: u16, field: Option<&str>, message: &str) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 0);
    let mut write = || -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(BytesStart::new("error")))?;
        element(&mut w, "status", &status.to_string())?;
        if let Some(f) = field {
            element(&mut w, "field", f)?;
        }
        element(&mut w, "message", message)?;
        w.write_event(Event::End(BytesEnd::new("error")))
    };
    write().expect("writing XML to memory cannot fail");
    w.into_inner()
}

/// A cell a spreadsheet would evaluate gets a leading `'`, as OWASP advises: one whose
/// first character is `=`, `+`, `-`, `@`, tab or CR, also after leading whitespace
/// (spreadsheets trim it before they evaluate). Signed plain numbers (`+14155551234`,
/// `-5`) are not formulas and are left alone so phone numbers survive. Control
/// characters other than tab and line breaks (NUL above all) are dropped, as in XML.
pub fn csv_cell(value: &str) -> String {
    let value: String = value
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let head = value.trim_start_matches(|c: char| c.is_whitespace() && c != '\t' && c != '\r');
    let Some(first) = head.chars().next() else {
        return value;
    };
    let risky = matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r');
    let plain_number = matches!(first, '+' | '-')
        && head.len() > 1
        && head[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b' ');
    if risky && !plain_number {
        format!("'{value}")
    } else {
        value
    }
}

pub fn csv(records: &[Record]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>| -> csv::Result<()> {
        w.write_record(FIELDS)?;
        for r in records {
            w.write_record(r.values.iter().map(|v| csv_cell(v)))?;
        }
        w.flush()?;
        Ok(())
    };
    write(&mut w).expect("writing CSV to memory cannot fail");
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("+14155551234"), "+14155551234");
        assert_eq!(csv_cell("-5"), "-5");
        assert_eq!(csv_cell("bill"), "bill");
        assert_eq!(csv_cell(""), "");
    }

    #[test]
    fn formulas_behind_leading_whitespace_are_neutralised() {
        assert_eq!(csv_cell(" =1+1"), "' =1+1");
        assert_eq!(csv_cell("\u{a0}\n@SUM(A1)"), "'\u{a0}\n@SUM(A1)");
        assert_eq!(csv_cell("  -2+3"), "'  -2+3");
        assert_eq!(csv_cell(" +14155551234"), " +14155551234");
        assert_eq!(csv_cell("   "), "   ");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(csv_cell("a\u{0}b\u{1b}c"), "abc");
        assert_eq!(csv_cell("\u{0}=1"), "'=1");
    }

    #[test]
    fn xml_drops_unencodable_characters() {
        assert_eq!(xml_safe("a\u{1}b\u{FFFE}c"), "abc");
    }
}
