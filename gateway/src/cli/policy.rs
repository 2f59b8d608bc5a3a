//! `fieldguard policy …`: a policy author's and a platform operator's commands.
//!
//! * `test` runs decision cases against a module on this machine, without a server.
//! * `deploy`, `versions`, `activate` and `rollback` call a running gateway's operator API
//!   (GraphQL, with the operator token), so they act on every gateway of its database.

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::authz::LoadedPolicy;
use crate::authz::active::read_policy_file;
use crate::authz::gate;
use crate::config::ServerArgs;
use crate::error::Error;
use fieldguard_policy_cases::CaseFile;

/// Runs the cases (`cases`, or those the module carries) and the contract checks against the
/// module, prints the report, and says whether everything passed.
pub fn test(module: &Path, cases: Option<&Path>) -> Result<bool, Error> {
    let bytes = read_policy_file(module)?;
    let policy = LoadedPolicy::from_wasm(&bytes, module.display().to_string())?;
    let (text, origin) = match cases {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|cause| Error::Io {
                what: format!("reading the cases {}", path.display()),
                cause,
            })?;
            (Some(text), path.display().to_string())
        }
        None => (gate::embedded_cases(&bytes), "carried by the module".to_owned()),
    };
    let file = text
        .map(|text| CaseFile::parse(&text))
        .transpose()
        .map_err(|error| Error::InvalidInput(format!("the cases ({origin}): {error}")))?;
    println!("policy {} ({})", policy.info.name, policy.info.hash);
    match &file {
        Some(_) => println!("cases  {origin}\n"),
        None => println!("cases  none: the module carries none, and no file was given\n"),
    }
    let report = gate::check(&policy, file.as_ref());
    if let Some(cases) = &report.cases {
        print!("{cases}");
    }
    if report.contract_failures.is_empty() {
        println!(
            "contract checks: passed (unknown types, fields and actions denied; answers stable)"
        );
    } else {
        println!("contract checks: {} failed", report.contract_failures.len());
        for failure in &report.contract_failures {
            println!("FAIL {failure}");
        }
    }
    Ok(report.passed())
}

/// Prints who gains and who loses what from `old` to `new`, over the database at `data_dir` or
/// `database_url`, or over the demo data; says whether the two decide everything the same.
pub async fn diff(
    old: &Path,
    new: &Path,
    data_dir: Option<&Path>,
    database_url: Option<&str>,
) -> Result<bool, Error> {
    let load = |path: &Path| -> Result<LoadedPolicy, Error> {
        LoadedPolicy::from_wasm(&read_policy_file(path)?, path.display().to_string())
    };
    let (old, new) = (load(old)?, load(new)?);
    let demo_dir = std::env::temp_dir().join(format!("fieldguard-diff-{}", std::process::id()));
    let (db, over) = match (data_dir, database_url) {
        (_, Some(url)) => (crate::store::open(url).await?, crate::store::redact(url)),
        (Some(dir), None) => {
            let file = dir.join("fieldguard.db");
            if !file.is_file() {
                return Err(Error::Config(format!("there is no database in {}", dir.display())));
            }
            let url = format!("sqlite://{}?mode=rw", file.display());
            (crate::store::open(&url).await?, file.display().to_string())
        }
        (None, None) => {
            std::fs::create_dir_all(&demo_dir).map_err(|cause| Error::Io {
                what: format!("creating {}", demo_dir.display()),
                cause,
            })?;
            let url = format!("sqlite://{}?mode=rwc", demo_dir.join("demo.db").display());
            let db = crate::store::open(&url).await?;
            crate::demo::seed(&db, &crate::store::secrets::Sealer::stored(&demo_dir)?).await?;
            (db, "the demo data".to_owned())
        }
    };
    let review = crate::authz::diff::diff(&db, &old, &new).await;
    db.close().await.ok();
    let _ = std::fs::remove_dir_all(&demo_dir);
    let review = review?;
    println!("who gains (+) and who loses (-) what, over {over}\n");
    print!("{review}");
    Ok(review.is_empty())
}

/// Deploys a module through the gateway's operator API and prints what is in force.
pub async fn deploy(
    server: &ServerArgs,
    file: &Path,
    cases: Option<&Path>,
    note: Option<&str>,
    activate: bool,
) -> Result<(), Error> {
    let data = store(server, file, cases, note, activate).await?;
    print_deployment(if activate { "deployed" } else { "stored" }, &data["deployPolicy"], activate);
    Ok(())
}

/// Sends a module to the gateway's `deployPolicy`; its answer.
async fn store(
    server: &ServerArgs,
    file: &Path,
    cases: Option<&Path>,
    note: Option<&str>,
    activate: bool,
) -> Result<Value, Error> {
    let module = read_policy_file(file)?;
    let cases = match cases {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|cause| Error::Io {
            what: format!("reading the cases {}", path.display()),
            cause,
        })?),
        None => None,
    };
    let input = json!({
        "module": base64::engine::general_purpose::STANDARD.encode(&module),
        "cases": cases,
        "note": note,
        "activate": activate,
    });
    call(
        server,
        &format!(
            "mutation($input: DeployPolicyInput!) {{ deployPolicy(input: $input) {{ {DEPLOYMENT} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}

/// Lists the stored versions.
pub async fn versions(server: &ServerArgs) -> Result<(), Error> {
    let data = call(
        server,
        "{ policyVersions(first: 1000) { hash name contract size deployedBy note deployedAt active } }",
        json!({}),
    )
    .await?;
    let versions = data["policyVersions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        println!("no version was ever deployed to this database");
    }
    for version in versions {
        let marker = if version["active"].as_bool() == Some(true) { "*" } else { " " };
        println!(
            "{marker} {}  {}  {}  {} bytes  {}  by {}{}",
            text(&version["hash"]),
            text(&version["name"]),
            text(&version["contract"]),
            version["size"],
            when(&version["deployedAt"]),
            text(&version["deployedBy"]),
            version["note"].as_str().map(|note| format!("  \"{note}\"")).unwrap_or_default(),
        );
    }
    Ok(())
}

/// Activates a stored version.
pub async fn activate(server: &ServerArgs, hash: &str) -> Result<(), Error> {
    let data = call(
        server,
        &format!("mutation($hash: String!) {{ activatePolicy(hash: $hash) {{ {DEPLOYMENT} }} }}"),
        json!({ "hash": hash }),
    )
    .await?;
    print_deployment("activated", &data["activatePolicy"], true);
    Ok(())
}

/// Starts a shadow (`hash`), stops it (`stop`), or prints its report.
pub async fn shadow(server: &ServerArgs, hash: Option<&str>, stop: bool) -> Result<(), Error> {
    const REPORT: &str =
        "hash name since decisions differences { subject role wouldAllow wouldDeny }";
    let stored;
    let hash = match hash {
        // A module file is stored first, not put in force.
        Some(path) if Path::new(path).is_file() => {
            let data = store(server, Path::new(path), None, None, false).await?;
            stored = text(&data["deployPolicy"]["version"]["hash"]).to_owned();
            Some(stored.as_str())
        }
        other => other,
    };
    let (data, field) = match (hash, stop) {
        (Some(hash), _) => (
            call(
                server,
                &format!(
                    "mutation($hash: String!) {{ startPolicyShadow(hash: $hash) {{ {REPORT} }} }}"
                ),
                json!({ "hash": hash }),
            )
            .await?,
            "startPolicyShadow",
        ),
        (None, true) => (
            call(server, &format!("mutation {{ stopPolicyShadow {{ {REPORT} }} }}"), json!({}))
                .await?,
            "stopPolicyShadow",
        ),
        (None, false) => (
            call(server, &format!("{{ policyShadow {{ {REPORT} }} }}"), json!({})).await?,
            "policyShadow",
        ),
    };
    let report = &data[field];
    if report.is_null() {
        println!("no version is in shadow on this gateway");
        return Ok(());
    }
    let state = match field {
        "startPolicyShadow" => "now in shadow",
        "stopPolicyShadow" => "shadow stopped",
        _ => "in shadow",
    };
    println!(
        "{} ({}) {state} since {}: {} decisions asked",
        text(&report["name"]),
        text(&report["hash"]),
        when(&report["since"]),
        report["decisions"]
    );
    let differences = report["differences"].as_array().cloned().unwrap_or_default();
    if differences.is_empty() {
        println!("no decision differed from the version in force");
    }
    for difference in differences {
        println!(
            "{}  {}: would allow {}, would deny {}",
            text(&difference["subject"]),
            text(&difference["role"]),
            difference["wouldAllow"],
            difference["wouldDeny"]
        );
    }
    Ok(())
}

/// Rolls back to the version in force before the current one.
pub async fn rollback(server: &ServerArgs) -> Result<(), Error> {
    let data =
        call(server, &format!("mutation {{ rollbackPolicy {{ {DEPLOYMENT} }} }}"), json!({}))
            .await?;
    print_deployment("rolled back to", &data["rollbackPolicy"], true);
    Ok(())
}

/// Runs a query as a user through the gateway and prints the answer, then every decision
/// that shaped it.
pub async fn explain(args: &crate::config::ExplainArgs) -> Result<(), Error> {
    let variables: Value = match &args.variables {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Error::InvalidInput(format!("--variables is not JSON: {e}")))?,
        None => json!({}),
    };
    let mut headers = vec![(crate::http::EXPLAIN_HEADER, args.user.clone())];
    if let Some(team) = args.team {
        headers.push((crate::http::auth::TEAM_HEADER, team.to_string()));
    }
    let body = post(&args.server, &headers, &args.query, variables).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "data": body["data"], "errors": body["errors"] }))
            .unwrap_or_default()
    );
    let explain = &body["extensions"]["explain"];
    println!(
        "\nas {} under {} ({})",
        text(&explain["user"]),
        text(&explain["policy"]["name"]),
        text(&explain["policy"]["hash"])
    );
    for decision in explain["decisions"].as_array().into_iter().flatten() {
        let verdict = if decision["allowed"].as_bool() == Some(true) { "ALLOW" } else { "DENY " };
        let type_name = text(&decision["typeName"]);
        let what = match (
            decision["field"].as_str(),
            decision["action"].as_str(),
            decision["visibility"].as_str(),
        ) {
            (Some(field), _, _) => format!("{type_name}.{field}"),
            (_, Some(action), _) => format!("{action} on {type_name}"),
            (_, _, Some(visibility)) => format!("see {type_name}: {visibility}"),
            _ => type_name.to_owned(),
        };
        let mut on = Vec::new();
        if let Some(groups) = decision["securityGroups"].as_array().filter(|g| !g.is_empty()) {
            on.push(format!(
                "groups {}",
                groups.iter().map(Value::to_string).collect::<Vec<_>>().join(",")
            ));
        }
        if let Some(relations) = decision["relations"].as_array().filter(|r| !r.is_empty()) {
            on.push(relations.iter().map(|r| text(r).to_owned()).collect::<Vec<_>>().join(","));
        }
        let on = if on.is_empty() { String::new() } else { format!(" [{}]", on.join("; ")) };
        let reason = decision["reason"].as_str().map(|r| format!("  ({r})")).unwrap_or_default();
        println!("{verdict} {what}{on}{reason}");
    }
    Ok(())
}

const DEPLOYMENT: &str = "version { hash name contract } previousHash casesPassed decisions";

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

/// A timestamp of the API, to the second.
fn when(value: &Value) -> String {
    value
        .as_str()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

fn print_deployment(what: &str, deployment: &Value, in_force: bool) {
    let version = &deployment["version"];
    let where_ = if in_force {
        "in force on every gateway of the database within seconds"
    } else {
        "stored, not in force"
    };
    println!(
        "{what} {} ({}, {}): {where_}",
        text(&version["name"]),
        text(&version["hash"]),
        text(&version["contract"]),
    );
    println!(
        "gate   passed {} decision cases ({} decisions) and the contract checks",
        deployment["casesPassed"], deployment["decisions"]
    );
    println!("before {}", text(&deployment["previousHash"]));
}

/// Sends one GraphQL operation to the gateway's operator API; its `data`, or the errors
/// (with the failures of a refused version) as one message.
async fn call(server: &ServerArgs, query: &str, variables: Value) -> Result<Value, Error> {
    let body = post(server, &[], query, variables).await?;
    Ok(body["data"].clone())
}

/// Posts one GraphQL operation with the operator token and `headers`; the whole response, or
/// its errors (with the failures of a refused version) as one message.
async fn post(
    server: &ServerArgs,
    headers: &[(&str, String)],
    query: &str,
    variables: Value,
) -> Result<Value, Error> {
    let token = server.operator_token.as_deref().ok_or_else(|| {
        Error::Config(
            "set FIELDGUARD_OPERATOR_TOKEN (or --operator-token) to the gateway's operator token"
                .into(),
        )
    })?;
    let url = format!("{}/graphql", server.server.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| Error::Server(format!("cannot reach {url}: {e}"));
    let mut request = reqwest::Client::new().post(&url).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| {
        Error::Server(format!("{url} answered {status} without a GraphQL response: {e}"))
    })?;
    if let Some(errors) = body["errors"].as_array().filter(|errors| !errors.is_empty()) {
        let mut lines = Vec::new();
        for error in errors {
            let code = text(&error["extensions"]["code"]);
            lines.push(format!("{} ({code})", text(&error["message"])));
            if code == "UNAUTHENTICATED" {
                lines.push(
                    "  the gateway did not take the operator token: is it the one the gateway was \
                     started with (--operator-token)? A gateway without one has no operator API"
                        .into(),
                );
            }
            for failure in error["extensions"]["failures"].as_array().into_iter().flatten() {
                lines.push(format!("  - {}", text(failure)));
            }
        }
        if body["data"].is_null() || body["extensions"]["explain"].is_null() {
            return Err(Error::Server(lines.join("\n")));
        }
    }
    Ok(body)
}
