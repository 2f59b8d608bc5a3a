//! Every field of every object type goes through the policy.
//!
//! The walk reads `schema.graphql`, builds queries that reach every object type and select
//! every field, and runs them against policies that refuse: each field must come back `null`
//! with `FORBIDDEN` (or its object must be absent) — reached directly, through aliases, through
//! inline fragments and through named fragments. A field added to the schema is walked too.
//! (The types only mutations and subscriptions return are covered by `management`: every
//! mutation refused under a deny-all policy. The platform operator's API is not decided by the
//! policy and is left to `lifecycle`.)

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use super::TestServer;
use fieldguard_e2e::{OPERATOR_API, Reply, ensure};
use serde_json::Value;

/// A field of an object type.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    /// The named type, without list and non-null wrappers.
    base: String,
    /// Arguments without which the field cannot be selected.
    required: Vec<String>,
}

/// What the walk needs of the schema.
struct Sdl {
    objects: BTreeMap<String, Vec<Field>>,
    /// Interfaces, with the object types that implement them.
    interfaces: BTreeMap<String, Vec<String>>,
}

impl Sdl {
    fn load() -> anyhow::Result<Self> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
        let text = std::fs::read_to_string(path)?;
        let mut objects = BTreeMap::new();
        let mut interfaces: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<(String, Vec<Field>)> = None;
        let mut in_description = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("\"\"\"") {
                let whole_description_on_one_line = line.len() > 3 && line.ends_with("\"\"\"");
                if !whole_description_on_one_line {
                    in_description = !in_description;
                }
                continue;
            }
            if in_description || line.is_empty() || line.starts_with('"') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("type ") {
                let name = rest.split_whitespace().next().unwrap_or_default().to_owned();
                if let Some((_, implemented)) = rest.split_once(" implements ") {
                    for interface in implemented.trim_end_matches('{').split('&') {
                        interfaces
                            .entry(interface.trim().to_owned())
                            .or_default()
                            .push(name.clone());
                    }
                }
                current = Some((name, Vec::new()));
            } else if let Some(rest) = line.strip_prefix("interface ") {
                let name = rest.split_whitespace().next().unwrap_or_default().to_owned();
                interfaces.entry(name).or_default();
            } else if line == "}" {
                if let Some((name, fields)) = current.take() {
                    objects.insert(name, fields);
                }
            } else if let Some((_, fields)) = current.as_mut() {
                let (head, ty) = line.rsplit_once(':').unwrap_or((line, ""));
                let (name, args) = head.split_once('(').unwrap_or((head, ""));
                let required = args
                    .trim_end_matches(')')
                    .split(',')
                    .filter(|arg| arg.trim_end().ends_with('!') && !arg.contains('='))
                    .filter_map(|arg| arg.split(':').next().map(|n| n.trim().to_owned()))
                    .collect();
                let base = ty.trim().trim_matches(|c| c == '[' || c == ']' || c == '!').to_owned();
                // The operator's API is not the policy's (see `lifecycle`).
                if OPERATOR_API.contains(&name.trim()) {
                    continue;
                }
                fields.push(Field { name: name.trim().to_owned(), base, required });
            }
        }
        Ok(Self { objects, interfaces })
    }

    /// The object types a query can reach from `root`, through fields and interfaces.
    fn reachable_from(&self, root: &str) -> HashSet<String> {
        let mut seen = HashSet::from([root.to_owned()]);
        let mut queue = VecDeque::from([root.to_owned()]);
        while let Some(type_name) = queue.pop_front() {
            let mut next: Vec<String> = self
                .objects
                .get(&type_name)
                .map(|fields| fields.iter().map(|f| f.base.clone()).collect())
                .unwrap_or_default();
            if let Some(implementers) = self.interfaces.get(&type_name) {
                next.extend(implementers.iter().cloned());
            }
            for name in next {
                if (self.is_object(&name) || self.is_interface(&name)) && seen.insert(name.clone())
                {
                    queue.push_back(name);
                }
            }
        }
        seen
    }

    fn is_object(&self, name: &str) -> bool {
        self.objects.contains_key(name)
    }

    fn is_interface(&self, name: &str) -> bool {
        self.interfaces.contains_key(name)
    }
}

/// How the walk selects fields.
#[derive(Clone, Copy, Debug)]
enum Style {
    Direct,
    Aliased,
    InlineFragments,
    NamedFragments,
}

struct Walk<'a> {
    sdl: &'a Sdl,
    style: Style,
    /// Where each object type is expanded: its shallowest occurrence, (parent type, field).
    site: HashMap<String, (String, String)>,
    fragments: Vec<String>,
}

impl Walk<'_> {
    fn selection(&mut self, type_name: &str) -> String {
        let fields = self.sdl.objects.get(type_name).cloned().unwrap_or_default();
        let mut parts = Vec::new();
        for field in fields {
            let args = if field.required.is_empty() {
                String::new()
            } else {
                let args: Vec<String> =
                    field.required.iter().map(|a| format!("{a}: \"1\"")).collect();
                format!("({})", args.join(", "))
            };
            let key = match self.style {
                Style::Aliased => format!("alias_{}: {}", field.name, field.name),
                _ => field.name.clone(),
            };
            if self.sdl.is_interface(&field.base) {
                // Walked through each implementation in its own test.
                continue;
            } else if !self.sdl.is_object(&field.base) {
                parts.push(format!("{key}{args}"));
            } else if self.site.get(&field.base)
                == Some(&(type_name.to_owned(), field.name.clone()))
            {
                let inner = self.selection(&field.base);
                parts.push(format!("{key}{args} {{ {inner} }}"));
            } else {
                parts.push(format!("{key}{args} {{ __typename }}"));
            }
        }
        let fields = parts.join(" ");
        match self.style {
            Style::Direct | Style::Aliased => fields,
            Style::InlineFragments => format!("... on {type_name} {{ {fields} }}"),
            Style::NamedFragments => {
                self.fragments
                    .push(format!("fragment All{type_name} on {type_name} {{ {fields} }}"));
                format!("...All{type_name}")
            }
        }
    }

    /// Assigns each object type to its shallowest occurrence, breadth first from `Query`, so
    /// that it is reached through the shortest path (the likeliest to hold data).
    fn sites(sdl: &Sdl) -> HashMap<String, (String, String)> {
        let mut site = HashMap::new();
        let mut seen = HashSet::from(["Query".to_owned()]);
        let mut queue = VecDeque::from(["Query".to_owned()]);
        while let Some(type_name) = queue.pop_front() {
            for field in sdl.objects.get(&type_name).into_iter().flatten() {
                if sdl.is_object(&field.base) && seen.insert(field.base.clone()) {
                    site.insert(field.base.clone(), (type_name.clone(), field.name.clone()));
                    queue.push_back(field.base.clone());
                }
            }
        }
        site
    }

    fn query(sdl: &Sdl, style: Style) -> String {
        let mut walk = Walk { sdl, style, site: Self::sites(sdl), fragments: Vec::new() };
        let root = walk.selection("Query");
        format!("query Walk {{ {root} }} {}", walk.fragments.join(" "))
    }
}

/// The `Type.field` pairs the errors of a reply say were refused.
fn refused(reply: &Reply) -> anyhow::Result<BTreeSet<String>> {
    let mut refused = BTreeSet::new();
    for error in reply.errors() {
        anyhow::ensure!(
            error["extensions"]["code"] == "FORBIDDEN",
            "an error other than FORBIDDEN: {error}"
        );
        let message = error["message"].as_str().unwrap_or_default();
        if let Some(field) = message.split('`').nth(1) {
            refused.insert(field.to_owned());
        }
    }
    Ok(refused)
}

/// Fails if any value other than `__typename` made it into the data.
fn no_value_leaked(value: &Value, path: &str) -> anyhow::Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| no_value_leaked(v, &format!("{path}.{i}"))),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| key.as_str() != "__typename")
            .try_for_each(|(key, v)| no_value_leaked(v, &format!("{path}.{key}"))),
        leaked => anyhow::bail!("{path} leaked {leaked}"),
    }
}

#[tokio::test]
async fn with_every_leaf_refused_every_field_of_every_type_is_null_and_forbidden()
-> anyhow::Result<()> {
    let sdl = Sdl::load()?;
    let server = TestServer::with_fixture("deny-leaves").await?;
    for style in [Style::Direct, Style::Aliased, Style::InlineFragments, Style::NamedFragments] {
        let query = Walk::query(&sdl, style);
        let reply = server.query("olivia.owner@acme.test", &query).await?;
        if std::env::var_os("FIELDGUARD_TEST_SHOW_WALK").is_some() {
            eprintln!("{query}\n{}", serde_json::to_string_pretty(&reply.body)?);
        }
        ensure(reply.status == 200, &format!("{style:?}: the walk runs"), &reply)?;
        no_value_leaked(&reply.body["data"], "data")?;
        let refused = refused(&reply)?;
        let mut missing = Vec::new();
        // What only mutations and subscriptions return is walked by `management` and `events`.
        let readable = sdl.reachable_from("Query");
        for (type_name, fields) in sdl.objects.iter().filter(|(name, _)| readable.contains(*name)) {
            for field in
                fields.iter().filter(|f| !sdl.is_object(&f.base) && !sdl.is_interface(&f.base))
            {
                let pair = format!("{type_name}.{}", field.name);
                if !refused.contains(&pair) {
                    missing.push(pair);
                }
            }
        }
        anyhow::ensure!(
            missing.is_empty(),
            "{style:?}: these fields were neither refused nor reached (is the fixture's NAVIGATION list complete, and is there demo data to reach them?): {missing:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn with_everything_denied_every_entry_point_is_null_and_forbidden() -> anyhow::Result<()> {
    let sdl = Sdl::load()?;
    let server = TestServer::with_fixture("deny-all").await?;
    let roots = sdl.objects.get("Query").cloned().unwrap_or_default();
    anyhow::ensure!(!roots.is_empty(), "no Query type in schema.graphql");
    for field in &roots {
        let args = if field.required.is_empty() { String::new() } else { "(id: \"1\")".to_owned() };
        let select = if sdl.is_object(&field.base) || sdl.is_interface(&field.base) {
            " { __typename }"
        } else {
            ""
        };
        let name = &field.name;
        for (query, path) in [
            (format!("{{ {name}{args}{select} }}"), name.clone()),
            (format!("{{ renamed: {name}{args}{select} }}"), "renamed".to_owned()),
            (format!("{{ ... on Query {{ {name}{args}{select} }} }}"), name.clone()),
            (
                format!("query {{ ...Roots }} fragment Roots on Query {{ {name}{args}{select} }}"),
                name.clone(),
            ),
        ] {
            let reply = server.query("olivia.owner@acme.test", &query).await?;
            ensure(reply.body["data"][&path].is_null(), &format!("{query}: null"), &reply)?;
            ensure(
                reply.error_code_at(&path).as_deref() == Some("FORBIDDEN"),
                &format!("{query}: FORBIDDEN"),
                &reply,
            )?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn through_every_interface_each_field_is_refused_as_on_the_type_itself() -> anyhow::Result<()>
{
    let sdl = Sdl::load()?;
    let node = sdl.interfaces.get("Node").cloned().unwrap_or_default();
    anyhow::ensure!(
        node.len() >= 10,
        "expected the Node interface on every object with an id: {node:?}"
    );
    let server = TestServer::with_fixture("deny-leaves").await?;
    for type_name in node {
        let id = format!("{type_name}:1");
        let query = format!(
            r#"{{ direct: node(id: "{id}") {{ __typename id }}
                 viaInterface: node(id: "{id}") {{ ... on Node {{ id }} }}
                 viaFragment: node(id: "{id}") {{ ...Identified }} }}
               fragment Identified on Node {{ renamed: id }}"#
        );
        let reply = server.query("olivia.owner@acme.test", &query).await?;
        for (path, key) in [("direct", "id"), ("viaInterface", "id"), ("viaFragment", "renamed")] {
            let what = format!("{type_name} through {path}");
            ensure(
                reply.data(&[path, "__typename"]).is_string() || path != "direct",
                &format!("{what}: exists"),
                &reply,
            )?;
            ensure(reply.data(&[path, key]).is_null(), &format!("{what}: null"), &reply)?;
            let code = reply.error_code_at(&format!("{path}.{key}"));
            ensure(code.as_deref() == Some("FORBIDDEN"), &format!("{what}: FORBIDDEN"), &reply)?;
        }
    }
    Ok(())
}
