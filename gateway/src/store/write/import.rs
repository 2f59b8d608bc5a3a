//! Importing members from a CSV file: each row becomes an invitation, with one result per row.
//!
//! The header row is `email,portalRole,products,orchestratorRole,processHubRole` (in any order;
//! only `email` and `portalRole` are required); products are separated by `;`. A file that
//! cannot be read as CSV is refused whole; a row that cannot be read is reported on its own
//! line while the others go through.

use sea_orm::ActiveEnum;

use super::Write;
use super::members::{ItemError, MAX_IMPORT_ROWS, Offer, Outcome, Terms, offer};
use crate::error::Error;
use crate::store::entity::*;

/// The columns a file may have.
const COLUMNS: [&str; 5] =
    ["email", "portalRole", "products", "orchestratorRole", "processHubRole"];

/// Invites every row of `csv` as a member of the acting team.
pub async fn import(w: &mut Write<'_>, csv: &str) -> Result<Vec<Outcome>, Error> {
    let offers = read(csv)?;
    offer(w, "import-members", "import members", offers).await
}

/// Reads the rows of a file into offers; a file that is not a CSV of members is refused whole.
pub fn read(csv: &str) -> Result<Vec<Offer>, Error> {
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(csv.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| Error::InvalidInput(format!("the file is not CSV: {e}")))?
        .clone();
    let position = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    if let Some(unknown) =
        headers.iter().find(|h| !COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(h)))
    {
        return Err(Error::InvalidInput(format!(
            "line 1: unknown column `{unknown}`; the header row is {}",
            COLUMNS.join(",")
        )));
    }
    let (Some(email), Some(role)) = (position("email"), position("portalRole")) else {
        return Err(Error::InvalidInput(format!(
            "line 1: the header row must name at least email and portalRole ({})",
            COLUMNS.join(",")
        )));
    };
    let (products, orchestrator, hub) =
        (position("products"), position("orchestratorRole"), position("processHubRole"));
    let mut offers = Vec::new();
    // The line a person sees in their editor: counted from the record's byte offset (the
    // reader's own count leaves out blank lines).
    let (mut counted_to, mut line) = (0usize, 1u64);
    let mut line_at = |byte: usize| {
        // The reader's offset can stand before the blank lines it skipped.
        let skipped = csv.as_bytes()[byte.min(csv.len())..]
            .iter()
            .take_while(|b| matches!(b, b'\n' | b'\r'))
            .count();
        let byte = (byte + skipped).min(csv.len());
        if byte > counted_to {
            line += csv.as_bytes()[counted_to..byte].iter().filter(|b| **b == b'\n').count() as u64;
            counted_to = byte;
        }
        line
    };
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or_default();
            Error::InvalidInput(format!("line {line}: the file is not well-formed CSV: {e}"))
        })?;
        let line = record.position().map(|p| line_at(p.byte() as usize)).unwrap_or_default();
        if record.iter().all(str::is_empty) {
            continue;
        }
        if offers.len() == MAX_IMPORT_ROWS {
            return Err(Error::Limit {
                code: "TOO_MANY_ROWS",
                message: format!(
                    "the file has more than {MAX_IMPORT_ROWS} rows; import it in parts of at most {MAX_IMPORT_ROWS}"
                ),
            });
        }
        let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).unwrap_or("");
        let address = cell(Some(email)).to_owned();
        let item = terms(cell(Some(role)), cell(products), cell(orchestrator), cell(hub))
            .map(|terms| (address.clone(), terms))
            .map_err(|error| ((!address.is_empty()).then(|| address.clone()), error));
        offers.push(Offer { line: Some(line), item });
    }
    if offers.is_empty() {
        return Err(Error::InvalidInput("the file has a header row but no members".into()));
    }
    Ok(offers)
}

fn terms(role: &str, products: &str, orchestrator: &str, hub: &str) -> Result<Terms, ItemError> {
    let invalid = |message: String| ItemError { code: "INVALID_INPUT", message };
    let portal_role = parse::<PortalRole>(role, "portalRole").map_err(invalid)?;
    let products = products
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| parse::<Product>(p, "product"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let orchestrator_role =
        optional::<OrchestratorRole>(orchestrator, "orchestratorRole").map_err(invalid)?;
    let process_hub_role = optional::<ProcessHubRole>(hub, "processHubRole").map_err(invalid)?;
    Ok(Terms { portal_role, products, orchestrator_role, process_hub_role })
}

fn optional<E: ActiveEnum<Value = String> + sea_orm::Iterable>(
    text: &str,
    column: &str,
) -> Result<Option<E>, String> {
    if text.is_empty() { Ok(None) } else { parse(text, column).map(Some) }
}

fn parse<E: ActiveEnum<Value = String> + sea_orm::Iterable>(
    text: &str,
    column: &str,
) -> Result<E, String> {
    let wanted = text.trim().to_uppercase().replace([' ', '-'], "_");
    E::try_from_value(&wanted).map_err(|_| {
        let known: Vec<String> = E::iter().map(|v| v.to_value()).collect();
        if text.trim().is_empty() {
            format!("{column} is missing; expected one of {}", known.join(", "))
        } else {
            format!("unknown {column} `{text}`; expected one of {}", known.join(", "))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_with_their_lines() -> Result<(), Error> {
        let offers = read(
            "email,portalRole,products,orchestratorRole,processHubRole\n\
             a@x.test,MEMBER,ORCHESTRATOR;STUDIO_PRO,DEVELOPER,\n\
             \n\
             b@x.test,admin,,,\n\
             c@x.test,OWNR,,,\n",
        )?;
        assert_eq!(offers.len(), 3);
        let Ok((email, terms)) = &offers[0].item else { panic!("row 2 is valid") };
        assert_eq!(email, "a@x.test");
        assert_eq!(terms.products, vec![Product::Orchestrator, Product::StudioPro]);
        assert_eq!(terms.orchestrator_role, Some(OrchestratorRole::Developer));
        assert_eq!(offers[1].line, Some(4));
        assert!(matches!(&offers[1].item, Ok((_, t)) if t.portal_role == PortalRole::Admin));
        let Err((_, error)) = &offers[2].item else { panic!("row 5 has an unknown role") };
        assert!(error.message.contains("unknown portalRole `OWNR`"), "{}", error.message);
        Ok(())
    }

    #[test]
    fn refuses_files_that_are_not_member_lists() {
        for (file, says) in [
            ("mail,role\nx@y.test,MEMBER\n", "unknown column `mail`"),
            ("email\nx@y.test\n", "at least email and portalRole"),
            ("email,portalRole\nx@y.test,MEMBER,extra\n", "not well-formed"),
            ("email,portalRole\n", "no members"),
        ] {
            match read(file) {
                Err(Error::InvalidInput(message)) => assert!(message.contains(says), "{message}"),
                other => panic!("{file:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_more_rows_than_the_limit() {
        let mut file = String::from("email,portalRole\n");
        for n in 0..=MAX_IMPORT_ROWS {
            file.push_str(&format!("user{n}@x.test,MEMBER\n"));
        }
        assert!(matches!(read(&file), Err(Error::Limit { code: "TOO_MANY_ROWS", .. })));
    }
}
